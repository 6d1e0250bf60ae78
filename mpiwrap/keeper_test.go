package mpiwrap

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/mpiwrap/mpiwrap/mpiwrap/nsexec"
	"github.com/mpiwrap/mpiwrap/mpiwrap/plan"
)

// fakeParse stands for the CLI: "run" lines become a Spec, "bad" fails,
// anything else is not a run.
func fakeParse(argv []string, cwd string) (*plan.Spec, error) {
	switch {
	case len(argv) > 1 && argv[1] == "bad":
		return nil, errors.New("unknown flag: --bad")
	case len(argv) < 3 || argv[1] != "run":
		return nil, nil
	}
	spec := &plan.Spec{Image: argv[2], Command: argv[3:], PMI: plan.PMIAuto}
	for _, a := range argv {
		switch a {
		case "-v":
			spec.Verbose = true
		case "--pmi=proxy":
			spec.PMI = plan.PMIProxy
		}
	}
	if spec.Verbose || spec.PMI == plan.PMIProxy {
		spec.Command = spec.Command[1:]
	}
	return spec, nil
}

// testKeeper is a keeper whose leader ran `run /img true` in /w with mpi
// as the container's MPI.
func testKeeper(mpi plan.MPIClient) *keeper {
	leaderSpec, _ := fakeParse([]string{"mpiwrap", "run", "/img", "true"}, "/w")
	env := []string{"HOME=/h"}
	leader := &plan.Plan{Image: plan.Image{Path: "/img", Kind: plan.ImageDir}, Cwd: "/w", MPI: mpi,
		Warnings: []string{"the leader's warning"}}
	return &keeper{parse: fakeParse, leader: leader, inputs: plan.MountInputs(leaderSpec, env, "/w"),
		parsed: map[string]*plan.Spec{}, replies: map[replyKey][]byte{}, shapes: map[string]shapeReply{}}
}

// The keeper's answer to each kind of rank, planned without a namespace:
// what status it sends and what the rank's plan holds.
func TestKeeperPlansRequests(t *testing.T) {
	mpich := plan.MPIClient{Family: "mpich", Library: "libmpich.so.12"}
	hydra := []string{"HOME=/h", "PMI_RANK=1", "PMI_SIZE=4", "MPI_LOCALNRANKS=4", "PMI_FD=9", "PATH=/bin"}
	pmix := []string{"HOME=/h", "PMIX_NAMESPACE=ns", "PMIX_RANK=2", "PMIX_SERVER_URI41=x", "OMPI_COMM_WORLD_RANK=2", "OMPI_COMM_WORLD_SIZE=4"}
	run := func(extra ...string) []string { return append([]string{"mpiwrap", "run"}, extra...) }
	tests := []struct {
		name   string
		req    request
		status uint32
		want   []string // substrings of the error, or of the plan's dump
	}{
		{"same container", request{cwd: "/w", client: "c", argv: run("/img", "hostname"), env: hydra},
			// The rank's own environment reaches the command: its plan holds
			// the program that edits it, not a copy of it.
			repOK, []string{`log "1" "0" "/img"`, `chdir "/w"`, `env "unset-glob" "LD_LIBRARY_PATH"`, `exec-env "/img" "1" "hostname"`,
				`print "warning: " "the leader's warning"`}},
		{"a Go client too", request{cwd: "/w", client: "go", argv: run("/img", "true"), env: hydra}, repOK, []string{`exec-env "/img" "1" "true"`}},
		{"other image", request{cwd: "/w", client: "c", argv: run("/other", "true"), env: hydra},
			repError, []string{"asks for a different image, binds or directories than rank 0 on this node"}},
		{"other directory", request{cwd: "/elsewhere", client: "c", argv: run("/img", "true"), env: hydra}, repError, []string{"different image"}},
		{"bad flags", request{cwd: "/w", client: "c", argv: []string{"mpiwrap", "bad"}, env: hydra}, repError, []string{"unknown flag: --bad"}},
		{"C client, -v", request{cwd: "/w", client: "c", argv: run("-v", "/img", "true"), env: hydra}, repFallthrough, nil},
		{"C client, not a run", request{cwd: "/w", client: "c", argv: []string{"mpiwrap", "version"}, env: hydra}, repFallthrough, nil},
		{"Go client, not a run", request{cwd: "/w", client: "go", argv: []string{"mpiwrap", "version"}, env: hydra},
			repError, []string{"only runs commands"}},
		{"Go client needing a proxy", request{cwd: "/w", client: "go", argv: run("/img", "true"), env: pmix}, repProxy, nil},
		{"Go client behind its proxy", request{cwd: "/w", client: "go-proxy 2 4", argv: run("/img", "true"), env: pmix},
			repOK, []string{`"PMI_FD=6"`, `"PMI_RANK=2"`, `"PMI_SIZE=4"`}},
		{"C client forked behind a proxy", request{cwd: "/w", client: "c", argv: run("/img", "true"), env: pmix, pmiFd: -1, stderrFd: -1},
			repProxyFork, []string{`"PMI_FD=@"`, `"PMI_RANK=2"`}},
		{"C client, rank unknown", request{cwd: "/w", client: "c", argv: run("/img", "true"), env: pmix[:4], pmiFd: -1, stderrFd: -1}, repFallthrough, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := testKeeper(mpich)
			status, payload, h := k.planRequest(&tt.req)
			if h != nil {
				h.close()
				t.Fatal("a rank that was not hosted got a hosted session")
			}
			if status != tt.status {
				t.Fatalf("status %d (%q), want %d", status, payload, tt.status)
			}
			text := string(payload)
			if status == repOK || status == repProxyFork {
				var err error
				if text, err = nsexec.Dump(payload); err != nil {
					t.Fatal(err)
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("answer lacks %q:\n%s", w, text)
				}
			}
		})
	}
}

