// Command mpiwrap-pmix is mpiwrap's PMIx helper. mpiwrap starts one per
// rank when the launcher speaks PMIx and the rank's MPI does not; the
// helper loads the host's libpmix at run time, becomes that rank's PMIx
// client and answers mpiwrap's proxy over the socket on fd 3 (package
// pmi/pmix). With --server it is instead its node's PMIx server, one per
// node, started by the node's keeper when the launcher speaks only
// PMI-1/2 and the ranks' MPI only PMIx (pmix.Node).
//
// Synopsis:
//
//	mpiwrap-pmix [--server] [LIBRARY...]
//
// LIBRARY names the libpmix to dlopen, first that loads wins (default
// libpmix.so.2, then libpmix.so). It must be linked dynamically:
//
//	CGO_ENABLED=1 go build -o bin/mpiwrap-pmix ./cmd/mpiwrap-pmix
package main

import (
	"os"

	"github.com/mpiwrap/mpiwrap/pmi/pmix/libpmix"
)

func main() {
	os.Exit(libpmix.Main(os.Args[1:], os.Stderr))
}
