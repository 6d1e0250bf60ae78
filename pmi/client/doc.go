// Package client implements PMI-1 and PMI-2 clients.
//
// Both speak lock-step: one request, one response, in a single write (Slurm
// reads each PMI-1 request with one read() of at most 1024 bytes, so a
// PMI-1 request longer than that is refused, never split). A reader
// goroutine per connection takes responses off the wire, which lets every
// call honour its context and lets Done report at once when the server
// closes the connection, even while no request is outstanding.
//
// Responses are read liberally: rc may be missing (success) or anywhere,
// value= anywhere, thrid may be echoed, PMI-2 lengths may be padded on
// either side, and PMI-2 replies may come PMI-1 framed. A missing key is
// reported as not found whatever the server's form: hydra's
// "rc=-1 msg=key_x_not_found value=unknown", Slurm's "rc=1", Flux's "rc=4",
// or PMI-2's found=FALSE.
//
// PMI1 and PMI2 satisfy proxy.Upstream.
package client
