//go:build cgo

package libpmix

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mpiwrap/mpiwrap/internal/testreq"
	"github.com/mpiwrap/mpiwrap/pmi/pmix"
)

// pmixCflags returns the compiler flags for libpmix-dev's headers.
func pmixCflags(t *testing.T) []string {
	_, err := exec.LookPath("cc")
	testreq.Require(t, err == nil, "no C compiler (cc)")
	if out, err := exec.Command("pkg-config", "--cflags", "pmix").Output(); err == nil {
		return strings.Fields(string(out))
	}
	_, err = os.Stat("/usr/include/pmix.h")
	testreq.Require(t, err == nil, "libpmix-dev is not installed (no pkg-config pmix, no /usr/include/pmix.h)")
	return nil
}

// compile builds testdata/src against the real headers.
func compile(t *testing.T, src string, extra ...string) (string, []byte, error) {
	bin := filepath.Join(t.TempDir(), strings.TrimSuffix(src, ".c"))
	args := append([]string{"-Wall", "-Werror", "-o", bin, filepath.Join("testdata", src)}, pmixCflags(t)...)
	out, err := exec.Command("cc", append(args, extra...)...).CombinedOutput()
	return bin, out, err
}

// TestABI compares every size, offset and constant of abi.h with
// pmix.h's, and the attribute keys of package pmix with the header's.
func TestABI(t *testing.T) {
	bin, out, err := compile(t, "abiprobe.c")
	if err != nil {
		t.Fatalf("compile abiprobe.c against pmix.h: %v\n%s", err, out)
	}
	out, err = exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{
		"PMIX_JOB_SIZE": pmix.KeyJobSize, "PMIX_UNIV_SIZE": pmix.KeyUnivSize, "PMIX_APPNUM": pmix.KeyAppNum,
		"PMIX_NODEID": pmix.KeyNodeID, "PMIX_HOSTNAME": pmix.KeyHostname, "PMIX_LOCAL_PEERS": pmix.KeyLocalPeers,
		"PMIX_LOCAL_RANK": pmix.KeyLocalRank, "PMIX_NODE_RANK": pmix.KeyNodeRank, "PMIX_GLOBAL_RANK": pmix.KeyGlobalRank,
		"PMIX_APP_RANK": pmix.KeyAppRank, "PMIX_LOCALLDR": pmix.KeyLocalLdr, "PMIX_LOCAL_SIZE": pmix.KeyLocalSize,
		"PMIX_MAX_PROCS": pmix.KeyMaxProcs, "PMIX_NUM_NODES": pmix.KeyNumNodes, "PMIX_JOB_NUM_APPS": pmix.KeyNumApps,
		"PMIX_APP_SIZE": pmix.KeyAppSize, "PMIX_TMPDIR": pmix.KeyTmpdir, "PMIX_NSDIR": pmix.KeyNsdir,
		"PMIX_PROCDIR": pmix.KeyProcdir, "PMIX_TDIR_RMCLEAN": pmix.KeyRmClean, "PMIX_NODE_MAP": pmix.KeyNodeMap,
		"PMIX_PROC_MAP": pmix.KeyProcMap, "PMIX_JOBID": pmix.KeyJobID, "PMIX_SPAWNED": pmix.KeySpawned,
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && f[0] == "key":
			if keys[f[1]] != f[2] {
				t.Errorf("%s is %q in pmix.h, %q in package pmix", f[1], f[2], keys[f[1]])
			}
			delete(keys, f[1])
		case len(f) == 4:
			if f[2] != f[3] {
				t.Errorf("%s %s: abi.h says %s, pmix.h says %s", f[0], f[1], f[2], f[3])
			}
			checked++
		default:
			t.Errorf("abiprobe printed %q", line)
		}
	}
	if checked < 70 || len(keys) != 0 {
		t.Errorf("checked %d facts; keys not printed: %v", checked, keys)
	}
}

// TestABISignatures compiles abi.h's entry point types against pmix.h's
// prototypes; any difference is a compile error.
func TestABISignatures(t *testing.T) {
	if _, out, err := compile(t, "sigprobe.c", "-c"); err != nil {
		t.Fatalf("abi.h's prototypes differ from pmix.h's: %v\n%s", err, out)
	}
}

func TestVersionMajor(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"OpenPMIx 4.2.2rc2 (PMIx Standard: 4.2, Stable ABI: 0.0, Provisional ABI: 0.0)", 4},
		{"OpenPMIx 5.0.1 (PMIx Standard: 5.0)", 5},
		{"PMIx v3.2.3", 0},
		{"PMIx 3.2.3", 3},
		{"", 0},
		{"no numbers here.", 0},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := versionMajor(tt.in); got != tt.want {
				t.Fatalf("versionMajor(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

// TestOpenMissing: a library that is not there is named in the error.
func TestOpenMissing(t *testing.T) {
	_, err := open([]string{"libpmix-not-here.so.9", "/nonexistent/libpmix.so"})
	if err == nil || !strings.Contains(err.Error(), "libpmix-not-here.so.9") || !strings.Contains(err.Error(), "/nonexistent/libpmix.so") {
		t.Fatalf("open = %v", err)
	}
	if _, err := open(nil); err == nil {
		t.Fatal("open(nil) succeeded")
	}
}

// TestOpenNotPMIx: a library without the PMIx entry points is refused.
func TestOpenNotPMIx(t *testing.T) {
	_, err := open([]string{"libc.so.6"})
	if err == nil || !strings.Contains(err.Error(), "has no symbol PMIx_Init") {
		t.Fatalf("open(libc.so.6) = %v", err)
	}
}
