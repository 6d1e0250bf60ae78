package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/wire"
)

// JobConfig describes a simulated job.
type JobConfig struct {
	Size         int               // ranks; required
	PPN          int               // ranks per simulated node, block placement; 0 means all on one node
	KVSName      string            // kvsname / jobid; 0 means "kvs_fake_0"
	AppNum       int               // appnum reported to every rank
	UniverseSize int               // universeSize attribute; 0 means Size
	Attrs        map[string]string // extra job attributes (e.g. PMI_hwloc_xmlfile)
}

// Job is the shared state of a simulated job: KVS, barrier, attributes,
// node attributes and names. Rank(r) is rank r's Backend.
type Job struct {
	cfg   JobConfig
	attrs map[string]string

	mu      sync.RWMutex
	kvs     map[string]string
	pending map[string]string // puts since the last fence completed
	names   map[string]string
	nodes   []nodeAttrs

	bar  barrier
	done chan struct{} // closed by Fail
	once sync.Once
	err  error
}

type nodeAttrs struct {
	kv      map[string]string
	changed chan struct{} // closed and replaced on every put
}

// NewJob validates cfg and returns an empty job.
func NewJob(cfg JobConfig) (*Job, error) {
	if cfg.Size <= 0 {
		return nil, fmt.Errorf("create fake job: size %d must be positive", cfg.Size)
	}
	if cfg.PPN <= 0 || cfg.PPN > cfg.Size {
		cfg.PPN = cfg.Size
	}
	if cfg.KVSName == "" {
		cfg.KVSName = "kvs_fake_0"
	}
	if err := wire.CheckKVSName(cfg.KVSName); err != nil {
		return nil, fmt.Errorf("create fake job: %w", err)
	}
	if cfg.UniverseSize == 0 {
		cfg.UniverseSize = cfg.Size
	}
	mapping, err := wire.BlockMapping(cfg.Size, cfg.PPN)
	if err != nil {
		return nil, fmt.Errorf("create fake job: %w", err)
	}
	j := &Job{cfg: cfg, kvs: map[string]string{}, pending: map[string]string{},
		names: map[string]string{}, done: make(chan struct{})}
	j.attrs = map[string]string{pmi.AttrProcessMapping: mapping,
		pmi.AttrUniverseSize: strconv.Itoa(cfg.UniverseSize)}
	for k, v := range cfg.Attrs {
		j.attrs[k] = v
	}
	j.nodes = make([]nodeAttrs, (cfg.Size+cfg.PPN-1)/cfg.PPN)
	for i := range j.nodes {
		j.nodes[i] = nodeAttrs{kv: map[string]string{}, changed: make(chan struct{})}
	}
	j.bar.init(cfg.Size)
	return j, nil
}

// Config returns the job's configuration with defaults filled in.
func (j *Job) Config() JobConfig { return j.cfg }

// Rank returns the Backend of rank r.
func (j *Job) Rank(r int) (Backend, error) {
	if r < 0 || r >= j.cfg.Size {
		return nil, fmt.Errorf("find rank %d: job has ranks 0..%d", r, j.cfg.Size-1)
	}
	return &rankBackend{j: j, rank: r}, nil
}

// Fail ends the job with err (the first failure wins). Blocked fences
// return it.
func (j *Job) Fail(err error) {
	j.once.Do(func() {
		j.err = err
		close(j.done)
	})
}

// Done is closed when the job failed.
func (j *Job) Done() <-chan struct{} { return j.done }

// Err is the failure that ended the job, or nil.
func (j *Job) Err() error {
	select {
	case <-j.done:
		return j.err
	default:
		return nil
	}
}

// commit makes the pending puts visible; called by the last fencer.
func (j *Job) commit() {
	j.mu.Lock()
	for k, v := range j.pending {
		j.kvs[k] = v
	}
	clear(j.pending)
	j.mu.Unlock()
}

var errJobFailed = errors.New("job failed")

// barrier releases a generation once every rank has entered it.
type barrier struct {
	mu      sync.Mutex
	size    int
	count   int
	arrived []bool
	release chan struct{}
}

func (b *barrier) init(size int) {
	b.size, b.arrived, b.release = size, make([]bool, size), make(chan struct{})
}

// enter blocks rank until all ranks entered; the last one runs last()
// before anyone is released.
func (b *barrier) enter(ctx context.Context, rank int, done <-chan struct{}, last func()) error {
	b.mu.Lock()
	if b.arrived[rank] {
		b.mu.Unlock()
		return fmt.Errorf("rank %d entered the fence twice", rank)
	}
	b.arrived[rank] = true
	b.count++
	ch := b.release
	if b.count == b.size {
		last()
		b.count = 0
		clear(b.arrived)
		b.release = make(chan struct{})
		close(ch)
		b.mu.Unlock()
		return nil
	}
	b.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-done:
		return errJobFailed
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
