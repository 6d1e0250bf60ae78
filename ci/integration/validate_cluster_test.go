package integration

import (
	"bytes"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/ci/cluster"
	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

// shellJoin quotes argv into one --launcher string.
func shellJoin(argv []string) string {
	var out []string
	for _, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t'\"\\$`") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out = append(out, a)
	}
	return strings.Join(out, " ")
}

// TestValidateAcrossHosts runs mpiwrap validate across the two hosts of
// the test cluster (ci/cluster), one rank on each, as the test user:
// under hydra (every benchmark but bibw and allreduce, to stay short) and
// under srun --mpi=pmi2 (latency). mpiwrap, its helpers, the benchmark
// cache and the reports live in the cluster's shared directory, which
// every host sees. The report must place the ranks on h1 and h2 on both
// sides, and the bandwidth runs must cross the veths.
func TestValidateAcrossHosts(t *testing.T) {
	img := debian(t, "bookworm")
	a := accounts(t)[1]
	for _, c := range []string{"sudo", "nsenter", "mpiexec.mpich", "mpicc.mpich", "srun", "slurmd", "munge"} {
		testreq.Require(t, have(c), c+" (ci/deps.sh installs it)")
	}
	testreq.Slurm(t, "pmi2")
	c, err := cluster.Up(2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Down(); err != nil {
			t.Errorf("cluster down: %v", err)
		}
	})
	dir, err := os.MkdirTemp(c.SharedDir(), "validate-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, f := range []string{"mpiwrap", "mpiwrap-pmix", "mpiwrap-validate"} {
		if out, err := exec.Command("cp", filepath.Join(filepath.Dir(bin), f), dir).CombinedOutput(); err != nil {
			t.Fatalf("cp %s: %v\n%s", f, err, out)
		}
	}
	if err := exec.Command("chown", "-R", a.name+":", dir).Run(); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	wrap := filepath.Join(dir, "mpiwrap")

	for _, k := range []struct {
		name     string
		launcher []string
		bench    string
		reps     string
	}{
		{"hydra", c.Hydra(2, []string{"h1", "h2"}), "latency,bw,init,hello", "2"},
		{"srun-pmi2", c.Srun("pmi2", 2, 2), "latency", "1"},
	} {
		t.Run(k.name, func(t *testing.T) {
			rx0, _, err := c.VethBytes("h2")
			if err != nil {
				t.Fatal(err)
			}
			js, pngPath := filepath.Join(dir, k.name+".json"), filepath.Join(dir, k.name+".png")
			start := time.Now()
			r := runAs(t, a, dir, nil, 180*time.Second, wrap, "validate", "--launcher", shellJoin(k.launcher),
				"--bench", k.bench, "--reps", k.reps, "--sizes", "1:65536", "--iters", "100", "--finalize-grace", "5s",
				"--cache-dir", filepath.Join(dir, "cache"), "--json", js, "--plot", pngPath, "--progress", "lines", img)
			t.Logf("validate across h1, h2 under %s: exit %d in %v\n%s", k.name, r.code, time.Since(start).Round(time.Millisecond), r.stderr)
			if r.code != 0 && r.code != 1 {
				t.Fatalf("want PASS (0) or FAIL (1), got %s", r)
			}
			var rep validateReport
			readJSON(t, js, &rep)
			if rep.ExitCode != r.code {
				t.Fatalf("JSON says exit %d, validate exited %d", rep.ExitCode, r.code)
			}
			for side, ranks := range map[string][]struct {
				Rank       int
				Host, CPUs string
			}{"native": rep.Placement.Native, "container": rep.Placement.Container} {
				if len(ranks) != 2 || ranks[0].Host != "h1" || ranks[1].Host != "h2" {
					t.Errorf("%s placement %+v, want rank 0 on h1 and rank 1 on h2", side, ranks)
				}
			}
			if !strings.HasPrefix(rep.Placement.Summary, "2 ranks on 2 nodes (h1, h2)") {
				t.Errorf("placement summary %q", rep.Placement.Summary)
			}
			if !strings.HasPrefix(rep.Container.MPI.Summary, "MPICH 4.0") {
				t.Errorf("container MPI %+v", rep.Container.MPI)
			}
			for _, b := range rep.Benchmarks {
				if b.Error != nil || len(b.Figures) == 0 {
					t.Errorf("%s: error %+v, %d figures", b.Name, b.Error, len(b.Figures))
				}
			}
			if k.name == "hydra" {
				rx, _, err := c.VethBytes("h2")
				if err != nil {
					t.Fatal(err)
				}
				// bw sends 64 x 64 KiB windows, 100 times, on each of 6 runs.
				if rx-rx0 < 100<<20 {
					t.Errorf("h2 received %d bytes over its veth: the runs did not cross hosts", rx-rx0)
				}
				data, err := os.ReadFile(pngPath)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := png.DecodeConfig(bytes.NewReader(data)); err != nil {
					t.Errorf("%s: %v", pngPath, err)
				}
			}
		})
	}
	for _, h := range c.Hosts() {
		if left, err := c.Leftovers(h); err != nil || len(left) != 0 {
			t.Errorf("left on %s: %q (%v)", h, left, err)
		}
	}
}
