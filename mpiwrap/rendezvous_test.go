package mpiwrap

import (
	"slices"
	"testing"

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
	b, err := readMessage(fds[1])
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
