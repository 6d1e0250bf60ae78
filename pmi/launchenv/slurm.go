package launchenv

import (
	"strconv"
	"strings"
)

// SlurmTasks reads Slurm's compressed per-node task counts, as in
// SLURM_STEP_TASKS_PER_NODE: "2(x3),1" is 2 tasks on each of nodes 0 to 2
// and 1 on node 3. It returns node's count, or false for a node that is
// negative or past the list, and for a list Slurm does not write: an
// entry before node's whose count or repeat is not a positive integer.
func SlurmTasks(list string, node int) (int, bool) {
	if node < 0 {
		return 0, false
	}
	for _, part := range strings.Split(list, ",") {
		count, reps := part, "1"
		if i := strings.Index(part, "(x"); i >= 0 && strings.HasSuffix(part, ")") {
			count, reps = part[:i], part[i+2:len(part)-1]
		}
		n, err1 := strconv.Atoi(count)
		r, err2 := strconv.Atoi(reps)
		if err1 != nil || err2 != nil || n <= 0 || r <= 0 {
			return 0, false
		}
		if node < r {
			return n, true
		}
		node -= r
	}
	return 0, false
}
