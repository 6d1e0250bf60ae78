// Package cluster runs jobs on the multi-host test cluster that
// ci/cluster/cluster.sh makes on one machine: hosts h1..hN, each a network
// namespace (mw-hI) with its own hostname, a veth into the bridge mwbr0,
// an address 10.77.0.(10+I), a private /tmp, /var/tmp and /dev/shm, and
// its own boot_id (so that UCX takes the hosts for separate machines), plus
// a Slurm whose nodes are those hosts. ci/README.md ("Test cluster")
// describes it.
//
// Up and Down need root. The command builders return an argv that any
// local user in the sudo rule (root and the test user) can run as
// themselves: the launchers reach the hosts through the root-owned entry
// script /usr/local/libexec/mpiwrap-ci/enter, which runs the remote side
// as the caller. Programs a job runs inside the hosts must live where
// every host sees them, such as SharedDir (the hosts' /tmp and /var/tmp
// are private).
package cluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	bridge     = "mwbr0"
	bridgeAddr = "10.77.0.1"
	subnet     = "10.77.0.0/24"
	runDir     = "/run/mpiwrap-cluster"
	libexec    = "/usr/local/libexec/mpiwrap-ci"
	sharedDir  = "/var/lib/mpiwrap-cluster/shared"
	slurmConf  = "/var/lib/mpiwrap-cluster/slurm/slurm.conf"
	// sessionLock is held from Up to Down, so that test binaries of
	// several packages (go test ./...) take turns instead of tearing down
	// each other's cluster.
	sessionLock = "/run/lock/mpiwrap-cluster.session"
)

// Cluster is a running test cluster.
type Cluster struct {
	hosts []string
	addrs map[string]string
	lock  *os.File
}

var (
	mu   sync.Mutex
	held *Cluster // the cluster this process brought up
)

// Up makes a cluster of n hosts (cluster.sh up n, which first removes any
// leftovers) and its Slurm; if that fails, it removes what it made. It
// waits up to 10 minutes for another process that holds a cluster to
// bring it down. One cluster per process at a time.
func Up(n int) (*Cluster, error) {
	mu.Lock()
	defer mu.Unlock()
	if held != nil {
		return nil, errors.New("cluster: already up in this process; call Down first")
	}
	lock, err := acquire(10 * time.Minute)
	if err != nil {
		return nil, err
	}
	if err := script(3*time.Minute, "up", strconv.Itoa(n)); err != nil {
		// Leave nothing half made behind for the next holder of the lock.
		if derr := script(2*time.Minute, "down"); derr != nil {
			err = errors.Join(err, derr)
		}
		lock.Close()
		return nil, err
	}
	c, err := load()
	if err != nil {
		lock.Close()
		return nil, err
	}
	c.lock = lock
	held = c
	return c, nil
}

// Down removes the cluster: its Slurm daemons, every process left inside
// a host, the namespaces, links and mounts (cluster.sh down, which fails
// if any of them is left). It may be called again.
func (c *Cluster) Down() error {
	mu.Lock()
	defer mu.Unlock()
	err := script(2*time.Minute, "down")
	if c.lock != nil {
		c.lock.Close()
		c.lock = nil
	}
	if held == c {
		held = nil
	}
	return err
}

// acquire takes sessionLock, polling until wait has passed.
func acquire(wait time.Duration) (*os.File, error) {
	f, err := os.OpenFile(sessionLock, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	for end := time.Now().Add(wait); ; time.Sleep(200 * time.Millisecond) {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(end) {
			f.Close()
			return nil, fmt.Errorf("cluster: another process holds %s: %w", sessionLock, err)
		}
	}
}

// script runs cluster.sh with args, next to this source file.
func script(timeout time.Duration, args ...string) error {
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		return errors.New("cluster: can't locate cluster.sh")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(filepath.Dir(self), "cluster.sh"), args...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("cluster.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// load reads the host list that cluster.sh up wrote ("NAME ADDR" lines).
func load() (*Cluster, error) {
	f, err := os.Open(filepath.Join(runDir, "hosts"))
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	defer f.Close()
	c := &Cluster{addrs: map[string]string{}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, addr, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if ok {
			c.hosts = append(c.hosts, name)
			c.addrs[name] = addr
		}
	}
	if len(c.hosts) == 0 {
		return nil, errors.New("cluster: no hosts in " + f.Name())
	}
	return c, sc.Err()
}

// Hosts are the host names, h1..hN. They resolve inside the hosts (each
// has an /etc/hosts that lists them all), not in the root namespace;
// the builders and the launchers' scripts accept names and addresses.
func (c *Cluster) Hosts() []string { return append([]string(nil), c.hosts...) }

// Addr is the host's address on the bridge ("" for an unknown host).
func (c *Cluster) Addr(host string) string { return c.addrs[host] }

// Bridge is the bridge in the root namespace that joins the hosts.
func (c *Cluster) Bridge() string { return bridge }

// BridgeAddr is the root namespace's address on the bridge, where
// slurmctld, mpiexec and mpirun listen for the hosts.
func (c *Cluster) BridgeAddr() string { return bridgeAddr }

// SharedDir is a world-writable (sticky) directory that every host sees
// at the same path: put the programs and data a job needs under it.
func (c *Cluster) SharedDir() string { return sharedDir }

// SlurmConf is the cluster's slurm.conf; Srun sets SLURM_CONF to it.
func (c *Cluster) SlurmConf() string { return slurmConf }
