// Package server is a PMI-1/PMI-2 server: it answers one rank's requests
// on one connection from a Backend, and provides an in-process fake
// launcher built on it.
//
// Serve reads messages with wire.Reader, so PMI-1 and PMI-2 may mix on one
// connection and the framing is chosen per message, as hydra does. Each
// connection has two goroutines: a reader, which sees EOF and abort at once
// even while a request is blocked (a fence waiting for other ranks), and a
// handler that answers requests in order. Replies follow the most
// compatible forms: rc=0 right after cmd=, value= last, every PMI-2 pair
// terminated by ';', thrid echoed, fullinit-response with both the old
// and the new fields.
//
// Job is the fake launcher's shared state: a KVS whose puts become visible
// at the next fence (as in hydra and Slurm), a barrier, job attributes
// (PMI_process_mapping in (vector,(node,nnodes,ppn)) form, universeSize),
// PMI-2 node attributes and a name service. Launcher serves a Job to N
// ranks over socketpairs (PMI_FD) or loopback TCP (PMI_PORT with initack).
package server
