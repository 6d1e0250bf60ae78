// Package verdict is the arithmetic of mpiwrap validate: the median of each
// side's samples, the container/native ratio and the PASS/FAIL verdict
// against a tolerance. It has no dependencies beyond the standard library
// so that every part of validate (and mpiwrap's own command line) can use
// its types.
package verdict

import (
	"fmt"
	"math"
	"slices"
)

// Kind says which way a figure is better.
type Kind string

const (
	// Latency figures (ping-pong, allreduce) are better when lower: the
	// container passes when its median is at most native × (1 + tolerance).
	Latency Kind = "latency"
	// Bandwidth figures are better when higher: the container passes when
	// its median is at least native × (1 − tolerance).
	Bandwidth Kind = "bandwidth"
	// Startup figures (MPI_Init time, a whole job's wall time) are times,
	// judged like latency but against their own tolerance: they include
	// work a container adds on purpose (mounts, joining the namespace).
	Startup Kind = "startup"
)

// LowerIsBetter reports whether smaller values of k are better.
func (k Kind) LowerIsBetter() bool { return k != Bandwidth }

// Verdict of one figure, one benchmark or a whole validation.
type Verdict string

const (
	Pass Verdict = "PASS"
	Fail Verdict = "FAIL"
	// Error: no comparison could be made (a run failed, or a side has no
	// usable sample). It outranks FAIL.
	Error Verdict = "ERROR"
)

// Worse returns the worse of a and b: ERROR, then FAIL, then PASS.
func Worse(a, b Verdict) Verdict {
	rank := func(v Verdict) int {
		switch v {
		case Error:
			return 2
		case Fail:
			return 1
		}
		return 0
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// ExitCode is what validate exits with for v: 0 when everything passed, 1
// on any FAIL, 2 when a comparison could not be made.
func ExitCode(v Verdict) int {
	switch v {
	case Pass:
		return 0
	case Fail:
		return 1
	}
	return 2
}

// Tolerance is the relative slack per kind, as fractions (0.05 = 5%),
// and for start-up times an absolute one too.
type Tolerance struct {
	Latency   float64 `json:"latency"`
	Bandwidth float64 `json:"bandwidth"`
	Startup   float64 `json:"startup"`
	// StartupSlackMS: a start-up figure also passes when the container
	// is at most this many milliseconds above native. Start-up times are
	// tens of milliseconds, where a few milliseconds of namespace set-up
	// make a large ratio and cost a job nothing it would notice.
	StartupSlackMS float64 `json:"startup_slack_ms"`
}

// DefaultTolerance: latency at most 5% above native, bandwidth at most 5%
// below, start-up times at most 10% or 50 ms above, whichever is more.
var DefaultTolerance = Tolerance{Latency: 0.05, Bandwidth: 0.05, Startup: 0.10, StartupSlackMS: 50}

// For returns the tolerance that applies to k.
func (t Tolerance) For(k Kind) float64 {
	switch k {
	case Bandwidth:
		return t.Bandwidth
	case Startup:
		return t.Startup
	}
	return t.Latency
}

// Rule describes the pass condition for k in words, e.g. "container ≤ native +5%".
func (t Tolerance) Rule(k Kind) string {
	if k == Startup && t.StartupSlackMS > 0 {
		return fmt.Sprintf("container ≤ native +%s or +%g ms", Percent(t.For(k)), t.StartupSlackMS)
	}
	if k.LowerIsBetter() {
		return fmt.Sprintf("container ≤ native +%s", Percent(t.For(k)))
	}
	return fmt.Sprintf("container ≥ native −%s", Percent(t.For(k)))
}

// Percent formats a fraction as a percentage without needless decimals.
func Percent(f float64) string {
	return fmt.Sprintf("%g%%", math.Round(f*1e6)/1e4)
}

// Median of xs (the mean of the middle two for an even count); NaN when
// xs is empty. NaN samples are ignored.
func Median(xs []float64) float64 {
	ys := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) {
			ys = append(ys, x)
		}
	}
	if len(ys) == 0 {
		return math.NaN()
	}
	slices.Sort(ys)
	n := len(ys)
	if n%2 == 1 {
		return ys[n/2]
	}
	return (ys[n/2-1] + ys[n/2]) / 2
}

// Row is the comparison of one figure (one message size of a benchmark).
type Row struct {
	NativeMedian    float64
	ContainerMedian float64
	// Ratio is ContainerMedian / NativeMedian; 0 when Verdict is Error.
	Ratio   float64
	Verdict Verdict
	// Why is set when Verdict is Error.
	Why string
}

// eps absorbs the rounding of the ratio so that a ratio of exactly 1 +
// tolerance, as printed, passes.
const eps = 1e-9

// JudgeWith compares a figure of kind k against t: Judge with k's
// tolerance, and for a start-up figure that fails by ratio, a pass when
// the container is within the absolute slack.
func JudgeWith(k Kind, t Tolerance, native, container []float64) Row {
	r := Judge(k, t.For(k), native, container)
	if k == Startup && r.Verdict == Fail && r.ContainerMedian-r.NativeMedian <= t.StartupSlackMS+eps {
		r.Verdict = Pass
	}
	return r
}

// Judge compares the medians of the two sides' samples for a figure of
// kind k against tolerance tol (a fraction).
func Judge(k Kind, tol float64, native, container []float64) Row {
	r := Row{NativeMedian: Median(native), ContainerMedian: Median(container)}
	switch {
	case math.IsNaN(r.NativeMedian) || math.IsNaN(r.ContainerMedian):
		r.Verdict, r.Why = Error, "no samples on one side"
	case r.NativeMedian <= 0 || math.IsInf(r.NativeMedian, 0) || math.IsInf(r.ContainerMedian, 0) || r.ContainerMedian < 0:
		r.Verdict, r.Why = Error, fmt.Sprintf("no ratio of %g to %g", r.ContainerMedian, r.NativeMedian)
	default:
		r.Ratio = r.ContainerMedian / r.NativeMedian
		r.Verdict = Check(k, tol, r.Ratio)
	}
	if r.Verdict == Error {
		// JSON has no NaN or infinity.
		for _, f := range []*float64{&r.NativeMedian, &r.ContainerMedian} {
			if math.IsNaN(*f) || math.IsInf(*f, 0) {
				*f = 0
			}
		}
	}
	return r
}

// Check is the verdict on a container/native ratio for kind k.
func Check(k Kind, tol, ratio float64) Verdict {
	if k.LowerIsBetter() {
		if ratio <= 1+tol+eps {
			return Pass
		}
		return Fail
	}
	if ratio >= 1-tol-eps {
		return Pass
	}
	return Fail
}
