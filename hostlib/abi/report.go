package abi

import (
	"errors"
	"strings"
)

// Verdict is the outcome of one check.
type Verdict string

// Verdicts, from harmless to fatal.
const (
	OK     Verdict = "ok"
	Warn   Verdict = "warn"
	Refuse Verdict = "refuse"
	// NoImageMPI says the image has no MPI library at all: nothing to
	// compare, and the injected MPI is used only by programs linked
	// against it. It does not stop a run.
	NoImageMPI Verdict = "no-image-mpi"
)

// Report gathers every ABI decision made before a launch.
type Report struct {
	MPI     []MPIResult    `json:"mpi"`
	Base    BaseResult     `json:"base_libraries"`
	Symbols []SymbolResult `json:"symbols"`
}

// Refused reports whether any check refuses the launch.
func (r *Report) Refused() bool { return len(r.messages(Refuse)) > 0 }

// Err returns nil, or one error whose text lists every refusal.
func (r *Report) Err() error {
	msgs := r.messages(Refuse)
	if len(msgs) == 0 {
		return nil
	}
	return errors.New(strings.Join(msgs, "; "))
}

// Warnings lists the warnings and notes (no-image-mpi) to show a user.
func (r *Report) Warnings() []string {
	return append(r.messages(Warn), r.messages(NoImageMPI)...)
}

func (r *Report) messages(v Verdict) []string {
	var out []string
	for _, m := range r.MPI {
		if m.Verdict == v {
			out = append(out, m.Message)
		}
	}
	if r.Base.Verdict == v {
		out = append(out, r.Base.Messages...)
	}
	for _, s := range r.Symbols {
		if s.Verdict == v {
			out = append(out, s.Message)
		}
	}
	return out
}
