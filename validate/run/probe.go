package run

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/mpiwrap/mpiwrap/validate/report"
)

// placementScript prints where the rank runs, in POSIX sh alone (an image
// may lack sed and hostname): its rank from the launcher's variables, the
// host name and the CPUs it may run on.
const placementScript = `r=${PMI_RANK:-${OMPI_COMM_WORLD_RANK:-${PMIX_RANK:-${SLURM_PROCID:-?}}}}
h=?
read -r h </proc/sys/kernel/hostname
c=?
while read -r k v; do
	[ "$k" = Cpus_allowed_list: ] && c=$v
done </proc/self/status
echo "mpiwrap-validate-rank $r $h $c"
env 2>/dev/null | while IFS= read -r kv; do
	case $kv in
	UCX_*|FI_*|OMPI_MCA_*|PMIX_MCA_*|MPIR_CVAR_*|MPICH_*|NCCL_*|PSM2_*|HFI_*|I_MPI_*|OMP_*|GOMP_*|LD_PRELOAD=*|LD_LIBRARY_PATH=*)
		echo "mpiwrap-validate-env $r $kv" ;;
	esac
done
`

const (
	placementTag = "mpiwrap-validate-rank "
	envTag       = "mpiwrap-validate-env "
)

// parseProbeEnv reads the probe's environment lines: rank -> NAME -> value
// of the variables that tune MPI, its fabrics and threads.
func parseProbeEnv(out string) map[int]map[string]string {
	env := map[int]map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		rest, ok := strings.CutPrefix(l, envTag)
		if !ok {
			continue
		}
		rank, kv, ok := strings.Cut(rest, " ")
		n, err := strconv.Atoi(rank)
		k, v, ok2 := strings.Cut(kv, "=")
		if !ok || !ok2 || err != nil {
			continue
		}
		if env[n] == nil {
			env[n] = map[string]string{}
		}
		env[n][k] = v
	}
	return env
}

