package testreq

import (
	"sync"
	"sync/atomic"
	"testing"
)

// Slurm probes once per plugin, however often and however concurrently it
// is asked.
func TestSlurmProbesOncePerPlugin(t *testing.T) {
	var calls sync.Map // plugin -> *atomic.Int32
	old := slurmProbe
	slurm.Clear()
	slurmProbe = func(plugin string) string {
		n, _ := calls.LoadOrStore(plugin, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		return "" // usable, so Slurm neither skips nor fails t
	}
	t.Cleanup(func() { slurmProbe = old; slurm.Clear() })

	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		for _, plugin := range []string{"pmi2", "pmix"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				Slurm(t, plugin)
			}()
		}
	}
	wg.Wait()
	Slurm(t, "pmi2")
	Slurm(t, "pmix")
	for _, plugin := range []string{"pmi2", "pmix"} {
		n, ok := calls.Load(plugin)
		if !ok || n.(*atomic.Int32).Load() != 1 {
			got := int32(0)
			if ok {
				got = n.(*atomic.Int32).Load()
			}
			t.Errorf("plugin %s: probed %d times, want 1", plugin, got)
		}
	}
}
