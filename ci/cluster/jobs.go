package cluster

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/procs"
)

// Hydra is the argv of an MPICH hydra job of nranks ranks on hosts, in
// hydra's -hosts syntax ("h1:2" gives h1 two slots; without counts, ranks
// go round-robin): hydra reaches the hosts through the hydra-ssh launcher
// script and advertises its control port on the bridge (-iface).
func (c *Cluster) Hydra(nranks int, hosts []string, cmd ...string) []string {
	argv := []string{"mpiexec.mpich", "-launcher", "ssh", "-launcher-exec", libexec + "/hydra-ssh",
		"-iface", bridge, "-hosts", strings.Join(hosts, ","), "-n", strconv.Itoa(nranks)}
	return append(argv, cmd...)
}

// Srun is the argv of a job step on the cluster's Slurm (SLURM_CONF set
// through env(1)) with --mpi=mpi (pmi2, pmix, none), on nodes nodes with
// ntasks tasks, spread evenly (--ntasks-per-node) when nodes divides them.
func (c *Cluster) Srun(mpi string, nodes, ntasks int, cmd ...string) []string {
	argv := []string{"env", "SLURM_CONF=" + slurmConf, "srun", "--mpi=" + mpi,
		"-N", strconv.Itoa(nodes), "-n", strconv.Itoa(ntasks)}
	if nodes > 0 && ntasks%nodes == 0 {
		argv = append(argv, "--ntasks-per-node="+strconv.Itoa(ntasks/nodes))
	}
	return append(argv, cmd...)
}

// Mpirun is the argv of an Open MPI job on hostsSpec (-H syntax,
// "h1:2,h2:2": one rank per slot): mpirun starts one orted per host
// itself through the ompi-rsh agent (no tree spawn: an orted inside a host
// can't enter another), and its out-of-band and TCP traffic stay on the
// cluster's subnet. Ranks are not bound to cores (the hosts share them),
// and --allow-run-as-root lets root run it too (it changes nothing for
// other users).
func (c *Cluster) Mpirun(hostsSpec string, cmd ...string) []string {
	argv := []string{"mpirun.openmpi", "--allow-run-as-root", "--bind-to", "none", "-H", hostsSpec,
		"--mca", "plm_rsh_agent", libexec + "/ompi-rsh", "--mca", "plm_rsh_no_tree_spawn", "1",
		"--mca", "oob_tcp_if_include", subnet, "--mca", "btl_tcp_if_include", subnet}
	return append(argv, cmd...)
}

// Exec is the argv that runs cmd inside host as whoever runs the argv,
// with that user's HOME and a clean environment, in the caller's working
// directory if the host has it (else HOME).
func (c *Cluster) Exec(host string, cmd ...string) []string {
	return append([]string{"sudo", "-n", libexec + "/enter", host}, cmd...)
}

// VethBytes are the bytes host has received (rx) and sent (tx) over its
// veth, read from the root namespace's end (mw-HOST), whose rx is the
// host's tx. Both count from Up.
func (c *Cluster) VethBytes(host string) (rx, tx uint64, err error) {
	if _, ok := c.addrs[host]; !ok {
		return 0, 0, fmt.Errorf("cluster: no host %q", host)
	}
	read := func(name string) uint64 {
		b, e := os.ReadFile(filepath.Join("/sys/class/net/mw-"+host, "statistics", name))
		if e == nil {
			var n uint64
			n, e = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
			if e == nil {
				return n
			}
		}
		if err == nil {
			err = fmt.Errorf("cluster: veth of %s: %w", host, e)
		}
		return 0
	}
	return read("tx_bytes"), read("rx_bytes"), err
}

// Leftovers lists what is in host's /tmp, /var/tmp and /dev/shm (full
// paths, top level only): what jobs left behind on that node. The hosts
// start with all three empty. Run it as root to see every user's files.
func (c *Cluster) Leftovers(host string) ([]string, error) {
	argv := c.Exec(host, "find", "/tmp", "/var/tmp", "/dev/shm", "-mindepth", "1", "-maxdepth", "1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("cluster: leftovers on %s: %v: %s", host, err, strings.TrimSpace(errb.String()))
	}
	var paths []string
	for _, l := range strings.Split(out.String(), "\n") {
		if l != "" {
			paths = append(paths, l)
		}
	}
	return paths, nil
}

// KillStray kills every process whose command starts with dir or with the
// Debian image's test programs: ranks that a job stopped for MPICH 4.0.2's
// finalize hang left spinning, which would slow every later run.
func KillStray(dir string) {
	for _, p := range procs.All() {
		cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/cmdline")
		if strings.HasPrefix(string(cmd), dir+"/") || strings.HasPrefix(string(cmd), "/opt/mpiwrap-test/") {
			syscall.Kill(p, syscall.SIGKILL)
		}
	}
}
