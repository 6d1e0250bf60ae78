package plan

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// droppedLDVars are host loader settings that would point the container's
// ld.so at host libraries by accident; --keep-ld-env keeps them.
var droppedLDVars = []string{"LD_LIBRARY_PATH", "LD_PRELOAD"}

// Env is an ordered environment with a log of the decisions that shaped it.
type Env struct {
	Vars  []string `json:"vars"`
	Notes []string `json:"notes"`
	// Program made Vars from the launcher's environment; a cached plan
	// runs it again on the environment of each later run.
	Program []EnvStep `json:"program,omitempty"`
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

// Get returns a variable's value.
func (e *Env) Get(name string) (string, bool) { return LookupEnv(e.Vars, name) }

func (e *Env) notef(format string, args ...any) {
	e.Notes = append(e.Notes, fmt.Sprintf(format, args...))
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
