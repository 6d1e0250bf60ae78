package profile

import (
	"errors"
	"strings"
	"testing"

	"github.com/mpiwrap/mpiwrap/internal/errlist"
)

// Every missing required item is reported at once, on one line, and each
// stays an error of its own for errors.As.
func TestResolutionErrListsEveryMissingItem(t *testing.T) {
	r := &Resolution{Missing: []Missing{
		{Profile: "verbs", Kind: "library", Name: "libibverbs.so.1", Reason: "not found", Required: true, Pos: "verbs.toml:3"},
		{Profile: "verbs", Kind: "device", Name: "/dev/infiniband/*", Reason: "no match", Required: false},
		{Profile: "ucx", Kind: "library", Name: "libucp.so.0", Reason: "not found", Required: true},
	}}
	err := r.Err()
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.Contains(msg, "libibverbs.so.1: not found (verbs.toml:3); profile ucx: library libucp.so.0") ||
		strings.Contains(msg, "/dev/infiniband") {
		t.Fatalf("message %q", msg)
	}
	var l errlist.List
	if !errors.As(err, &l) || len(l) != 2 {
		t.Fatalf("errors.As found %v", l)
	}
}
