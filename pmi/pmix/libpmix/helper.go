//go:build cgo

package libpmix

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/mpiwrap/mpiwrap/pmi/pmix"
)

// Main runs the helper process: the proxy's socket is pmix.HelperFD, args
// are the libraries to try (pmix.DefaultLibraries when empty). Failures
// go to the proxy, which reports them; stderr gets only those that cannot
// reach it. It returns the exit status.
func Main(args []string, stderr io.Writer) int {
	f := os.NewFile(pmix.HelperFD, "mpiwrap-pmix-socket")
	conn, err := net.FileConn(f)
	f.Close()
	if err != nil {
		fmt.Fprintf(stderr, "%s: fd %d is not a socket: %v; this helper is started by mpiwrap\n", pmix.HelperName, pmix.HelperFD, err)
		return 2
	}
	libs := args
	if len(libs) == 0 {
		libs = pmix.DefaultLibraries
	}
	c, err := Init(libs)
	if err != nil {
		if serr := pmix.SendFailure(conn, err); serr != nil {
			fmt.Fprintf(stderr, "%s: %v\n", pmix.HelperName, err)
		}
		return 1
	}
	if err := pmix.Serve(context.Background(), conn, c); err != nil {
		return 1
	}
	return 0
}
