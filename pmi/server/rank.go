package server

import (
	"context"
	"fmt"

	"github.com/mpiwrap/mpiwrap/pmi"
)

// rankBackend is one rank's view of a Job.
type rankBackend struct {
	j    *Job
	rank int
}

func (r *rankBackend) Info() pmi.Info {
	c := r.j.cfg
	return pmi.Info{Rank: r.rank, Size: c.Size, AppNum: c.AppNum, KVSName: c.KVSName}
}

func (r *rankBackend) Put(_ context.Context, key, value string) error {
	r.j.mu.Lock()
	r.j.pending[key] = value
	r.j.mu.Unlock()
	return nil
}

func (r *rankBackend) Fence(ctx context.Context) error {
	return r.j.bar.enter(ctx, r.rank, r.j.done, r.j.commit)
}

// Get ignores src: keys are global in PMI-1/PMI-2.
func (r *rankBackend) Get(_ context.Context, _ int, key string) (string, bool, error) {
	r.j.mu.RLock()
	v, ok := r.j.kvs[key]
	r.j.mu.RUnlock()
	return v, ok, nil
}

func (r *rankBackend) JobAttr(_ context.Context, key string) (string, bool, error) {
	v, ok := r.j.attrs[key]
	return v, ok, nil
}

func (r *rankBackend) Abort(_ context.Context, code int, msg string) error {
	r.j.Fail(&pmi.AbortError{Rank: r.rank, Code: code, Msg: msg})
	return nil
}

func (r *rankBackend) Finalize(context.Context) error { return nil }

func (r *rankBackend) node() *nodeAttrs { return &r.j.nodes[r.rank/r.j.cfg.PPN] }

func (r *rankBackend) PutNodeAttr(_ context.Context, key, value string) error {
	r.j.mu.Lock()
	n := r.node()
	n.kv[key] = value
	close(n.changed)
	n.changed = make(chan struct{})
	r.j.mu.Unlock()
	return nil
}

func (r *rankBackend) GetNodeAttr(ctx context.Context, key string, wait bool) (string, bool, error) {
	for {
		r.j.mu.RLock()
		n := r.node()
		v, ok := n.kv[key]
		ch := n.changed
		r.j.mu.RUnlock()
		if ok || !wait {
			return v, ok, nil
		}
		select {
		case <-ch:
		case <-r.j.done:
			return "", false, errJobFailed
		case <-ctx.Done():
			return "", false, context.Cause(ctx)
		}
	}
}

func (r *rankBackend) Publish(_ context.Context, service, port string) error {
	r.j.mu.Lock()
	defer r.j.mu.Unlock()
	if _, dup := r.j.names[service]; dup {
		return fmt.Errorf("service %s is already published", service)
	}
	r.j.names[service] = port
	return nil
}

func (r *rankBackend) Unpublish(_ context.Context, service string) error {
	r.j.mu.Lock()
	defer r.j.mu.Unlock()
	if _, ok := r.j.names[service]; !ok {
		return fmt.Errorf("service %s is not published", service)
	}
	delete(r.j.names, service)
	return nil
}

func (r *rankBackend) Lookup(_ context.Context, service string) (string, bool, error) {
	r.j.mu.RLock()
	defer r.j.mu.RUnlock()
	p, ok := r.j.names[service]
	return p, ok, nil
}
