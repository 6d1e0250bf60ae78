package pmix

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/wire"
)

// NodeJob is what a node's PMIx server registers, as a PMI-1/2 launcher
// tells it: the job's size, universe and appnum, the node of every rank
// (from PMI_process_mapping) and which node this is.
type NodeJob struct {
	Namespace string // PMIx namespace: the same on every node
	Size      int
	Universe  int
	AppNum    int
	NodeOf    []int  // node of every rank, numbered from 0
	Node      int    // this node
	Hostname  string // this node's; others are named RemoteHost(n)
}

// RemoteHost is the name the server gives node n other than its own: PMI
// names no hosts, and Open MPI uses the names only in messages (which
// ranks share a node comes from the node ids and the local peers).
func RemoteHost(n int) string { return "mpiwrap-node" + strconv.Itoa(n) }

// JobFromUpstream reads the job from one local rank's connection to the
// launcher: its kvsname (the namespace is "mpiwrap." + kvsname, the same
// on every node), size, appnum, universe size and process mapping.
// Without a mapping the job must be all on this node (localSize == size).
func JobFromUpstream(ctx context.Context, up Rank, hostname string, localSize int) (NodeJob, error) {
	in := up.Info()
	j := NodeJob{Namespace: "mpiwrap." + in.KVSName, Size: in.Size, Universe: in.Size, AppNum: max(in.AppNum, 0), Hostname: hostname}
	if len(j.Namespace) > 255 {
		j.Namespace = j.Namespace[:255]
	}
	if v, ok, err := up.JobAttr(ctx, pmi.AttrUniverseSize); err != nil {
		return j, fmt.Errorf("read the universe size: %w", err)
	} else if n, perr := strconv.Atoi(v); ok && perr == nil && n >= in.Size {
		j.Universe = n // hydra says -1 for "unlimited": keep the job size then
	}
	m, ok, err := up.JobAttr(ctx, pmi.AttrProcessMapping)
	switch {
	case err != nil:
		return j, fmt.Errorf("read %s: %w", pmi.AttrProcessMapping, err)
	case ok:
		if j.NodeOf, err = wire.ParseMapping(m, in.Size); err != nil {
			return j, fmt.Errorf("read %s: %w", pmi.AttrProcessMapping, err)
		}
	case localSize == in.Size:
		j.NodeOf = make([]int, in.Size)
	default:
		return j, fmt.Errorf("the launcher gives no %s, and only %d of the job's %d ranks are on this node: which ranks share a node is unknown", pmi.AttrProcessMapping, localSize, in.Size)
	}
	j.Node = j.NodeOf[in.Rank]
	return j, nil
}

// Nodes is how many nodes the job spans.
func (j NodeJob) Nodes() int {
	n := 0
	for _, id := range j.NodeOf {
		n = max(n, id+1)
	}
	return n
}

// Locals are the ranks on node, in order.
func (j NodeJob) Locals(node int) []int {
	var ranks []int
	for r, id := range j.NodeOf {
		if id == node {
			ranks = append(ranks, r)
		}
	}
	return ranks
}

// host names node n.
func (j NodeJob) host(n int) string {
	if n == j.Node {
		return j.Hostname
	}
	return RemoteHost(n)
}

// More PMIx attribute keys, which the node's server registers.
const (
	KeyRank       = "pmix.rank"
	KeyLocalRank  = "pmix.lrank"
	KeyNodeRank   = "pmix.nrank"
	KeyGlobalRank = "pmix.grank"
	KeyAppRank    = "pmix.apprank"
	KeyLocalLdr   = "pmix.lldr"
	KeyLocalSize  = "pmix.local.size"
	KeyMaxProcs   = "pmix.max.size"
	KeyNumNodes   = "pmix.num.nodes"
	KeyNumApps    = "pmix.job.napps"
	KeyAppSize    = "pmix.app.size"
	KeyTmpdir     = "pmix.tmpdir"
	KeyNsdir      = "pmix.nsdir"
	KeyProcdir    = "pmix.pdir"
	KeyRmClean    = "pmix.tdir.rmclean"
	KeyNodeMap    = "pmix.nmap"
	KeyProcMap    = "pmix.pmap"
	KeyJobID      = "pmix.jobid"
	KeySpawned    = "pmix.spawned"
	KeyProcData   = "pmix.pdata"    // PMIX_PROC_DATA: an array of a rank's attributes
	KeyNodeArray  = "pmix.node.arr" // PMIX_NODE_INFO_ARRAY: an array of a node's
)

