package pmix

// PMIx statuses that cross the helper protocol in server mode.
const (
	StatusSuccess      = 0
	StatusError        = -1
	StatusNotFound     = -46
	StatusNotSupported = -47
)

// An Attr is one entry of the job or proc information a PMIx server
// registers, with its value as text and Kind telling its type:
//
//	's' string, 'u' uint32, 'h' uint16, 'r' rank, 'b' bool ("1" or "0"),
//	'n' a node map (comma-separated host names, made a regex by libpmix),
//	'p' a proc map (the ranks of each node, "0,1;2,3", made a regex),
//	'A' the head of an array of the attributes after it, Key naming the
//	    array (PMIX_PROC_DATA, PMIX_NODE_INFO_ARRAY); Value is unused.
type Attr struct {
	Key   string
	Kind  byte
	Value string
}

// ServerLib is a PMIx server library as the helper's server mode uses it:
// libpmix (pmi/pmix/libpmix), or a fake in tests. There is one per
// process. Calls block and may come from several goroutines.
type ServerLib interface {
	// Version is the library's version string.
	Version() string
	// Init starts the server with its files in dir.
	Init(dir string) error
	// RegisterNamespace registers the job: job-level attributes and
	// arrays of them, each headed by an 'A' Attr (every rank's own, which
	// start with PMIX_RANK; every node's, which start with PMIX_NODEID).
	RegisterNamespace(nspace string, nlocal int, job []Attr, arrays [][]Attr) error
	// RegisterClient registers a local rank that will connect as uid:gid.
	RegisterClient(nspace string, rank, uid, gid int) error
	// SetupFork is the local rank's PMIx client environment.
	SetupFork(nspace string, rank int) ([]string, error)
	// DmodexRequest returns a local rank's committed data, in the form a
	// direct modex answers with.
	DmodexRequest(nspace string, rank int) ([]byte, error)
	// Events yields what the server asks of its host.
	Events() <-chan ServerEvent
	// Deregister forgets the local ranks and the namespace, running the
	// cleanups the ranks registered (PMIX_REGISTER_CLEANUP).
	Deregister(nspace string, ranks []int) error
	// Finalize stops the server.
	Finalize() error
}

// EventKind is what a ServerEvent asks for.
type EventKind int

// The server's upcalls.
const (
	EvConnected EventKind = iota + 1 // a client connected
	EvFinalized                      // a client called PMIx_Finalize
	EvAbort                          // a client called PMIx_Abort: Code, Msg, Whole; answer with Done
	EvFence                          // every local client entered a fence: Collect, Data; answer with Reply
	EvDmodex                         // data of Nspace:Rank is wanted; answer with Reply
	EvPublish                        // Keys=Values to publish (a value is nil when not a string); Done
	EvLookup                         // Keys to look up; answer with Found
	EvUnpublish                      // Keys to withdraw; Done
)

var evNames = [...]string{"", "connected", "finalized", "abort", "fence", "dmodex", "publish", "lookup", "unpublish"}

func (k EventKind) String() string {
	if k > 0 && int(k) < len(evNames) {
		return evNames[k]
	}
	return "event?"
}

// ServerEvent is one upcall of the server. Exactly one of Reply, Done and
// Found answers it (none for EvConnected and EvFinalized), exactly once.
type ServerEvent struct {
	Kind    EventKind
	Rank    int    // the client that asked (EvDmodex: the rank wanted)
	Nspace  string // EvDmodex
	Code    int    // EvAbort
	Msg     string // EvAbort
	Whole   bool   // EvAbort: the whole job is to end
	Collect bool   // EvFence: PMIX_COLLECT_DATA
	Data    []byte // EvFence: this node's contribution
	Keys    []string
	Values  []*string // EvPublish

	Reply func(status int, data []byte)
	Done  func(status int)
	Found func(status int, keys, values []string)
}
