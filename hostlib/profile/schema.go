package profile

import "github.com/mpiwrap/mpiwrap/hostlib/abi"

// rawProfile mirrors the TOML file; pointers tell "absent" from false.
type rawProfile struct {
	Description string       `toml:"description"`
	ABI         string       `toml:"abi"`
	ABIPolicy   string       `toml:"abi_policy"`
	SearchDirs  []string     `toml:"search_dirs"`
	Exclude     []string     `toml:"exclude"`
	Library     []rawLibrary `toml:"library"`
	File        []rawFile    `toml:"file"`
	Binary      []rawBinary  `toml:"binary"`
	Device      []rawDevice  `toml:"device"`
	Env         []rawEnv     `toml:"env"`
}

type rawLibrary struct {
	Name     string   `toml:"name"`
	Names    []string `toml:"names"`
	Closure  *bool    `toml:"closure"`
	Required *bool    `toml:"required"`
	Dest     string   `toml:"dest"`
}

type rawFile struct {
	Path     string   `toml:"path"`
	Paths    []string `toml:"paths"`
	Dest     string   `toml:"dest"`
	Required *bool    `toml:"required"`
}

type rawBinary struct {
	Name     string   `toml:"name"`
	Names    []string `toml:"names"`
	Closure  *bool    `toml:"closure"`
	Required *bool    `toml:"required"`
}

type rawDevice struct {
	Path     string   `toml:"path"`
	Paths    []string `toml:"paths"`
	Required *bool    `toml:"required"`
}

type rawEnv struct {
	Op        string  `toml:"op"`
	Name      string  `toml:"name"`
	Value     *string `toml:"value"`
	Separator string  `toml:"separator"`
}

// knownKeys lists the keys allowed at each level, for unknown-key errors
// and "did you mean" hints.
var knownKeys = map[string][]string{
	"":        {"description", "abi", "abi_policy", "search_dirs", "exclude", "library", "file", "binary", "device", "env"},
	"library": {"name", "names", "closure", "required", "dest"},
	"file":    {"path", "paths", "dest", "required"},
	"binary":  {"name", "names", "closure", "required"},
	"device":  {"path", "paths", "required"},
	"env":     {"op", "name", "value", "separator"},
}

// Profile is a validated profile.
type Profile struct {
	// Name is the file name without ".toml".
	Name string `json:"name"`
	// Source is the file it came from ("builtin:mpich.toml" for built-ins).
	Source string `json:"source"`
	// Description is free text for listings.
	Description string `json:"description,omitempty"`
	// ABI is the MPI family whose ABI the injected libraries implement.
	ABI abi.Family `json:"abi"`
	// Policy decides what a minor-version mismatch does.
	Policy abi.Policy `json:"abi_policy"`
	// SearchDirs are extra host directories searched for libraries.
	SearchDirs []string `json:"search_dirs,omitempty"`
	// Exclude adds soname globs to leave out of closures.
	Exclude   []string     `json:"exclude,omitempty"`
	Libraries []Library    `json:"libraries,omitempty"`
	Files     []FileItem   `json:"files,omitempty"`
	Binaries  []Binary     `json:"binaries,omitempty"`
	Devices   []DeviceItem `json:"devices,omitempty"`
	Env       []EnvEdit    `json:"env,omitempty"`
}

// Item holds what every kind of entry has.
type Item struct {
	// Candidates are the names, paths or globs; every one found is used.
	Candidates []string `json:"candidates"`
	// Required makes the run fail when no candidate is found.
	Required bool `json:"required"`
	// Pos is "file:line" of the item, for messages.
	Pos string `json:"pos"`
}

// Library asks for shared libraries.
type Library struct {
	Item
	// Closure also injects what the library needs.
	Closure bool `json:"closure"`
	// Dest is the container directory; empty means the injected dir.
	Dest string `json:"dest,omitempty"`
}

// FileItem asks for files or directories.
type FileItem struct {
	Item
	// Dest is the container path; empty means the host path.
	Dest string `json:"dest,omitempty"`
}

// Binary asks for executables.
type Binary struct {
	Item
	Closure bool `json:"closure"`
}

// DeviceItem asks for device nodes.
type DeviceItem struct {
	Item
}