// Ranks of one shape are planned once: the second rank's reply reuses the
// first's, with its own rank in the log label.
func TestKeeperRepliesByShape(t *testing.T) {
	k := testKeeper(plan.MPIClient{Family: "mpich"})
	env := func(rank string) []string { return []string{"HOME=/h", "PMI_RANK=" + rank, "PMI_SIZE=4", "PMI_FD=9"} }
	argv := []string{"mpiwrap", "run", "/img", "true"}
	_, a, _ := k.planRequest(&request{cwd: "/w", client: "c", argv: argv, env: env("1")})
	_, b, _ := k.planRequest(&request{cwd: "/w", client: "c", argv: argv, env: env("2")})
	da, _ := nsexec.Dump(a)
	db, _ := nsexec.Dump(b)
	if len(k.replies) != 1 || !strings.HasPrefix(da, `log "1" `) || !strings.HasPrefix(db, `log "2" `) ||
		strings.SplitN(da, "\n", 2)[1] != strings.SplitN(db, "\n", 2)[1] {
		t.Fatalf("%d shapes; replies:\n%s\n%s", len(k.replies), da, db)
	}
	_, c, _ := k.planRequest(&request{cwd: "/elsewhere", client: "c", argv: argv, env: env("3")})
	if !strings.Contains(string(c), "different image") {
		t.Fatalf("another working directory is another shape, refused: %q", c)
	}
}

// A C client that passed the launcher's PMI_FD and its stderr is proxied
// by the keeper itself: it gets the rank's socket and a plan whose PMI_FD
// the C half fills in.
func TestKeeperHostsProxiedRank(t *testing.T) {
	k := testKeeper(plan.MPIClient{Family: "mpich"})
	req := &request{cwd: "/w", client: "c", argv: []string{"mpiwrap", "run", "--pmi=proxy", "/img", "true"},
		env: []string{"HOME=/h", "PMI_RANK=1", "PMI_SIZE=4", "PMI_FD=9"}, pmiFd: 9, stderrFd: 2}
	status, payload, h := k.planRequest(req)
	if status != repProxyHosted || h == nil {
		t.Fatalf("status %d (%q), hosted %v", status, payload, h)
	}
	h.upFd, h.stderr = -1, -1 // the test's own descriptors: don't close them
	defer h.close()
	dump, _ := nsexec.Dump(payload)
	if h.rank != 1 || h.size != 4 || !strings.Contains(dump, `"PMI_FD=@"`) || h.mine < 0 || h.theirs < 0 {
		t.Fatalf("hosted rank %+v, plan:\n%s", h, dump)
	}
	if !slices.Contains(h.env, "PMI_FD=9") {
		t.Fatalf("the session's upstream environment %q should name the launcher's PMI_FD", h.env)
	}
}

// The 2nd to Nth rank of a shape are answered from k.shapes before any
// planning, and get what planning would have given them: the same bytes
// as a fresh keeper's planRequest, their own rank in the log label.
func TestKeeperAnswersByRequestShape(t *testing.T) {
	argv := []string{"mpiwrap", "run", "/img", "true"}
	hydra := func(rank, fd string, extra ...string) []string {
		return append([]string{"HOME=/h", "PMI_RANK=" + rank, "PMI_SIZE=4", "MPI_LOCALNRANKS=4",
			"MPI_LOCALRANKID=" + rank, "PMI_FD=" + fd, "PATH=/bin"}, extra...)
	}
	k := testKeeper(plan.MPIClient{Family: "mpich"})
	cases := []struct {
		env    []string
		shapes int // after it
	}{
		{hydra("0", "6"), 1},
		{hydra("1", "8"), 1},
		{hydra("3", "14"), 1},
		{hydra("2", "9", "FOO=bar"), 2}, // another variable: another shape
		{hydra("x", "9"), 3},            // a rank that is no number: another class
		{hydra("2", "10", "FOO=bar"), 3},
	}
	for i, c := range cases {
		b := encodeRequest("/w", "c", argv, c.env)[4:]
		status, got, h := k.planRank(b, nil)
		if h != nil || status != repOK {
			t.Fatalf("request %d: status %d %q", i, status, got)
		}
		fresh := testKeeper(plan.MPIClient{Family: "mpich"})
		_, want, _ := fresh.planRequest(&request{cwd: "/w", client: "c", argv: argv, env: c.env, pmiFd: -1, stderrFd: -1})
		if !slices.Equal(got, want) || len(k.shapes) != c.shapes {
			dg, _ := nsexec.Dump(got)
			dw, _ := nsexec.Dump(want)
			t.Fatalf("request %d: %d shapes, want %d; got\n%s\nwant\n%s", i, len(k.shapes), c.shapes, dg, dw)
		}
	}
	if d, _ := nsexec.Dump(k.ownReply(rankFrom(hydra("3", "1"), "PMI_RANK"), nil)); !strings.HasPrefix(d, `log "3" `) {
		t.Fatalf("label: %s", d)
	}
}