// Dirs are the directories a node's server gives its job, all inside the
// job's private dir: PMIX_TMPDIR (the server's own files too), PMIX_NSDIR
// and a PMIX_PROCDIR per local rank.
func Dirs(dir string) (nsdir string, procdir func(rank int) string) {
	nsdir = filepath.Join(dir, "ns")
	return nsdir, func(rank int) string { return filepath.Join(nsdir, strconv.Itoa(rank)) }
}

// attrs are the job's, every node's and every rank's PMIx attributes:
// what Open MPI 4.1 reads in MPI_Init (it aborts or hangs without the
// sizes, the local peers and the maps), and the rest of what a launcher
// gives. A rank's node id reaches other nodes' clients only through its
// node's array (libpmix keeps node ids as node data).
func (j NodeJob) attrs(dir string) (job []Attr, arrays [][]Attr) {
	l := j.layout()
	itoa := strconv.Itoa
	locals := j.Locals(j.Node)
	nsdir, procdir := Dirs(dir)
	job = []Attr{
		{KeyJobSize, 'u', itoa(j.Size)},
		{KeyUnivSize, 'u', itoa(j.Universe)},
		{KeyMaxProcs, 'u', itoa(j.Universe)},
		{KeyAppSize, 'u', itoa(j.Size)},
		{KeyNumApps, 'u', "1"},
		{KeyAppNum, 'u', itoa(j.AppNum)},
		{KeyJobID, 's', j.Namespace},
		{KeySpawned, 'b', "0"},
		{KeyNumNodes, 'u', itoa(len(l.hosts))},
		{KeyNodeMap, 'n', strings.Join(l.hosts, ",")},
		{KeyProcMap, 'p', strings.Join(l.ranks, ";")},
		{KeyNodeID, 'u', itoa(j.Node)},
		{KeyHostname, 's', j.Hostname},
		{KeyLocalSize, 'u', itoa(len(locals))},
		{KeyLocalPeers, 's', l.ranks[j.Node]},
		{KeyLocalLdr, 'r', itoa(locals[0])},
		{KeyTmpdir, 's', dir},
		{KeyNsdir, 's', nsdir},
		{KeyRmClean, 'b', "1"},
	}
	for n := range l.hosts {
		rs := j.Locals(n)
		arrays = append(arrays, []Attr{{KeyNodeArray, 'A', ""},
			{KeyHostname, 's', l.hosts[n]},
			{KeyNodeID, 'u', itoa(n)},
			{KeyLocalSize, 'u', itoa(len(rs))},
			{KeyLocalPeers, 's', l.ranks[n]},
			{KeyLocalLdr, 'r', itoa(rs[0])},
		})
	}
	for r := 0; r < j.Size; r++ {
		n := j.NodeOf[r]
		p := []Attr{{KeyProcData, 'A', ""},
			{KeyRank, 'r', itoa(r)},
			{KeyGlobalRank, 'r', itoa(r)},
			{KeyAppRank, 'r', itoa(r)},
			{KeyAppNum, 'u', itoa(j.AppNum)},
			{KeyNodeID, 'u', itoa(n)},
			{KeyHostname, 's', l.hosts[n]},
			{KeyLocalRank, 'h', itoa(l.localRank[r])},
			{KeyNodeRank, 'h', itoa(l.localRank[r])},
		}
		if n == j.Node {
			p = append(p, Attr{KeyProcdir, 's', procdir(r)})
		}
		arrays = append(arrays, p)
	}
	return job, arrays
}

// layout is the job's nodes as the attributes name them: every node's
// host name and ranks ("0,1"), and every rank's place on its node.
type layout struct {
	hosts, ranks []string
	localRank    []int
}

func (j NodeJob) layout() layout {
	nodes := j.Nodes()
	l := layout{hosts: make([]string, nodes), ranks: make([]string, nodes), localRank: make([]int, j.Size)}
	for n := 0; n < nodes; n++ {
		l.hosts[n] = j.host(n)
		rs := j.Locals(n)
		s := make([]string, len(rs))
		for i, r := range rs {
			s[i], l.localRank[r] = strconv.Itoa(r), i
		}
		l.ranks[n] = strings.Join(s, ",")
	}
	return l
}

// OpenMPIEnv are what an Open MPI 4.x rank needs besides its PMIx client
// environment: Open MPI's launch detection (schizo) takes a process for a
// singleton unless Slurm, Flux, LSF or its own orted started it, and the
// orted's mark is its URI, which the rank (ess/pmi) then only parses.
// Nothing listens at this one. Open MPI 5 reads the PMIx variables.
var OpenMPIEnv = []string{"OMPI_MCA_orte_local_daemon_uri=1.0;tcp://127.0.0.1:1"}
