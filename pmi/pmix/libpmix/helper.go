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
// are the libraries to try (pmix.DefaultLibraries when empty), after
// pmix.ServerFlag for a node's server (ServerMain). Failures go to the
// proxy, which reports them; stderr gets only those that cannot reach
// it. It returns the exit status.
func Main(args []string, stderr io.Writer) int {
	server := len(args) > 0 && args[0] == pmix.ServerFlag
	if server {
		args = args[1:]
	}
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
	if server {
		return serverMain(conn, libs, stderr)
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

// serverMain is Main for a node's PMIx server (pmix.ServeServer).
func serverMain(conn net.Conn, libs []string, stderr io.Writer) int {
	s, err := OpenServer(libs)
	if err != nil {
		if serr := pmix.SendFailure(conn, err); serr != nil {
			fmt.Fprintf(stderr, "%s: %v\n", pmix.HelperName, err)
		}
		return 1
	}
	if err := pmix.ServeServer(context.Background(), conn, s); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", pmix.HelperName, err)
		return 1
	}
	return 0
}
