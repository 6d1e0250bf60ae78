// Package procs reads the process table in /proc, for tests and
// benchmarks that look at what mpiwrap left running.
package procs

import (
	"os"
	"strconv"
	"strings"
)

// All lists every process id.
func All() []int {
	var pids []int
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		if pid, err := strconv.Atoi(d.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Exe is the executable of pid, "" if it is gone or hidden.
func Exe(pid int) string {
	exe, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	return exe
}

// Parent is the parent of pid, 0 if it is gone.
func Parent(pid int) int {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name may hold spaces and parentheses: fields start after the last ')'.
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	if len(f) < 2 {
		return 0
	}
	pp, _ := strconv.Atoi(f[1])
	return pp
}

// Running lists the processes whose executable is exe.
func Running(exe string) []int {
	var pids []int
	for _, pid := range All() {
		if Exe(pid) == exe {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Descendants lists the processes below pid, breadth first.
func Descendants(pid int) []int {
	children := map[int][]int{}
	for _, p := range All() {
		pp := Parent(p)
		children[pp] = append(children[pp], p)
	}
	var out []int
	for queue := []int{pid}; len(queue) > 0; queue = queue[1:] {
		for _, c := range children[queue[0]] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}
