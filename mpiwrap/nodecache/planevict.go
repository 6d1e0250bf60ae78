package nodecache

import (
	"cmp"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// maxPlans bounds the plan cache: a user never notices 64 entries of a few
// KiB, and a job array or a changing PATH can't fill the disk. The C
// replay marks an entry used (its mtime) on every hit, so the least
// recently used go first; it also removes an entry whose inputs changed.
const maxPlans = 64

// evictPlans removes the least recently used plans beyond max.
func evictPlans(dir string, max int) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	type plan struct {
		name string
		used int64
	}
	var plans []plan
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".plan") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if info, err := e.Info(); err == nil {
			plans = append(plans, plan{e.Name(), info.ModTime().UnixNano()})
		}
	}
	if len(plans) <= max {
		return
	}
	slices.SortFunc(plans, func(a, b plan) int { return cmp.Compare(b.used, a.used) })
	for _, p := range plans[max:] {
		os.Remove(filepath.Join(dir, p.name))
	}
}
