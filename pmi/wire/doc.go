// Package wire encodes and decodes the PMI-1 and PMI-2 wire protocols.
//
// PMI-1 ("simple") is a line protocol: "cmd=put kvsname=k key=a value=b\n".
// Tokens are split on spaces, so values cannot hold spaces. Writers put
// value= last, because Flux reads value= as the rest of the line. A spawn
// request is a multi-line block "mcmd=spawn\nk=v\n...endcmd\n", repeated until
// spawnssofar equals totspawns.
//
// PMI-2 frames each message as a 6-character decimal payload length, padded
// with spaces on either side, then "cmd=x;k=v;". A ';' inside a value is
// written ";;" (old MPICH and Slurm libpmi2 do this); every pair ends in ';'.
// A PMI-2 session still starts with a PMI-1 framed
// "cmd=init pmi_version=2 pmi_subversion=0\n".
//
// Reader detects the framing of every message from its first bytes (as hydra
// does): "cmd=" or "mcmd=" means PMI-1, a digit or space means a PMI-2 length.
// Malformed input yields a *FormatError; Fatal reports whether the stream
// lost its framing and must be closed after the error reply.
//
// The limits follow hydra and Slurm: kvsname 256, key 64, value 1024 bytes.
// PMI-1 requests are at most 1024 bytes, because Slurm's server takes one
// read() of 1024 bytes per request; PMI-2 messages at most 64 KiB.
package wire
