package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

// --net=none: the command sees only loopback, as an unprivileged user too;
// an MPI job on one node still runs (its ranks meet in shared memory and
// reach hydra through PMI_FD); check and -v show the fabric and hints.
func TestNetNone(t *testing.T) {
	forEach(t, func(t *testing.T, a account) {
		r := must(t, mpiwrap(t, a, nil, "--net=none", tiny, "cat", "/proc/net/dev"))
		var ifaces []string
		for _, l := range strings.Split(r.stdout, "\n") {
			if name, _, ok := strings.Cut(l, ":"); ok && !strings.Contains(name, "|") {
				ifaces = append(ifaces, strings.TrimSpace(name))
			}
		}
		if len(ifaces) != 1 || ifaces[0] != "lo" {
			t.Fatalf("--net=none: interfaces %q, want only lo:\n%s", ifaces, r.stdout)
		}
	})
	testreq.Require(t, have("mpiexec.mpich"), "mpiexec.mpich")
	img := debian(t, "bookworm")
	forEach(t, func(t *testing.T, a account) {
		r := must(t, runAs(t, a, work, nil, 120*time.Second, "mpiexec.mpich", "-n", "4", bin, "--net=none", img,
			"/opt/mpiwrap-test/mpich/hello"))
		if !strings.Contains(r.stdout, "hello size=4 sum=6") {
			t.Fatalf("4 ranks with --net=none: %s", r)
		}
	})
}

// Under a launcher, -v lists the fabric choice and every hint with its
// reason, and a variable the user set is left as it is.
func TestFabricHintsVerbose(t *testing.T) {
	testreq.Require(t, have("mpiexec.mpich"), "mpiexec.mpich")
	a := accounts(t)[1]
	r := must(t, runAs(t, a, work, []string{"FI_TCP_IFACE=mine"}, 60*time.Second, "mpiexec.mpich", "-n", "1", bin, "-v", tiny,
		"sh", "-c", "echo UCX=$UCX_NET_DEVICES FI=$FI_TCP_IFACE"))
	for _, want := range []string{"fabric: tcp over ", "env: set UCX_NET_DEVICES=", "(fabric hint: UCX",
		"env: leave FI_TCP_IFACE=mine as it was set"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("-v lacks %q:\n%s", want, r.stderr)
		}
	}
	if !strings.Contains(r.stdout, "FI=mine") || strings.Contains(r.stdout, "UCX= ") {
		t.Errorf("the command saw %q", r.stdout)
	}
	off := must(t, runAs(t, a, work, nil, 60*time.Second, "mpiexec.mpich", "-n", "1", bin, "--fabric-hints=off", tiny,
		"sh", "-c", "echo UCX=$UCX_NET_DEVICES."))
	if !strings.Contains(off.stdout, "UCX=.") {
		t.Errorf("--fabric-hints=off still set UCX_NET_DEVICES: %q", off.stdout)
	}
}
