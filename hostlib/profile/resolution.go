package profile

import (
	"fmt"
	"github.com/mpiwrap/mpiwrap/internal/errlist"

	"github.com/mpiwrap/mpiwrap/hostlib/abi"
)

// Kinds of resolved files.
const (
	KindLibrary = "library"
	KindFile    = "file"
	KindDir     = "dir"
	KindBinary  = "binary"
	KindDevice  = "device"
	// KindDependency marks a missing DT_NEEDED entry of a closure.
	KindDependency = "dependency"
)

// File is one host file or directory to bind read-only.
type File struct {
	// Kind is KindLibrary, KindFile, KindDir or KindBinary.
	Kind string `json:"kind"`
	// Source is the host path as found (may be a symlink).
	Source string `json:"source"`
	// Real is Source with symlinks resolved: what gets bound.
	Real string `json:"real"`
	// Dest is the path in the container.
	Dest string `json:"dest"`
	// Profile and Item say who asked for it ("mpich", "library libmpich.so.12").
	Profile string `json:"profile"`
	Item    string `json:"item"`
	// NeededBy is set for closure members: the library that needs it.
	NeededBy string `json:"needed_by,omitempty"`
	// Soname is DT_SONAME of a library.
	Soname string `json:"soname,omitempty"`
}

// Link is a symlink to create in the container: Path -> Target, with
// Target a base name in the same directory.
type Link struct {
	Path   string `json:"path"`
	Target string `json:"target"`
}

// Device is a device node to bind at the same path.
type Device struct {
	Source  string `json:"source"`
	Dest    string `json:"dest"`
	Profile string `json:"profile"`
}

// Missing is an item, or a closure dependency, not found on this host.
type Missing struct {
	Profile  string `json:"profile"`
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	Required bool   `json:"required"`
	// Reason says why, e.g. "not found in search_dirs, ld.so.cache or /lib…".
	Reason string `json:"reason"`
	// Pos is "file:line" of the profile item.
	Pos string `json:"pos,omitempty"`
}

// Conflict records two different host files wanting one container path;
// the first (in profile order) is kept.
type Conflict struct {
	Dest    string `json:"dest"`
	Kept    string `json:"kept"`
	Dropped string `json:"dropped"`
	Profile string `json:"profile"`
}

// ABISpec is what a profile declares about MPI ABI, with the injected
// libraries that carry it.
type ABISpec struct {
	Profile string     `json:"profile"`
	Family  abi.Family `json:"family"`
	Policy  abi.Policy `json:"policy"`
	// Libraries are the injected files (Real host paths) whose name is
	// one of Family.Sonames(), with that name.
	Libraries []ABILibrary `json:"libraries"`
}

// ABILibrary is one MPI library of an ABISpec.
type ABILibrary struct {
	Soname string `json:"soname"`
	Real   string `json:"real"`
	Dest   string `json:"dest"`
}

// ResolvedItem is one [[library]] or [[binary]] item and the files it
// named (not their closures), so that decisions about a whole item can
// be made later: an optional item whose closure fails an image's ABI
// checks is dropped whole (see hostlib.Build).
type ResolvedItem struct {
	Profile string `json:"profile"`
	// Kind is KindLibrary or KindBinary.
	Kind string `json:"kind"`
	// Label is how messages name it: "binary lstopo-no-graphics".
	Label string `json:"label"`
	// Pos is "file:line" of the item.
	Pos      string `json:"pos"`
	Required bool   `json:"required"`
	// Dests are the container paths (File.Dest) of the files found for
	// it, in the order found; empty when nothing was found.
	Dests []string `json:"dests"`
}

// ProfileRef names a profile that took part.
type ProfileRef struct {
	Name        string `json:"name"`
	Source      string `json:"source"`
	Description string `json:"description,omitempty"`
}

// Resolution is what a set of profiles means on this host. All slices
// are in a deterministic order: Files by Dest, Links by Path, Devices by
// Dest, Env in application order, the rest in profile order.
type Resolution struct {
	InjectDir string       `json:"inject_dir"`
	Multiarch string       `json:"multiarch"`
	Profiles  []ProfileRef `json:"profiles"`
	Files     []File       `json:"files"`
	Links     []Link       `json:"links"`
	Devices   []Device     `json:"devices"`
	Env       []EnvEdit    `json:"env"`
	ABI       []ABISpec    `json:"abi"`
	Missing   []Missing    `json:"missing"`
	Conflicts []Conflict   `json:"conflicts"`
	// Items are the library and binary items, in profile order.
	Items []ResolvedItem `json:"items"`
}

// Err returns an error naming every required item that is missing, or
// nil. Optional items never fail a run.
func (r *Resolution) Err() error {
	var missing errlist.List // every missing item at once
	for _, m := range r.Missing {
		if m.Required {
			at := ""
			if m.Pos != "" {
				at = " (" + m.Pos + ")"
			}
			missing = append(missing, fmt.Errorf("profile %s: %s %s: %s%s", m.Profile, m.Kind, m.Name, m.Reason, at))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("resolve profiles: %w; install it on this host, mark the item required = false, or drop the profile", missing)
}

// Libraries returns the library files, in Dest order.
func (r *Resolution) Libraries() []File {
	var out []File
	for _, f := range r.Files {
		if f.Kind == KindLibrary {
			out = append(out, f)
		}
	}
	return out
}
