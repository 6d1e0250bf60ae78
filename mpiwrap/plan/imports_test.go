package plan

import (
	"os/exec"
	"strings"
	"testing"
)

// appliers are the packages that change state: the runtime, its C half, the
// node cache, and the PMI peers that talk to launchers.
var appliers = []string{
	"github.com/mpiwrap/mpiwrap/mpiwrap",
	"github.com/mpiwrap/mpiwrap/mpiwrap/nsexec",
	"github.com/mpiwrap/mpiwrap/mpiwrap/nodecache",
	"github.com/mpiwrap/mpiwrap/pmi/client",
	"github.com/mpiwrap/mpiwrap/pmi/server",
	"github.com/mpiwrap/mpiwrap/pmi/proxy",
	"github.com/mpiwrap/mpiwrap/pmi/pmix",
}

// Planning must stay pure: nothing it imports, directly or not, applies a
// plan or links C.
func TestPlanImportsNothingThatApplies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{len .CgoFiles}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, cgo, _ := strings.Cut(line, " ")
		deps[path] = true
		if cgo != "0" && strings.HasPrefix(path, "github.com/mpiwrap/") {
			t.Errorf("plan depends on %s, which links C", path)
		}
	}
	if !deps["github.com/mpiwrap/mpiwrap/mpiwrap/plan"] || !deps["github.com/mpiwrap/mpiwrap/hostlib/profile"] {
		t.Fatalf("go list did not list plan's dependencies:\n%s", out)
	}
	for _, a := range appliers {
		if deps[a] {
			t.Errorf("plan depends on %s, which applies", a)
		}
	}
}
