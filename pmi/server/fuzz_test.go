package server_test

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/pmitest"
	"github.com/mpiwrap/mpiwrap/pmi/server"
)

// FuzzServe feeds arbitrary bytes to a session as one rank: Serve must
// neither panic nor hang, and must end once the rank closes.
func FuzzServe(f *testing.F) {
	for _, s := range []string{
		"cmd=init pmi_version=1 pmi_subversion=1\ncmd=get_maxes\ncmd=barrier_in\ncmd=finalize\n",
		"cmd=init pmi_version=2 pmi_subversion=0\n    38cmd=fullinit;pmirank=0;threaded=FALSE;",
		"    39cmd=info-getnodeattr;key=n;wait=TRUE;",
		"mcmd=spawn\nnprocs=1\nendcmd\n", "999999", "cmd=abort exitcode=3\n",
		"cmd=initack pmiid=0\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		c, done := pmitest.ServeOne(ctx, t, server.JobConfig{Size: 1})
		go func() {
			c.Write(data)
			c.(*net.UnixConn).CloseWrite()
		}()
		go io.Copy(io.Discard, c)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("Serve still running 5s after the rank closed, input %q", data)
		}
	})
}
