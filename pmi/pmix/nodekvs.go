package pmix

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/modex"
	"github.com/mpiwrap/mpiwrap/pmi/wire"
)

// What a node's server needs of the launcher beyond a rank's own
// requests: fences across nodes through the KVS, and the name service.

// fence carries the node's blob to the other nodes through the launcher's
// KVS and returns every node's, in node order.
func (n *Node) fence(blob []byte) ([]string, error) {
	job := n.cfg.Job
	nodes := job.Nodes()
	if nodes == 1 {
		return []string{string(blob)}, nil
	}
	n.mu.Lock()
	f := n.fences
	n.fences++
	var ups []Rank
	for _, r := range n.locals {
		if up := n.ranks[r].up; up != nil {
			ups = append(ups, up)
		}
	}
	n.mu.Unlock()
	if len(ups) != len(n.locals) {
		return nil, fmt.Errorf("fence: %d of the node's %d ranks have a launcher connection", len(ups), len(n.locals))
	}
	leader := ups[0]
	parts, err := modex.Split(blob, room(leader, modex.Key(f, job.Node, 1<<20)))
	if err != nil {
		return nil, fmt.Errorf("fence: %w", err)
	}
	for i, p := range parts {
		if err := leader.Put(n.ctx, modex.Key(f, job.Node, i), p); err != nil {
			return nil, fmt.Errorf("fence: put part %d of %d: %w", i, len(parts), err)
		}
	}
	if err := barrier(n.ctx, ups); err != nil {
		return nil, fmt.Errorf("fence: %w", err)
	}
	out := make([]string, nodes)
	for m := 0; m < nodes; m++ {
		if m == job.Node {
			out[m] = string(blob)
			continue
		}
		b, err := getBlob(n.ctx, leader, f, m)
		if err != nil {
			return nil, fmt.Errorf("fence: node %d's data: %w", m, err)
		}
		out[m] = string(b)
	}
	return out, nil
}

// room is the longest value a put on up can carry.
func room(up Rank, key string) int {
	if l, ok := up.(interface{ Maxes() wire.Maxes }); ok { // PMI-1
		m := l.Maxes()
		return modex.Room(true, up.Info().KVSName, key, m.Value, wire.MaxV1Request)
	}
	return modex.Room(false, "", key, wire.MaxValue, wire.MaxFrame)
}

// barrier enters the launcher's barrier on every connection at once: the
// launcher's fence completes when every rank of the job entered it.
func barrier(ctx context.Context, ups []Rank) error {
	errs := make([]error, len(ups))
	var wg sync.WaitGroup
	for i, up := range ups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := up.Commit(ctx); err != nil {
				errs[i] = err
				return
			}
			errs[i] = up.Fence(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func getBlob(ctx context.Context, up Rank, f, node int) ([]byte, error) {
	first, ok, err := up.Get(ctx, pmi.AnyRank, modex.Key(f, node, 0))
	if err == nil && !ok {
		err = errors.New("not in the launcher's KVS (is every rank of the job under mpiwrap's PMIx server?)")
	}
	if err != nil {
		return nil, err
	}
	count, err := modex.Count(first)
	if err != nil {
		return nil, err
	}
	parts := []string{first}
	for i := 1; i < count; i++ {
		p, ok, err := up.Get(ctx, pmi.AnyRank, modex.Key(f, node, i))
		if err == nil && !ok {
			err = fmt.Errorf("part %d of %d is not in the launcher's KVS", i, count)
		}
		if err != nil {
			return nil, err
		}
		parts = append(parts, p)
	}
	return modex.Join(parts)
}

// names forwards publish, unpublish and lookup to the launcher's name
// service, through the asking rank's connection.
func (n *Node) names(kind string, rank int, args []string) ([]string, error) {
	up, err := n.rank(rank)
	if err != nil {
		return nil, err
	}
	ns, ok := up.(names)
	call := map[string]string{"publish": "MPI_Publish_name", "unpublish": "MPI_Unpublish_name", "lookup": "MPI_Lookup_name"}[kind]
	if !ok {
		err := fmt.Errorf("%s: the launcher's PMI connection has no name service", call)
		n.note(rank, err.Error())
		return nil, err
	}
	var out []string
	switch kind {
	case "publish":
		if len(args)%2 != 0 {
			return nil, errors.New("bad publish event")
		}
		for i := 0; i < len(args); i += 2 {
			if err := wire.CheckValue(args[i+1], wire.V1); err != nil || wire.CheckKey(args[i]) != nil {
				err = fmt.Errorf("%s of %q: the launcher's name service can't carry it (PMI-1 names and ports are single words)", call, args[i])
				n.note(rank, err.Error())
				return nil, err
			}
			if err := ns.Publish(n.ctx, args[i], args[i+1]); err != nil {
				n.note(rank, fmt.Sprintf("%s of %q through the launcher: %v", call, args[i], err))
				return nil, err
			}
		}
	case "unpublish":
		for _, k := range args {
			if err := ns.Unpublish(n.ctx, k); err != nil {
				return nil, err
			}
		}
	case "lookup":
		for _, k := range args {
			v, found, err := ns.Lookup(n.ctx, k)
			if err != nil {
				return nil, err
			}
			if !found {
				return nil, errNotFound
			}
			out = append(out, k, v)
		}
	}
	return out, nil
}