// perJob variables are the launcher's wiring of one job (Open MPI's job
// id, daemon URIs, session directory, ...): they differ between any two
// jobs, so a difference says nothing about the container.
func perJob(name string) bool {
	for _, p := range []string{"OMPI_MCA_orte_", "OMPI_MCA_ess_", "OMPI_MCA_pmix", "OMPI_MCA_prte_", "PMIX_MCA_pmix_"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// envDiff lists, for the variables that tune MPI, how the container's
// ranks' environment differs from the native ones' (mpiwrap's fabric
// hints, --set-env, profiles): "UCX_NET_DEVICES=eth0 (unset natively)".
// A difference on some ranks only names them.
func envDiff(native, container map[int]map[string]string) []string {
	byChange := map[string][]int{}
	var order []string
	sorted := unionKeys(native, container)
	for _, r := range sorted {
		keys := unionKeys(native[r], container[r])
		for _, k := range keys {
			nv, nok := native[r][k]
			cv, cok := container[r][k]
			if (nok == cok && nv == cv) || perJob(k) {
				continue
			}
			var d string
			switch {
			case !cok:
				d = fmt.Sprintf("%s unset in the container (%s natively)", k, nv)
			case !nok:
				d = fmt.Sprintf("%s=%s in the container (unset natively)", k, cv)
			default:
				d = fmt.Sprintf("%s=%s in the container (%s natively)", k, cv, nv)
			}
			if _, seen := byChange[d]; !seen {
				order = append(order, d)
			}
			byChange[d] = append(byChange[d], r)
		}
	}
	out := []string{}
	for _, d := range order {
		if rs := byChange[d]; len(rs) < len(sorted) {
			var names []string
			for _, r := range rs {
				names = append(names, strconv.Itoa(r))
			}
			d += " on rank " + strings.Join(names, ", ")
		}
		out = append(out, d)
	}
	return out
}

// unionKeys is the keys of a and b together, sorted.
func unionKeys[K cmp.Ordered, V any](a, b map[K]V) []K {
	keys := slices.Collect(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// parsePlacement reads the probe's lines, sorted by rank.
func parsePlacement(out string) []report.Rank {
	var ranks []report.Rank
	for _, l := range strings.Split(out, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(l), placementTag)
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 3 {
			continue
		}
		n, err := strconv.Atoi(f[0])
		if err != nil {
			n = -1
		}
		ranks = append(ranks, report.Rank{Rank: n, Host: f[1], CPUs: f[2]})
	}
	slices.SortFunc(ranks, func(a, b report.Rank) int { return a.Rank - b.Rank })
	return ranks
}

// cpuCount is the number of CPUs in a list such as "0-3,8,10-11"; 0 when
// it can't be read.
func cpuCount(list string) int {
	n := 0
	for _, part := range strings.Split(list, ",") {
		a, b, isRange := strings.Cut(part, "-")
		lo, err := strconv.Atoi(a)
		if err != nil {
			return 0
		}
		hi := lo
		if isRange {
			if hi, err = strconv.Atoi(b); err != nil || hi < lo {
				return 0
			}
		}
		n += hi - lo + 1
	}
	return n
}

// describePlacement says in a sentence how ranks were placed: how many on
// how many nodes, and whether they were bound. hostCPUs is how many CPUs
// this process may use on this host (localHost), the yardstick for "not
// bound".
func describePlacement(ranks []report.Rank, localHost string, hostCPUs int) string {
	if len(ranks) == 0 {
		return "unknown"
	}
	var hosts []string
	for _, r := range ranks {
		if !slices.Contains(hosts, r.Host) {
			hosts = append(hosts, r.Host)
		}
	}
	s := fmt.Sprintf("%d rank%s on %d node%s (%s)", len(ranks), plural(len(ranks)), len(hosts), plural(len(hosts)), strings.Join(hosts, ", "))
	// Not bound: every rank may run on the same CPUs, and on this host on
	// all that validate itself may use (elsewhere: on more than one).
	bound := false
	for _, r := range ranks {
		n := cpuCount(r.CPUs)
		if n == 0 || r.CPUs != ranks[0].CPUs || (r.Host == localHost && n < hostCPUs) || (r.Host != localHost && n <= 1) {
			bound = true
		}
	}
	if !bound {
		return s + ", not bound: each may run on cpus " + ranks[0].CPUs
	}
	var each []string
	for _, r := range ranks {
		e := fmt.Sprintf("rank %d cpus %s", r.Rank, r.CPUs)
		if len(hosts) > 1 {
			e = fmt.Sprintf("rank %d %s cpus %s", r.Rank, r.Host, r.CPUs)
		}
		each = append(each, e)
	}
	return s + ", bound: " + strings.Join(each, "; ")
}

// comparePlacement is the sentence on both sides.
func comparePlacement(native, container []report.Rank, localHost string, hostCPUs int) string {
	n := describePlacement(native, localHost, hostCPUs)
	if len(container) == 0 {
		return "native: " + n + "; container: unknown"
	}
	if slices.Equal(native, container) {
		return n + " (the same in the container)"
	}
	return "native: " + n + "; container: " + describePlacement(container, localHost, hostCPUs)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// parseVersion reads mpiversion's output: "MPI X.Y" then the library's
// version string.
func parseVersion(out string) report.MPI {
	m := report.MPI{}
	first, rest, _ := strings.Cut(strings.TrimSpace(out), "\n")
	m.Standard = strings.TrimSpace(strings.TrimPrefix(first, "MPI "))
	m.Library = strings.TrimSpace(rest)
	m.Summary = summarizeLibrary(m.Library)
	return m
}

// summarizeLibrary shortens a library version string: "MPICH 4.0.2
// (ch4:ucx)", "Open MPI v4.1.4", or its first line.
func summarizeLibrary(lib string) string {
	var version, device string
	for _, l := range strings.Split(lib, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "MPICH Version":
			version = strings.TrimSpace(v)
		case "MPICH Device":
			device = strings.TrimSpace(v)
		}
	}
	if version != "" {
		s := "MPICH " + version
		if device != "" {
			s += " (" + device + ")"
		}
		return s
	}
	first, _, _ := strings.Cut(lib, "\n")
	if pre, _, ok := strings.Cut(first, ","); ok && strings.HasPrefix(first, "Open MPI") {
		return strings.TrimSpace(pre)
	}
	return strings.Join(strings.Fields(first), " ")
}
