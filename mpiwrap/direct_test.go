package mpiwrap

import (
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/mpiwrap/mpiwrap/mpiwrap/nsexec"
	"github.com/mpiwrap/mpiwrap/mpiwrap/plan"
	"github.com/mpiwrap/mpiwrap/pmi/launchenv"
)

// The C half's list of per-rank variables is launchenv's.
func TestPerRankVarsC(t *testing.T) {
	var want []string
	for k := range launchenv.PerRank {
		want = append(want, k)
	}
	sort.Strings(want)
	got := nsexec.PerRankVarsC()
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Fatalf("direct.c's per_rank lists %q, launchenv.PerRank %q", got, want)
	}
}

// randomRankEnv is a rank's environment drawn from launcher variables,
// per-rank ones among them, with values of every Class and the edges of
// strconv.Atoi, and entries without '='.
func randomRankEnv(r *rand.Rand) []string {
	names := []string{"PMI_RANK", "PMI_FD", "PMI_ID", "PMI_SIZE", "MPI_LOCALNRANKS", "MPI_LOCALRANKID",
		"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "PMIX_RANK", "PMIX_NAMESPACE",
		"SLURM_PROCID", "SLURM_LOCALID", "SLURM_JOB_ID", "HOME", "PATH", "PMI_RANKX", "PMI_RAN"}
	values := []string{"", "0", "7", "+1", "-1", "-0", "x", "1x", " 1", "0x10", "=", "a=b",
		"9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
		"18446744073709551616", "00012", "+", "-"}
	var env []string
	for n := r.Intn(12); n > 0; n-- {
		switch r.Intn(10) {
		case 0:
			env = append(env, "NOEQUALS"+values[r.Intn(len(values))])
		default:
			env = append(env, names[r.Intn(len(names))]+"="+values[r.Intn(len(values))])
		}
	}
	return env
}

// The shape key a rank makes in C is the keeper's shapeKey of the request
// that rank sends, byte for byte: else a rank would miss its published
// reply, or take another shape's.
func TestShapeKeyCMatchesGo(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 5000; i++ {
		cwd := []string{"/w", "/", "/a b/c"}[r.Intn(3)]
		argv := []string{"mpiwrap", "run", "/img", "true"}[:2+r.Intn(3)]
		env, nfds := randomRankEnv(r), r.Intn(3)
		req, err := decodeRequest(encodeRequest(cwd, "c", argv, env)[4:])
		if err != nil {
			t.Fatal(err)
		}
		got, ok := nsexec.ShapeKeyC(cwd, argv, env, nfds)
		if want := shapeKey(req, nfds); !ok || got != want {
			t.Fatalf("env %q, %d descriptors:\nC  %q\nGo %q", env, nfds, got, want)
		}
	}
}

// A rank that joins directly runs what the keeper would have answered it:
// for every rank of a published shape, the plan the C half makes from the
// published file is the keeper's reply to that rank's request, byte for
// byte, its own rank in the log label. Other shapes find nothing.
func TestDirectPlanIsKeepersReply(t *testing.T) {
	argv := []string{"mpiwrap", "run", "/img", "true"}
	hydra := func(rank, fd string, extra ...string) []string {
		return append([]string{"HOME=/h", "PMI_RANK=" + rank, "PMI_SIZE=4", "MPI_LOCALNRANKS=4",
			"MPI_LOCALRANKID=" + rank, "PMI_FD=" + fd, "PATH=/bin"}, extra...)
	}
	k := testKeeper(plan.MPIClient{Family: "mpich"})
	d := &directJoin{base: filepath.Join(t.TempDir(), "0123456789abcdef"), size: 4, pid: 1234, gen: 987654321}
	for _, env := range [][]string{hydra("0", "6"), hydra("1", "7", "FOO=bar")} {
		if status, _, _ := k.planRank(encodeRequest("/w", "c", argv, env)[4:], nil); status != repOK {
			t.Fatalf("status %d", status)
		}
		for _, p := range k.unpublished {
			if err := d.publish(p.shape, p.rankVar, k.leader.Image.Path, p.reply); err != nil {
				t.Fatal(err)
			}
		}
		k.unpublished = nil
	}
	file, err := os.ReadFile(d.base + nsexec.ShapesSuffix)
	if err != nil || d.nrec != 2 {
		t.Fatalf("%d records published: %v", d.nrec, err)
	}
	for i, c := range []struct {
		env  []string
		nfds int
		ok   bool
	}{
		{hydra("3", "14"), 0, true},
		{hydra("2", "9", "FOO=bar"), 0, true},
		{hydra("12345678901", "9"), 0, true},
		{hydra("-2", "9"), 0, false}, // a rank below 0: another class
		{hydra("2", "9"), 2, false},  // descriptors passed: another shape
		{hydra("x", "9"), 0, false},  // a rank that is no number: another class
		{hydra("2", "9", "B=1"), 0, false},
	} {
		got, head, ok := nsexec.ShapePlanC(file, "/w", argv, c.env, c.nfds)
		if head.Magic != nsexec.ShapesMagic || head.Size != 4 || head.Holder != 1234 || head.Gen != 987654321 {
			t.Fatalf("header %+v", head)
		}
		if ok != c.ok {
			t.Fatalf("case %d: found %v, want %v", i, ok, c.ok)
		}
		if !ok {
			continue
		}
		fresh := testKeeper(plan.MPIClient{Family: "mpich"})
		_, want, _ := fresh.planRequest(&request{cwd: "/w", client: "c", argv: argv, env: c.env, pmiFd: -1, stderrFd: -1})
		if !slices.Equal(got, want) {
			dg, _ := nsexec.Dump(got)
			dw, _ := nsexec.Dump(want)
			t.Fatalf("case %d: C planned\n%s\nthe keeper answers\n%s", i, dg, dw)
		}
	}
	if _, _, ok := nsexec.ShapePlanC(file, "/elsewhere", argv, hydra("1", "6"), 0); ok {
		t.Fatal("another working directory is another shape")
	}
	if _, _, ok := nsexec.ShapePlanC(file[:len(file)-1], "/w", argv, hydra("1", "7", "FOO=bar"), 0); ok {
		t.Fatal("a truncated record was used")
	}
}

// The published file stays small enough for the rank's buffer: a shape
// that would grow it to nsexec.ShapesMax is not published, and the file
// keeps what it had.
func TestDirectPublishBounded(t *testing.T) {
	d := &directJoin{base: filepath.Join(t.TempDir(), "x"), size: 2}
	if err := d.publish("small", "PMI_RANK", "/img", []byte("reply")); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(d.base + nsexec.ShapesSuffix)
	big := make([]byte, nsexec.ShapesMax-60) // with the records and headers, just past it
	if err := d.publish("big", "PMI_RANK", "/img", big); err != nil || d.nrec != 1 {
		t.Fatalf("%d records, %v", d.nrec, err)
	}
	after, _ := os.ReadFile(d.base + nsexec.ShapesSuffix)
	if !slices.Equal(before, after) || len(after) >= nsexec.ShapesMax {
		t.Fatalf("file went from %d to %d bytes", len(before), len(after))
	}
	if _, err := os.Stat(d.base + nsexec.ShapesSuffix + ".tmp"); err == nil {
		t.Fatal("the temporary file was left")
	}
}
