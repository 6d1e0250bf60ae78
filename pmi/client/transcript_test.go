package client_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/client"
	"github.com/mpiwrap/mpiwrap/pmi/server"
)

// step is one exchange of a recorded server transcript: the exact request
// expected, read with ONE read() of at most 1024 bytes as Slurm does, and
// the bytes sent back. An empty resp closes the connection instead; hang
// keeps it open and silent.
type step struct{ req, resp string }

const hang = "<hang>"

// v2 frames a PMI-2 payload; left selects Slurm-style left justification.
func v2(payload string, left bool) string {
	if left {
		return fmt.Sprintf("%-6d%s", len(payload), payload)
	}
	return fmt.Sprintf("%6d%s", len(payload), payload)
}

// scripted serves steps on a socketpair and returns the client's end and
// a channel with the first mismatch (nil when the script ran through).
func scripted(t *testing.T, steps []step) (net.Conn, <-chan error) {
	t.Helper()
	srv, f, err := server.Socketpair("script")
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		defer srv.Close()
		buf := make([]byte, 1024)
		for i, s := range steps {
			if s.req != "" {
				srv.SetReadDeadline(time.Now().Add(10 * time.Second))
				n, err := srv.Read(buf)
				if err != nil || string(buf[:n]) != s.req {
					done <- fmt.Errorf("step %d: read %q (%v), want %q", i, buf[:n], err, s.req)
					return
				}
			}
			if s.resp == hang {
				srv.SetReadDeadline(time.Now().Add(10 * time.Second))
				srv.Read(buf) // until the client closes
			}
			if s.resp == "" || s.resp == hang {
				break
			}
			if _, err := srv.Write([]byte(s.resp)); err != nil {
				done <- fmt.Errorf("step %d: write: %v", i, err)
				return
			}
		}
		done <- nil
	}()
	t.Cleanup(func() { c.Close() })
	return c, done
}

// pmi1Init is the hydra 4.0 start of a PMI-1 session: no rc in maxes,
// kvsname and appnum replies, rc last in response_to_init.
var pmi1Init = []step{
	{"cmd=init pmi_version=1 pmi_subversion=1\n", "cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=0\n"},
	{"cmd=get_maxes\n", "cmd=maxes kvsname_max=256 keylen_max=64 vallen_max=1024\n"},
	{"cmd=get_my_kvsname\n", "cmd=my_kvsname kvsname=kvs_4242_0\n"},
	{"cmd=get_appnum\n", "cmd=appnum appnum=0\n"},
}

