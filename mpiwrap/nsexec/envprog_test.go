package nsexec_test

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/mpiwrap/mpiwrap/hostlib/profile"
	"github.com/mpiwrap/mpiwrap/mpiwrap/nsexec"
	"github.com/mpiwrap/mpiwrap/mpiwrap/plan"
	"github.com/mpiwrap/mpiwrap/netinject"
)

func steps(prog []plan.EnvStep) [][4]string {
	out := make([][4]string, len(prog))
	for i, s := range prog {
		out[i] = [4]string{string(s.Kind), s.Name, s.Value, s.Sep}
	}
	return out
}

// agree checks that the C interpreter of the environment program, which
// replays cached plans, makes the environment Go made.
func agree(t *testing.T, host []string, spec *plan.Spec, edits []profile.EnvEdit, hints []netinject.Hint) {
	t.Helper()
	e, err := plan.RankEnv(host, spec, edits, hints)
	if err != nil {
		t.Fatal(err)
	}
	if got := nsexec.RunEnvProgramC(host, steps(e.Program)); !slices.Equal(got, e.Vars) {
		t.Fatalf("host %q\nprogram %+v\nGo %q\nC  %q", host, e.Program, e.Vars, got)
	}
}

func TestEnvProgramGoAndCAgree(t *testing.T) {
	envFile := filepath.Join(t.TempDir(), "env")
	os.WriteFile(envFile, []byte("FROMFILE='a b'\nPATH=/file/bin\n"), 0o644)
	host := []string{"PATH=/bin", "LD_LIBRARY_PATH=/host/lib", "LD_PRELOAD=x.so", "_MPIWRAP_STAGE=apply",
		"DUP=first", "EMPTY=", "DUP=second", "DROP_A=1", "DROP_B=2", "PMIX_NAMESPACE=ns",
		"PMIX_GDS_MODULE=ds21,ds12,hash", "PMIX_PTL_MODULE=usock", "PMI_FD=5", "UCX_NET_DEVICES=mine", "noequals"}
	edits := []profile.EnvEdit{
		{Op: profile.EnvPrepend, Name: "PATH", Value: "/inj/bin", Separator: ":"},
		{Op: profile.EnvPrepend, Name: "EMPTY", Value: "/e", Separator: ":"},
		{Op: profile.EnvAppend, Name: "NEWLIST", Value: "x", Separator: ","},
		{Op: profile.EnvAppend, Name: "DUP", Value: "third", Separator: ";"},
		{Op: profile.EnvDefault, Name: "DUP", Value: "no"},
		{Op: profile.EnvDefault, Name: "FRESH", Value: "yes"},
		{Op: profile.EnvSet, Name: "DUP", Value: "set-last"},
		{Op: profile.EnvUnset, Name: "EMPTY"},
	}
	user := []plan.EnvEdit{{Op: "set", Name: "DUP", Value: "user"}, {Op: "unset", Name: "DROP_*"},
		{Op: "file", Name: envFile}, {Op: "set", Name: "Z", Value: "a=b"}}
	hints := []netinject.Hint{{Name: "UCX_NET_DEVICES", Value: "eth0"}, {Name: "FI_TCP_IFACE", Value: "eth0"}}
	for _, spec := range []plan.Spec{
		{}, {KeepLDEnv: true}, {PMI: plan.PMIOff}, {PMI: plan.PMIPassthrough, EnvEdits: user},
		{EnvEdits: user, KeepLDEnv: true}, {PMI: plan.PMIProxy},
	} {
		agree(t, host, &spec, edits, hints)
		agree(t, host, &spec, nil, nil)
	}
}

// Random environments and programs over a few names, so that duplicates,
// empty values and every step kind meet.
func TestEnvProgramGoAndCAgreeRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	names := []string{"A", "B", "PATH", "LD_PRELOAD", "PMIX_GDS_MODULE", "PMIX_MCA_gds", "C_1"}
	ops := []profile.EnvOp{profile.EnvSet, profile.EnvPrepend, profile.EnvAppend, profile.EnvUnset, profile.EnvDefault}
	for i := 0; i < 2000; i++ {
		var host []string
		for j := r.IntN(6); j > 0; j-- {
			host = append(host, names[r.IntN(len(names))]+"="+[]string{"", "v", "x:y"}[r.IntN(3)])
		}
		var edits []profile.EnvEdit
		for j := r.IntN(5); j > 0; j-- {
			edits = append(edits, profile.EnvEdit{Op: ops[r.IntN(len(ops))], Name: names[r.IntN(len(names))],
				Value: "e" + strconv.Itoa(j), Separator: ":"})
		}
		var user []plan.EnvEdit
		for j := r.IntN(3); j > 0; j-- {
			if r.IntN(2) == 0 {
				user = append(user, plan.EnvEdit{Op: "set", Name: names[r.IntN(len(names))], Value: "u"})
			} else {
				user = append(user, plan.EnvEdit{Op: "unset", Name: []string{"*", "P*", "A", "C_?"}[r.IntN(4)]})
			}
		}
		spec := &plan.Spec{EnvEdits: user, KeepLDEnv: r.IntN(2) == 0, PMI: []plan.PMIMode{plan.PMIAuto, plan.PMIOff}[r.IntN(2)]}
		agree(t, host, spec, edits, []netinject.Hint{{Name: names[r.IntN(len(names))], Value: "h"}})
	}
}
