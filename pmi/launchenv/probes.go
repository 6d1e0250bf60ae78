package launchenv

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Probes are the facts Detect needs that only system calls know. A nil
// probe reads as failed (no peer, parent 0, empty namespace and host), so
// the zero Probes is pure: right for Launcher, ranks, sizes and Offer, but
// its Step and Node are not this process's.
type Probes struct {
	// PeerPid is the pid at the other end of socket fd (SO_PEERCRED);
	// false if fd is not a connected socket here.
	PeerPid func(fd int) (pid int, ok bool)

	// FDIsSocket reports whether fd is an open socket in this process.
	// With it, a PMI_FD that is not one is no offer: it was left over from
	// an outer launcher (srun around mpirun) and names a descriptor this
	// process does not have. Nil means trust the variable: PMI_FD being
	// set is an offer. That is for a process deciding for another one
	// whose descriptors it can't see (mpiwrap's node keeper).
	FDIsSocket func(fd int) bool

	Ppid     func() int
	NetNS    func() string // the network namespace: "netns:COOKIE" (netNS)
	Hostname func() string
}

// Real returns the probes of the current process, FDIsSocket included.
func Real() Probes {
	return Probes{PeerPid: peerPid, FDIsSocket: fdIsSocket, Ppid: os.Getppid,
		NetNS: netNS, Hostname: hostname}
}

// TrustPMIFD returns p without FDIsSocket: PMI_FD being set is an offer.
func (p Probes) TrustPMIFD() Probes {
	p.FDIsSocket = nil
	return p
}

// NodeKey qualifies a step key with the network namespace and host name,
// so test "hosts" in separate network namespaces never share a container.
// nsx_join_key in mpiwrap/nsexec/fastpath.c builds the same string.
func (p Probes) NodeKey(step string) string {
	var net, host string
	if p.NetNS != nil {
		net = p.NetNS()
	}
	if p.Hostname != nil {
		host = p.Hostname()
	}
	return step + "|" + net + "|" + host
}

func (p Probes) peerPid(fd int) (int, bool) {
	if p.PeerPid == nil {
		return 0, false
	}
	return p.PeerPid(fd)
}

func (p Probes) ppid() int {
	if p.Ppid == nil {
		return 0
	}
	return p.Ppid()
}

func peerPid(fd int) (int, bool) {
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return 0, false
	}
	return int(cred.Pid), true
}

func fdIsSocket(fd int) bool {
	var st unix.Stat_t
	return unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFSOCK
}

// netNS names this process's network namespace by its cookie
// (SO_NETNS_COOKIE, Linux 5.14), unique while the system runs: one
// getsockopt, where reading the link /proc/self/ns/net costs every rank
// of a wide job some 20 µs of /proc lookups. Older kernels name it by that
// link, "net:[INODE]". nsx_join_key (nsexec/fastpath.c) does the same.
func netNS() string {
	if s, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err == nil {
		cookie, err := unix.GetsockoptUint64(s, unix.SOL_SOCKET, unix.SO_NETNS_COOKIE)
		unix.Close(s)
		if err == nil {
			return "netns:" + strconv.FormatUint(cookie, 10)
		}
	}
	net, _ := os.Readlink("/proc/self/ns/net")
	return net
}

func hostname() string {
	host, _ := os.Hostname()
	return host
}