func TestPMI1Transcripts(t *testing.T) {
	get := "cmd=get kvsname=kvs_4242_0 key=k\n"
	tests := []struct {
		name      string
		steps     []step
		wantVal   string
		wantFound bool
	}{
		{"hydra 4.0 missing key", []step{{get, "cmd=get_result rc=-1 msg=key_k_not_found value=unknown\n"}}, "", false},
		{"slurm missing key", []step{{get, "cmd=get_result rc=1\n"}}, "", false},
		{"flux missing key", []step{{get, "cmd=get_result rc=4 msg=key_not_found\n"}}, "", false},
		{"hydra 4.1 found after value", []step{{get, "cmd=get_result rc=0 value=abc found=TRUE\n"}}, "abc", true},
		{"hydra 4.1 found=FALSE", []step{{get, "cmd=get_result rc=0 found=FALSE value=x\n"}}, "", false},
		{"rc last", []step{{get, "cmd=get_result value=abc rc=0\n"}}, "abc", true},
		{"rc missing", []step{{get, "cmd=get_result value=abc\n"}}, "abc", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, done := scripted(t, append(append([]step{}, pmi1Init...), tt.steps...))
			p, err := client.NewPMI1(ctx, client.Config{Conn: c, Rank: 0, Size: 2})
			if err != nil {
				t.Fatal(err)
			}
			v, found, err := p.Get(ctx, pmi.AnyRank, "k")
			if err != nil || v != tt.wantVal || found != tt.wantFound {
				t.Fatalf("Get = %q, %v, %v; want %q, %v", v, found, err, tt.wantVal, tt.wantFound)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestPMI1Session replays a whole Slurm-style session (rc first, appnum
// -1, kvsname job.step) through every method.
func TestPMI1Session(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, done := scripted(t, []step{
		{"cmd=init pmi_version=1 pmi_subversion=1\n", "cmd=response_to_init rc=0 pmi_version=1 pmi_subversion=1\n"},
		{"cmd=get_maxes\n", "cmd=maxes rc=0 kvsname_max=64 keylen_max=64 vallen_max=1024\n"},
		{"cmd=get_my_kvsname\n", "cmd=my_kvsname rc=0 kvsname=42.0\n"},
		{"cmd=get_appnum\n", "cmd=appnum rc=0 appnum=-1\n"},
		{"cmd=put kvsname=42.0 key=a value=b\n", "cmd=put_result rc=0\n"},
		{"cmd=barrier_in\n", "cmd=barrier_out rc=0\n"},
		{"cmd=get_universe_size\n", "cmd=universe_size rc=0 size=4\n"},
		{"cmd=get kvsname=42.0 key=PMI_process_mapping\n", "cmd=get_result rc=0 value=(vector,(0,1,4))\n"},
		{"cmd=lookup_name service=svc\n", "cmd=lookup_result info=fail\n"},
		{"cmd=finalize\n", "cmd=finalize_ack rc=0\n"},
	})
	p, err := client.NewPMI1(ctx, client.Config{Conn: c, Rank: 1, Size: 4})
	if err != nil {
		t.Fatal(err)
	}
	if in := p.Info(); in.AppNum != -1 || in.KVSName != "42.0" || p.Maxes().KVSName != 64 {
		t.Fatalf("Info = %+v, maxes %+v", in, p.Maxes())
	}
	steps := []func() error{
		func() error { return p.Put(ctx, "a", "b") },
		func() error { return p.Fence(ctx) },
		func() error { return wantAttr(p.JobAttr(ctx, pmi.AttrUniverseSize))("4") },
		func() error { return wantAttr(p.JobAttr(ctx, pmi.AttrProcessMapping))("(vector,(0,1,4))") },
		func() error { return wantAttr(p.Lookup(ctx, "svc"))("") },
		func() error { return p.Finalize(ctx) },
	}
	for i, f := range steps {
		if err := f(); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// wantAttr checks a (value, found, err) result; want "" means not found.
func wantAttr(v string, found bool, err error) func(string) error {
	return func(want string) error {
		if err != nil || v != want || found != (want != "") {
			return fmt.Errorf("got %q found=%v err=%v, want %q", v, found, err, want)
		}
		return nil
	}
}

func TestPMI1Initack(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"one write, rc", []step{{"cmd=initack pmiid=3\n", "cmd=initack rc=0\ncmd=set size=4\ncmd=set rank=3\ncmd=set debug=0\n"}}},
		{"separate writes, no rc", []step{{"cmd=initack pmiid=3\n", "cmd=initack\n"}, {"", "cmd=set size=4\n"},
			{"", "cmd=set rank=3\n"}, {"", "cmd=set debug=1\n"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			accepted := make(chan net.Conn, 1)
			go func() {
				c, err := ln.Accept()
				if err == nil {
					accepted <- c
				}
			}()
			steps := append(append([]step{}, tt.steps...), pmi1Init...)
			go func() { // relay the TCP connection to a scripted socketpair
				c := <-accepted
				s, _ := scripted(t, steps)
				go copyClose(s, c)
				copyClose(c, s)
			}()
			p, err := client.NewPMI1(ctx, client.Config{Addr: ln.Addr().String(), ID: 3, Rank: -1, Size: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if in := p.Info(); in.Rank != 3 || in.Size != 4 || in.KVSName != "kvs_4242_0" {
				t.Fatalf("Info = %+v", in)
			}
		})
	}
}

func copyClose(dst, src net.Conn) {
	buf := make([]byte, 1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			dst.Write(buf[:n])
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}

func TestPMI1Refusals(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, done := scripted(t, append(append([]step{}, pmi1Init...),
		step{"cmd=barrier_in\n", "cmd=barrier_out rc=0\n"}))
	p, err := client.NewPMI1(ctx, client.Config{Conn: c, Rank: 0, Size: 1})
	if err != nil {
		t.Fatal(err)
	}
	// 1000 bytes fit vallen_max but not the 1024-byte request line.
	for _, tc := range []struct{ key, val string }{
		{"k", strings.Repeat("v", 1000)}, {"k", "a b"}, {"a=b", "v"}, {strings.Repeat("k", 65), "v"},
		{"k", strings.Repeat("v", 1025)},
	} {
		if err := p.Put(ctx, tc.key, tc.val); err == nil {
			t.Fatalf("Put(%.10q, %.10q) was sent", tc.key, tc.val)
		}
	}
	// Nothing was written: the next request is the first the server sees.
	if err := p.Fence(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestPMI1Failures(t *testing.T) {
	init1 := pmi1Init[0].req
	tests := []struct {
		name  string
		steps []step
	}{
		{"init rc", []step{{init1, "cmd=response_to_init rc=-1 pmi_version=1 pmi_subversion=1\n"}}},
		{"init version", []step{{init1, "cmd=response_to_init rc=0 pmi_version=2 pmi_subversion=0\n"}}},
		{"wrong response", []step{{init1, "cmd=barrier_out rc=0\n"}}},
		{"eof", []step{{init1, ""}}},
		{"garbage", []step{{init1, "     5hello"}}},
		{"bad rc", []step{{init1, "cmd=response_to_init rc=zero\n"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, _ := scripted(t, tt.steps)
			if _, err := client.NewPMI1(ctx, client.Config{Conn: c, Rank: 0, Size: 1}); err == nil {
				t.Fatal("NewPMI1 succeeded")
			}
		})
	}
}

// TestUpstreamClosed checks that Done fires when the server closes while
// no request is outstanding, and that a call then fails fast.
func TestUpstreamClosed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _ := scripted(t, append(append([]step{}, pmi1Init...), step{"", ""}))
	p, err := client.NewPMI1(ctx, client.Config{Conn: c, Rank: 0, Size: 1})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-ctx.Done():
		t.Fatal("Done did not fire after the server closed")
	}
	if !errors.Is(p.Err(), pmi.ErrClosed) {
		t.Fatalf("Err = %v, want ErrClosed", p.Err())
	}
	if err := p.Fence(ctx); err == nil {
		t.Fatal("Fence succeeded on a closed connection")
	}
}

// TestInterrupted checks that a call blocked on a silent server returns
// at its deadline and leaves the client refusing further calls.
func TestInterrupted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _ := scripted(t, append(append([]step{}, pmi1Init...), step{"cmd=barrier_in\n", hang}))
	p, err := client.NewPMI1(ctx, client.Config{Conn: c, Rank: 0, Size: 1})
	if err != nil {
		t.Fatal(err)
	}
	short, cancel2 := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel2()
	if err := p.Fence(short); err == nil {
		t.Fatal("Fence returned without a reply")
	}
	if _, _, err := p.Get(ctx, pmi.AnyRank, "k"); err == nil {
		t.Fatal("client accepted a call after an interrupted one")
	}
}
