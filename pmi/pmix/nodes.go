package pmix

import (
	"errors"
	"fmt"
	"strings"
)

// nodeIDs returns the node of every rank of a job of size ranks, numbered
// from 0 in order of first appearance, for PMI_process_mapping. Sources,
// first complete one wins: PMIX_NODEID of each rank (Slurm, PRRTE and
// Open MPI's mpirun give it), PMIX_HOSTNAME of each rank, and
// PMIX_LOCAL_PEERS when it lists every rank (all on this node). libpmix
// answers the per-rank keys from the job's node and proc maps it already
// holds, so this costs no server round trips.
func nodeIDs(c Client, size int) ([]int, error) {
	if size <= 0 {
		return nil, fmt.Errorf("map PMIx ranks to nodes: job size %d", size)
	}
	var errs []error
	for _, key := range []string{KeyNodeID, KeyHostname} {
		ids, err := perRank(c, size, key)
		if err == nil {
			return ids, nil
		}
		errs = append(errs, err)
	}
	peers, found, err := c.Get(RankWildcard, KeyLocalPeers)
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("%s: %w", KeyLocalPeers, err))
	case !found:
		errs = append(errs, fmt.Errorf("%s: not provided", KeyLocalPeers))
	case len(strings.Split(peers, ",")) == size:
		return make([]int, size), nil
	default:
		errs = append(errs, fmt.Errorf("%s %.40q: not every rank is local", KeyLocalPeers, peers))
	}
	return nil, fmt.Errorf("map PMIx ranks to nodes: %w", errors.Join(errs...))
}

// perRank reads key of every rank and numbers its distinct values.
func perRank(c Client, size int, key string) ([]int, error) {
	ids := make([]int, size)
	seen := map[string]int{}
	for r := range ids {
		v, found, err := c.Get(r, key)
		if err != nil {
			return nil, fmt.Errorf("%s of rank %d: %w", key, r, err)
		}
		if !found {
			return nil, fmt.Errorf("%s of rank %d: not provided", key, r)
		}
		id, ok := seen[v]
		if !ok {
			id = len(seen)
			seen[v] = id
		}
		ids[r] = id
	}
	return ids, nil
}
