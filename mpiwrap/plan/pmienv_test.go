package plan

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestWithoutDs12(t *testing.T) {
	for in, want := range map[string]string{
		"ds21,ds12,hash": "ds21,hash", "ds12": "hash", "hash": "hash", "shmem3,hash": "shmem3,hash",
	} {
		if got := withoutDs12(in); got != want {
			t.Errorf("withoutDs12(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPlanPassthrough(t *testing.T) {
	spool := dirOutsideTmp(t)
	server := filepath.Join(spool, "pmix.7.0")
	os.Mkdir(server, 0o700)
	env := []string{"HOME=/nonexistent", "PMIX_SERVER_TMPDIR=" + server + "/", "PMIX_SYSTEM_TMPDIR=/tmp",
		"PMIX_DSTORE_21_BASE_PATH=" + server + "/pmix_dstor_ds21_1", "PMIX_GDS_MODULE=ds21,ds12,hash",
		"PMIX_SECURITY_MODE=munge,native", "PMIX_MCA_ptl=tcp", "PMIX_PTL_MODULE=usock"}
	h := testHost("/nonexistent", "/")
	h.Env = env
	p, err := New(&Spec{Image: testImage(t), Command: []string{"true"}, NoCwd: true}, h)
	if err != nil {
		t.Fatal(err)
	}
	var pmix []string
	for _, m := range p.Mounts {
		if m.Src == server {
			pmix = append(pmix, m.Dst)
		}
	}
	if !slices.Equal(pmix, []string{server}) {
		t.Errorf("PMIx binds %q, want only %s (/tmp is bound anyway, the data store is inside)", pmix, server)
	}
	for k, want := range map[string]string{"PMIX_MCA_gds": "ds21,hash", "PMIX_MCA_psec": "munge,native", "PMIX_MCA_ptl": "tcp"} {
		if v, _ := p.Env.Get(k); v != want {
			t.Errorf("%s = %q, want %q", k, v, want)
		}
	}
	off, _ := New(&Spec{Image: testImage(t), Command: []string{"true"}, NoCwd: true, PMI: "off"},
		&Host{Env: append(env, "PMI_FD=3", "KEEP=1"), Home: "/nonexistent", Cwd: "/"})
	if !slices.Equal(off.Env.Vars, []string{"HOME=/nonexistent", "KEEP=1"}) {
		t.Errorf("--pmi=off left %q", off.Env.Vars)
	}
}
