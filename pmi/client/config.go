package client

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Config says how to reach the PMI server and what the launcher told us.
type Config struct {
	Conn    net.Conn // connected PMI_FD socket; used when set
	Addr    string   // PMI_PORT "host:port", used when Conn is nil
	ID      int      // PMI_ID, sent in initack (PMI_PORT mode)
	Rank    int      // PMI_RANK (PMI_FD mode); -1 when unset
	Size    int      // PMI_SIZE (PMI_FD mode); -1 when unset
	JobID   string   // PMI_JOBID (Slurm), sent in PMI-2 fullinit
	Spawned bool     // PMI_SPAWNED=1
}

// envTable lists the variables ConfigFromEnv reads, in order.
var envTable = []string{"PMI_FD", "PMI_PORT", "PMI_ID", "PMI_RANK", "PMI_SIZE", "PMI_JOBID", "PMI_SPAWNED"}

// ConfigFromEnv reads the PMI variables a launcher sets. PMI_FD wins over
// PMI_PORT, as in MPICH. The inherited fd is moved into a close-on-exec
// net.Conn, so a child started later does not inherit it.
func ConfigFromEnv(env []string) (Config, error) {
	v := lookupEnv(env, envTable)
	cfg := Config{Rank: -1, Size: -1, JobID: v["PMI_JOBID"], Spawned: v["PMI_SPAWNED"] == "1"}
	var err error
	for _, f := range []struct {
		name string
		dst  *int
	}{{"PMI_RANK", &cfg.Rank}, {"PMI_SIZE", &cfg.Size}, {"PMI_ID", &cfg.ID}} {
		if s, ok := v[f.name]; ok {
			if *f.dst, err = strconv.Atoi(s); err != nil {
				return Config{}, fmt.Errorf("read %s=%q: not an integer", f.name, s)
			}
		}
	}
	switch {
	case v["PMI_FD"] != "":
		cfg.Conn, err = fdConn(v["PMI_FD"])
		return cfg, err
	case v["PMI_PORT"] != "":
		if _, ok := v["PMI_ID"]; !ok {
			return Config{}, fmt.Errorf("read PMI_PORT=%s: PMI_ID is unset; the launcher must set both", v["PMI_PORT"])
		}
		cfg.Addr = v["PMI_PORT"]
		return cfg, nil
	}
	return Config{}, fmt.Errorf("read PMI environment: neither PMI_FD nor PMI_PORT is set; run under a PMI launcher (mpiexec.hydra, srun --mpi=pmi2, flux)")
}

func lookupEnv(env, names []string) map[string]string {
	out := map[string]string{}
	for _, kv := range env {
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		for _, n := range names {
			if k == n {
				out[k] = val // later entries win, as in os/exec
			}
		}
	}
	return out
}

func fdConn(s string) (net.Conn, error) {
	fd, err := strconv.Atoi(s)
	if err != nil || fd < 0 {
		return nil, fmt.Errorf("read PMI_FD=%q: not a file descriptor number", s)
	}
	// Check before wrapping: an *os.File would close a foreign fd.
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return nil, fmt.Errorf("open PMI_FD=%d: not an open socket in this process; the launcher must pass a connected socket", fd)
	}
	f := os.NewFile(uintptr(fd), "PMI_FD")
	if f == nil {
		return nil, fmt.Errorf("read PMI_FD=%d: invalid descriptor", fd)
	}
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("open PMI_FD=%d: %w; the launcher must pass a connected socket", fd, err)
	}
	return c, nil
}

// dial returns cfg's connection, connecting to PMI_PORT if needed.
func (cfg Config) dial(ctx context.Context) (net.Conn, error) {
	if cfg.Conn != nil {
		return cfg.Conn, nil
	}
	if cfg.Addr == "" {
		return nil, fmt.Errorf("connect to PMI server: config has neither a connection nor PMI_PORT")
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("connect to PMI_PORT %s: %w", cfg.Addr, err)
	}
	return c, nil
}
