package pmix

import (
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/mpiwrap/mpiwrap/pmi"
)

// fakeJob is an in-memory PMIx server for size ranks: puts become visible
// to others after a fence, as with PMIX_COLLECT_DATA.
type fakeJob struct {
	size int

	mu       sync.Mutex
	cond     *sync.Cond
	job      map[string]string         // RankWildcard keys
	perRank  map[int]map[string]string // PMIX_NODEID, PMIX_HOSTNAME, ...
	put      map[int]map[string]string // puts not yet fenced
	visible  map[int]map[string]string // puts after the last fence
	arrived  int
	gen      int
	dead     error // the server died: calls fail, Lost fires
	aborts   []int // codes passed to Abort
	clients  []*fakeClient
	blockAbt chan struct{}     // if set, Abort waits for it to close, like a launcher that kills first
	abortErr error             // what Abort returns
	names    map[string]string // published names
}

func newFakeJob(size int) *fakeJob {
	j := &fakeJob{size: size, job: map[string]string{KeyJobSize: strconv.Itoa(size)},
		perRank: map[int]map[string]string{}, put: map[int]map[string]string{}, visible: map[int]map[string]string{}}
	j.cond = sync.NewCond(&j.mu)
	for r := 0; r < size; r++ {
		j.perRank[r], j.put[r], j.visible[r] = map[string]string{}, map[string]string{}, map[string]string{}
	}
	return j
}

// client returns the PMIx client of rank r.
func (j *fakeJob) client(r int) *fakeClient {
	j.mu.Lock()
	defer j.mu.Unlock()
	c := &fakeClient{j: j, rank: r, lost: make(chan error, 1)}
	j.clients = append(j.clients, c)
	return c
}

// kill makes the server go away: blocked and later calls fail.
func (j *fakeJob) kill(err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.dead = err
	for _, c := range j.clients {
		c.lost <- err
	}
	j.cond.Broadcast()
}

func (j *fakeJob) abortCodes() []int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]int(nil), j.aborts...)
}

type fakeClient struct {
	j    *fakeJob
	rank int
	lost chan error
}

func (c *fakeClient) Proc() (string, int) { return "fake.ns", c.rank }
func (c *fakeClient) Version() string     { return "FakePMIx 9.9" }
func (c *fakeClient) Lost() <-chan error  { return c.lost }

func (c *fakeClient) Put(key, value string) error {
	c.j.mu.Lock()
	defer c.j.mu.Unlock()
	if c.j.dead != nil {
		return c.j.dead
	}
	c.j.put[c.rank][key] = value
	return nil
}

func (c *fakeClient) Commit() error { return nil }

// Fence waits for every rank, then publishes all puts.
func (c *fakeClient) Fence() error {
	j := c.j
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.dead != nil {
		return j.dead
	}
	gen := j.gen
	if j.arrived++; j.arrived == j.size {
		for r, kv := range j.put {
			for k, v := range kv {
				j.visible[r][k] = v
			}
			j.put[r] = map[string]string{}
		}
		j.arrived, j.gen = 0, j.gen+1
		j.cond.Broadcast()
	}
	for gen == j.gen && j.dead == nil {
		j.cond.Wait()
	}
	if gen == j.gen {
		return fmt.Errorf("fence: %w", j.dead)
	}
	return nil
}

func (c *fakeClient) Get(rank int, key string) (string, bool, error) {
	j := c.j
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.dead != nil {
		return "", false, j.dead
	}
	switch {
	case rank == RankWildcard:
		v, ok := j.job[key]
		return v, ok, nil
	case rank == pmi.AnyRank:
		for r := 0; r < j.size; r++ {
			if v, ok := j.visible[r][key]; ok {
				return v, true, nil
			}
		}
		return "", false, nil
	case rank < 0 || rank >= j.size:
		return "", false, errors.New("bad rank")
	}
	if v, ok := j.perRank[rank][key]; ok {
		return v, true, nil
	}
	v, ok := j.visible[rank][key]
	return v, ok, nil
}

func (c *fakeClient) Abort(code int, _ string) error {
	j := c.j
	j.mu.Lock()
	j.aborts = append(j.aborts, code)
	block, err := j.blockAbt, j.abortErr
	j.mu.Unlock()
	if block != nil {
		<-block
	}
	return err
}

func (c *fakeClient) Finalize() error { return nil }

func (c *fakeClient) Publish(service, port string) error {
	c.j.mu.Lock()
	defer c.j.mu.Unlock()
	if c.j.names == nil {
		c.j.names = map[string]string{}
	}
	c.j.names[service] = port
	return nil
}

func (c *fakeClient) Lookup(service string) (string, bool, error) {
	c.j.mu.Lock()
	defer c.j.mu.Unlock()
	p, ok := c.j.names[service]
	return p, ok, nil
}

func (c *fakeClient) Unpublish(service string) error {
	c.j.mu.Lock()
	defer c.j.mu.Unlock()
	delete(c.j.names, service)
	return nil
}
