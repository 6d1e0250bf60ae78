package mpiwrap

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestRequestReplyRoundTrip(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	argv, env := []string{"mpiwrap", "/img", "cmd", ""}, []string{"A=1", "B="}
	go writeAll(fds[0], encodeRequest("/cwd", "go", argv, env))
	b, _, err := readRequest(fds[1], make([]byte, 64), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	req, err := decodeRequest(b)
	if err != nil || req.cwd != "/cwd" || req.client != "go" || !slices.Equal(req.argv, argv) || !slices.Equal(req.env, env) {
		t.Fatalf("decoded %+v, %v", req, err)
	}
	if _, err := decodeRequest(b[:len(b)-1]); err == nil {
		t.Fatal("truncated request decoded")
	}
	pipe, _ := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	go sendReply(fds[1], repOK, []byte("payload"), []int{pipe[0], pipe[1]})
	status, payload, got, err := readReply(fds[0])
	if err != nil || status != repOK || string(payload) != "payload" || len(got) != 2 {
		t.Fatalf("reply %d %q %v %v", status, payload, got, err)
	}
}

// TestReadRequest: a request read whole by one recvmsg, in pieces (waiting
// for the rest), larger than the buffer, with its descriptors; and refused
// when a second message follows it on the connection or its rest never
// comes.
func TestReadRequest(t *testing.T) {
	big := []string{"X=" + strings.Repeat("x", 20000)}
	req := encodeRequest("/cwd", "c", []string{"mpiwrap", "/img", "true"}, []string{"A=1"})
	cases := []struct {
		name   string
		pieces [][]byte
		fds    bool
		want   []byte
		err    string
	}{
		{"whole", [][]byte{req}, true, req[4:], ""},
		{"in pieces", [][]byte{req[:2], req[2:9], req[9:]}, false, req[4:], ""},
		{"larger than the buffer", [][]byte{encodeRequest("/", "c", nil, big)}, true, encodeRequest("/", "c", nil, big)[4:], ""},
		{"two messages", [][]byte{append(slices.Clone(req), req...)}, false, nil, "more than one request"},
		{"rest never comes", [][]byte{req[:10]}, false, nil, "resource temporarily unavailable"},
		{"nothing", nil, false, nil, "unexpected EOF"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(sp[1])
			pipe := make([]int, 2)
			if err := unix.Pipe2(pipe, unix.O_CLOEXEC); err != nil {
				t.Fatal(err)
			}
			defer unix.Close(pipe[0])
			defer unix.Close(pipe[1])
			go func() {
				for i, p := range c.pieces {
					if i > 0 {
						time.Sleep(20 * time.Millisecond)
					}
					var oob []byte
					if i == 0 && c.fds {
						oob = unix.UnixRights(pipe[0], pipe[1])
					}
					unix.Sendmsg(sp[0], p, oob, nil, 0)
				}
				if c.name == "rest never comes" {
					time.Sleep(time.Second)
				}
				unix.Close(sp[0])
			}()
			b, fds, err := readRequest(sp[1], make([]byte, 8<<10), 200*time.Millisecond)
			for _, fd := range fds {
				unix.Close(fd)
			}
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("got %v, want an error with %q", err, c.err)
				}
				return
			}
			if err != nil || !bytes.Equal(b, c.want) {
				t.Fatalf("got %d bytes, %v", len(b), err)
			}
			if c.fds != (len(fds) == 2) {
				t.Fatalf("descriptors %v, sent: %v", fds, c.fds)
			}
		})
	}
}
