// Package report is mpiwrap validate's result: every raw sample, the
// medians, ratios, tolerance and verdicts, and the facts a site needs to
// read them (host, image, launcher, placement of ranks, MPI library
// versions, mpiwrap's version). It writes the JSON (--json) and the
// terminal table.
package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/mpiwrap/mpiwrap/validate/verdict"
)

// Sides of a comparison.
const (
	Native    = "native"
	Container = "container"
)

// Report is a whole validation. Its JSON field names are the interface a
// site's scripts read; keep them stable.
type Report struct {
	// Schema names this layout; it changes when a field changes meaning.
	Schema         string    `json:"schema"`
	MpiwrapVersion string    `json:"mpiwrap_version"`
	Started        time.Time `json:"started"`
	Seconds        float64   `json:"seconds"`
	Host           Host      `json:"host"`
	Image          Image     `json:"image"`
	Launcher       Launcher  `json:"launcher"`
	// Native and Container say how each side was run.
	Native    SideInfo          `json:"native"`
	Container SideInfo          `json:"container"`
	Placement Placement         `json:"placement"`
	Tolerance verdict.Tolerance `json:"tolerance"`
	Reps      int               `json:"reps"`
	Warmups   int               `json:"warmups"`
	// Order says how the runs were interleaved, e.g. "native, container
	// alternately (A B A B ...), each benchmark on its own".
	Order      string          `json:"order"`
	Benchmarks []Benchmark     `json:"benchmarks"`
	Verdict    verdict.Verdict `json:"verdict"`
	ExitCode   int             `json:"exit_code"`
	// Notes are facts worth a line in the table (a setup step that fell
	// back, a probe that failed).
	Notes []string `json:"notes,omitempty"`
	// Error is why no comparison could be made at all (set up failed).
	Error string `json:"error,omitempty"`
}

// SchemaV1 is the current Schema.
const SchemaV1 = "mpiwrap-validate/1"

// Host is the machine validate ran on.
type Host struct {
	Hostname string `json:"hostname"`
	Kernel   string `json:"kernel"`
	OS       string `json:"os,omitempty"`
	CPUs     int    `json:"cpus"`
}

// Image is the container image.
type Image struct {
	Path string `json:"path"`
	Kind string `json:"kind"` // directory or squashfs
}

// Launcher is the launcher both sides ran under.
type Launcher struct {
	Command string   `json:"command"` // as given
	Argv    []string `json:"argv"`    // with --cpu-bind's option added
	Kind    string   `json:"kind"`    // hydra, slurm, openmpi or unknown
	CPUBind string   `json:"cpu_bind,omitempty"`
}

// SideInfo is how one side ran.
type SideInfo struct {
	// Prefix is what comes before the benchmark program: nothing
	// natively, mpiwrap, its flags and the image in the container.
	Prefix []string `json:"prefix"`
	// BenchDir holds the benchmark programs; BenchSource says where they
	// came from ("built with mpicc.mpich", "shipped in the image", ...).
	BenchDir    string `json:"bench_dir"`
	BenchSource string `json:"bench_source"`
	MPI         MPI    `json:"mpi"`
}

// MPI is a side's MPI library, as its mpiversion program reports it.
type MPI struct {
	Summary  string `json:"summary"`  // "MPICH 4.0.2 (ch4:ucx)"
	Standard string `json:"standard"` // "4.0"
	Library  string `json:"library"`  // MPI_Get_library_version, whole
	Error    string `json:"error,omitempty"`
}

// Placement is where the ranks ran, from a probe run on each side.
type Placement struct {
	Native    []Rank `json:"native"`
	Container []Rank `json:"container"`
	// Summary describes it in a sentence, e.g. "2 ranks on 1 node (n1),
	// not bound: each may run on cpus 0-1".
	Summary string `json:"summary"`
	// EnvDiff lists how the variables that tune MPI, its fabrics and
	// threads differ in the container's ranks from the native ones' (a
	// fabric hint of mpiwrap's, a --set-env, a profile's edit), from the
	// same probe.
	EnvDiff []string `json:"env_diff"`
	Error   string   `json:"error,omitempty"`
}

