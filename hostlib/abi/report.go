package abi

import (
	"errors"
	"github.com/mpiwrap/mpiwrap/internal/errlist"
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
	// Dropped are the optional profile items left out because their
	// closure fails this image's checks; the other checks are of what
	// is injected without them.
	Dropped []DroppedItem `json:"dropped,omitempty"`
}

// DroppedItem is an optional ([[library]] or [[binary]] with required
// = false) profile item that is not injected into this image.
type DroppedItem struct {
	Profile string `json:"profile"`
	// Item names it as messages do: "binary lstopo-no-graphics".
	Item string `json:"item"`
	// Pos is "file:line" of the item.
	Pos string `json:"pos"`
	// Files are the container paths left out: the item's own files and
	// the closure members no kept item needs.
	Files []string `json:"files"`
	// Lack is the first failure found in the item's closure.
	Lack Lack `json:"lack"`
	// Message is the note: "hostlib: dropped optional item … because …".
	Message string `json:"message"`
}

// Notes lists what a user may want to know but does not stop a launch:
// the dropped optional items, then the injected libraries the command
// will not load that need what the image lacks.
func (r *Report) Notes() []string {
	var out []string
	for _, d := range r.Dropped {
		out = append(out, d.Message)
	}
	for _, u := range r.Base.Unloaded {
		out = append(out, u.Message)
	}
	return out
}

// Refused reports whether any check refuses the launch.
func (r *Report) Refused() bool { return len(r.messages(Refuse)) > 0 }

// Err returns nil, or one error whose text lists every refusal.
func (r *Report) Err() error {
	var refusals errlist.List // every refusal at once
	for _, m := range r.messages(Refuse) {
		refusals = append(refusals, errors.New(m))
	}
	if len(refusals) == 0 {
		return nil
	}
	return refusals
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
