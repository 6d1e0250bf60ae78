package pmix

import (
	"context"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var initTime = regexp.MustCompile(`inittime size=4 init_ms=([0-9.]+) total_ms=([0-9.]+)`)

// BenchmarkLaunchHello runs a 4-rank MPICH program that times itself
// (testdata/inittime.c) per iteration: behind proxies with the PMIx
// upstream under srun --mpi=pmix and mpirun, and natively under srun
// --mpi=pmi2 for comparison. It reports the slowest rank's MPI_Init
// (init-ms) and rank 0's MPI_Init-to-MPI_Finalize (init-finalize-ms);
// ns/op is the whole launch.
func BenchmarkLaunchHello(b *testing.B) {
	cases := []struct {
		name  string
		l     launcher
		proxy bool
	}{
		{"srun-pmix-proxy", launchers[0], true},
		{"mpirun-proxy", launchers[1], true},
		{"srun-pmi2-native", launcher{"srun", "", func(n int, _ []string) []string {
			return []string{"srun", "--mpi=pmi2", "-n", strconv.Itoa(n)}
		}}, false},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			c.l.need(b)
			prog := buildMPI(b, "mpicc.mpich", "testdata/inittime.c")
			var initMs, totalMs float64
			for i := 0; i < b.N; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				out, err := runOnce(ctx, b, c.l, c.proxy, prog)
				cancel()
				m := initTime.FindStringSubmatch(out)
				if err != nil || m == nil {
					b.Fatalf("%v\n%s", err, out)
				}
				in, _ := strconv.ParseFloat(m[1], 64)
				tot, _ := strconv.ParseFloat(m[2], 64)
				initMs, totalMs = initMs+in, totalMs+tot
			}
			b.ReportMetric(initMs/float64(b.N), "init-ms")
			b.ReportMetric(totalMs/float64(b.N), "init-finalize-ms")
		})
	}
}

func runOnce(ctx context.Context, b *testing.B, l launcher, proxied bool, prog string) (string, error) {
	if proxied {
		return l.launch(ctx, b, 4, "proxy", nil, prog)
	}
	argv := append(l.argv(4, nil), prog)
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}
