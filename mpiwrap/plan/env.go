package plan

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/mpiwrap/mpiwrap/hostlib/profile"
)

// droppedLDVars are host loader settings that would point the container's
// ld.so at host libraries by accident; --keep-ld-env keeps them.
var droppedLDVars = []string{"LD_LIBRARY_PATH", "LD_PRELOAD"}

// Env is an ordered environment with a log of the decisions that shaped it.
type Env struct {
	Vars  []string `json:"vars"`
	Notes []string `json:"notes"`
}

// Set replaces or appends NAME=VALUE, keeping the variable's position.
func (e *Env) Set(name, value string) {
	for i, kv := range e.Vars {
		if k, _, _ := strings.Cut(kv, "="); k == name {
			e.Vars[i] = name + "=" + value
			return
		}
	}
	e.Vars = append(e.Vars, name+"="+value)
}

// Unset removes every variable whose name matches the glob.
func (e *Env) Unset(glob string) []string {
	var kept []string
	var gone []string
	for _, kv := range e.Vars {
		k, _, _ := strings.Cut(kv, "=")
		if ok, _ := path.Match(glob, k); ok {
			gone = append(gone, k)
			continue
		}
		kept = append(kept, kv)
	}
	e.Vars = kept
	return gone
}

// Get returns a variable's value.
func (e *Env) Get(name string) (string, bool) { return LookupEnv(e.Vars, name) }

func (e *Env) notef(format string, args ...any) {
	e.Notes = append(e.Notes, fmt.Sprintf(format, args...))
}

// BuildEnv derives the command's environment from the host's: everything
// passes (launcher variables included) except the host loader settings and
// mpiwrap's own internal variables; then the profiles' edits apply, then
// the user's, each in order.
func BuildEnv(host []string, spec *Spec, profileEdits []profile.EnvEdit) (*Env, error) {
	e := &Env{}
	for _, kv := range host {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || strings.HasPrefix(k, "_MPIWRAP_") {
			continue
		}
		e.Vars = append(e.Vars, kv)
	}
	if spec.KeepLDEnv {
		e.notef("keep host LD_LIBRARY_PATH and LD_PRELOAD (--keep-ld-env)")
	} else {
		for _, name := range droppedLDVars {
			if gone := e.Unset(name); len(gone) > 0 {
				e.notef("drop host %s (use --keep-ld-env to keep it)", name)
			}
		}
	}
	if len(profileEdits) > 0 {
		e.Vars = profile.ApplyEnv(e.Vars, profileEdits)
		for _, ed := range profileEdits {
			e.notef("%s (profile %s)", ed, ed.Profile)
		}
	}
	for _, ed := range spec.EnvEdits {
		if err := e.apply(ed); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func (e *Env) apply(ed EnvEdit) error {
	switch ed.Op {
	case "set":
		e.Set(ed.Name, ed.Value)
		e.notef("set %s=%s (--set-env)", ed.Name, ed.Value)
	case "unset":
		for _, k := range e.Unset(ed.Name) {
			e.notef("unset %s (--unset-env %s)", k, ed.Name)
		}
	case "file":
		vars, err := ReadEnvFile(ed.Name)
		if err != nil {
			return err
		}
		for _, v := range vars {
			e.Set(v.Name, v.Value)
			e.notef("set %s=%s (--env-file %s)", v.Name, v.Value, ed.Name)
		}
	default:
		return fmt.Errorf("unknown environment edit %q", ed.Op)
	}
	return nil
}

// ReadEnvFile reads NAME=VALUE lines; blank lines and lines starting with #
// are skipped, and one pair of matching quotes around a value is removed.
func ReadEnvFile(name string) ([]EnvEdit, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("read --env-file: %w", err)
	}
	defer f.Close()
	var out []EnvEdit
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("%s:%d: want NAME=VALUE, got %q", name, n, line)
		}
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		if strings.ContainsRune(v, 0) {
			return nil, fmt.Errorf("%s:%d: the value of %s holds a NUL byte, which an environment can't carry", name, n, k)
		}
		out = append(out, EnvEdit{Op: "set", Name: k, Value: v})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read --env-file %s: %w", name, err)
	}
	return out, nil
}