// Rank is one rank's place.
type Rank struct {
	Rank int    `json:"rank"`
	Host string `json:"host"`
	CPUs string `json:"cpus"` // Cpus_allowed_list
}

// Benchmark is one benchmark's comparison.
type Benchmark struct {
	Name    string       `json:"name"`
	Title   string       `json:"title"`
	Kind    verdict.Kind `json:"kind"`
	Unit    string       `json:"unit"`
	Sized   bool         `json:"sized"`
	Rule    string       `json:"rule"` // "container ≤ native +5%"
	Native  Program      `json:"native_program"`
	Contain Program      `json:"container_program"`
	// Runs are every run in the order made, warm-ups included.
	Runs []Run `json:"runs"`
	// Figures are the comparisons, one per message size (one in all for
	// an unsized benchmark).
	Figures []Figure        `json:"figures"`
	Verdict verdict.Verdict `json:"verdict"`
	// Error is why no comparison could be made.
	Error *RunError `json:"error,omitempty"`
	// HungRuns printed their result but did not end within the grace
	// time; each was stopped and run again (they are in Runs, Hung).
	HungRuns int     `json:"hung_runs"`
	Seconds  float64 `json:"seconds"`
}

// Program is what a side ran for a benchmark.
type Program struct {
	Path string   `json:"path"`
	Args []string `json:"args"`
}

// Run is one launcher run.
type Run struct {
	Side   string  `json:"side"`
	Rep    int     `json:"rep"` // 0, 1, ...; -1 .. -warmups for warm-ups
	WallMS float64 `json:"wall_ms"`
	OK     bool    `json:"ok"`
	Hung   bool    `json:"hung,omitempty"`
}

// Figure is one message size (Size 0 and Label for unsized benchmarks).
type Figure struct {
	Size  int64  `json:"size"`
	Label string `json:"label,omitempty"`
	// NativeSamples and ContainerSamples are the timed repetitions' raw
	// values, in order.
	NativeSamples    []float64       `json:"native_samples"`
	ContainerSamples []float64       `json:"container_samples"`
	NativeMedian     float64         `json:"native_median"`
	ContainerMedian  float64         `json:"container_median"`
	Ratio            float64         `json:"ratio"`
	Verdict          verdict.Verdict `json:"verdict"`
	Why              string          `json:"why,omitempty"`
}

// RunError is a run that failed: the side, the command, how it ended and
// the lines of its output that say why.
type RunError struct {
	Side    string   `json:"side"`
	Rep     int      `json:"rep"`
	Argv    []string `json:"argv"`
	Exit    int      `json:"exit"` // -1: killed or not started
	Message string   `json:"message"`
	Quote   []string `json:"quote,omitempty"`
	// Stderr and Stdout are the last lines of the run's output.
	Stderr []string `json:"stderr,omitempty"`
	Stdout []string `json:"stdout,omitempty"`
}

func (e *RunError) Error() string { return fmt.Sprintf("%s side: %s", e.Side, e.Message) }

// Judge sets the benchmark's verdict from its figures: ERROR when it has
// an error or no figures, else the worst figure's.
func (b *Benchmark) Judge() {
	v := verdict.Pass
	if b.Error != nil || len(b.Figures) == 0 {
		v = verdict.Error
	}
	for _, f := range b.Figures {
		v = verdict.Worse(v, f.Verdict)
	}
	b.Verdict = v
}

// Finish sets each benchmark's verdict from its figures and the report's
// from the benchmarks, and the exit code.
func (r *Report) Finish() {
	all := verdict.Pass
	if len(r.Benchmarks) == 0 {
		all = verdict.Error
	}
	for i := range r.Benchmarks {
		r.Benchmarks[i].Judge()
		all = verdict.Worse(all, r.Benchmarks[i].Verdict)
	}
	r.Verdict, r.ExitCode = all, verdict.ExitCode(all)
}

// WriteJSON writes the report to path, through a temporary file renamed
// into place.
func (r *Report) WriteJSON(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".validate-*.json")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
