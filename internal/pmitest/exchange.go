package pmitest

import (
	"context"
	"fmt"

	"github.com/mpiwrap/mpiwrap/pmi"
)

// From says where Exchange reads each rank's key back from; the zero
// value is ByRank.
type From int

const (
	ByRank From = 1 << iota // from the rank that put it
	ByAny                   // without naming it (pmi.AnyRank)
)

// sources lists the ranks to ask for rank r's key, in a fixed order.
func (f From) sources(r int) []int {
	var srcs []int
	if f&ByRank != 0 || f == 0 {
		srcs = append(srcs, r)
	}
	if f&ByAny != 0 {
		srcs = append(srcs, pmi.AnyRank)
	}
	return srcs
}

// Exchange is one rank's put / fence / get-all round: it puts
// k<round>-<rank>, commits if c can (PMIx wants it; the PMI clients'
// commit is a no-op), fences, then reads every rank's key back from each
// source from names and checks the value, which holds the KVS name so
// that all ranks must agree on it.
func Exchange(ctx context.Context, c KVS, round int, from From) error {
	in := c.Info()
	key := func(r int) string { return fmt.Sprintf("k%d-%d", round, r) }
	val := func(r int) string { return fmt.Sprintf("v%d-%d-%s", round, r, in.KVSName) }
	if err := c.Put(ctx, key(in.Rank), val(in.Rank)); err != nil {
		return err
	}
	if cm, ok := c.(interface{ Commit(context.Context) error }); ok {
		if err := cm.Commit(ctx); err != nil {
			return err
		}
	}
	if err := c.Fence(ctx); err != nil {
		return err
	}
	for r := 0; r < in.Size; r++ {
		for _, src := range from.sources(r) {
			v, ok, err := c.Get(ctx, src, key(r))
			if err != nil || !ok || v != val(r) {
				return fmt.Errorf("rank %d: get %s from rank %d = %q found=%v err=%v", in.Rank, key(r), src, v, ok, err)
			}
		}
	}
	return nil
}

// Session is what an MPI library asks of PMI in MPI_Init, with the
// answers a rank must get; Run checks them and leaves finalize to the
// caller, who may want to check more first.
type Session struct {
	Mapping  string // PMI_process_mapping
	Universe string // universeSize
	Rounds   int    // Exchange rounds, numbered from 0
	From     From   // how the rounds read keys back
}

// Run reads the mapping and universe size, runs the rounds, and checks
// that a key nobody put is not found (and is no error).
func (s Session) Run(ctx context.Context, c Rank) error {
	if m, ok, err := c.JobAttr(ctx, pmi.AttrProcessMapping); err != nil || !ok || m != s.Mapping {
		return fmt.Errorf("mapping = %q found=%v err=%v; want %q", m, ok, err, s.Mapping)
	}
	if u, ok, err := c.JobAttr(ctx, pmi.AttrUniverseSize); err != nil || !ok || u != s.Universe {
		return fmt.Errorf("universe = %q found=%v err=%v; want %q", u, ok, err, s.Universe)
	}
	for round := 0; round < s.Rounds; round++ {
		if err := Exchange(ctx, c, round, s.From); err != nil {
			return err
		}
	}
	if _, ok, err := c.Get(ctx, pmi.AnyRank, "nobody-put-this"); ok || err != nil {
		return fmt.Errorf("missing key: found=%v err=%v", ok, err)
	}
	return nil
}
