package profile

import (
	"fmt"
	"strings"
)

// EnvOp is an environment edit operation.
type EnvOp string

// Environment operations.
const (
	EnvSet     EnvOp = "set"     // NAME=value
	EnvPrepend EnvOp = "prepend" // NAME=value<sep>old, or value if unset/empty
	EnvAppend  EnvOp = "append"  // NAME=old<sep>value, or value if unset/empty
	EnvUnset   EnvOp = "unset"   // remove NAME
	EnvDefault EnvOp = "default" // NAME=value only if NAME is unset
)

var envOps = []EnvOp{EnvSet, EnvPrepend, EnvAppend, EnvUnset, EnvDefault}

// EnvEdit is one environment change.
type EnvEdit struct {
	Op        EnvOp  `json:"op"`
	Name      string `json:"name"`
	Value     string `json:"value,omitempty"`
	Separator string `json:"separator,omitempty"`
	// Profile names the profile the edit comes from.
	Profile string `json:"profile,omitempty"`
}

func (e EnvEdit) String() string {
	switch e.Op {
	case EnvUnset:
		return "unset " + e.Name
	case EnvPrepend, EnvAppend:
		return fmt.Sprintf("%s %s %q (separator %q)", e.Op, e.Name, e.Value, e.Separator)
	}
	return fmt.Sprintf("%s %s=%q", e.Op, e.Name, e.Value)
}

// validEnvName says whether name is a variable name: a letter or '_',
// then letters, digits and '_' (^[A-Za-z_][A-Za-z0-9_]*$).
func validEnvName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c != '_' && !(asciiAlnum(c) && (i > 0 || c > '9')) {
			return false
		}
	}
	return name != ""
}

// validate checks an edit read from a file.
func (e EnvEdit) validate(valueSet bool) error {
	if !validEnvName(e.Name) {
		return fmt.Errorf("env name %q is not a valid variable name", e.Name)
	}
	switch e.Op {
	case EnvUnset:
		if valueSet {
			return fmt.Errorf("env %s: op \"unset\" takes no value", e.Name)
		}
	case EnvSet, EnvPrepend, EnvAppend, EnvDefault:
		if !valueSet {
			return fmt.Errorf("env %s: op %q needs a value", e.Name, e.Op)
		}
	default:
		return fmt.Errorf("env %s: unknown op %q; use one of %s", e.Name, e.Op, quoteOps())
	}
	return nil
}

func quoteOps() string {
	q := make([]string, len(envOps))
	for i, o := range envOps {
		q[i] = fmt.Sprintf("%q", o)
	}
	return strings.Join(q, ", ")
}

// ApplyEnv applies edits in order to env ("NAME=value" strings) and
// returns a new slice; env is not modified. Each edit sees the result of
// the previous ones. Variables keep their position; new ones are added
// at the end, in the order they were first set.
func ApplyEnv(env []string, edits []EnvEdit) []string {
	out := make([]string, len(env))
	copy(out, env)
	for _, e := range edits {
		i, old, set := lookupEnv(out, e.Name)
		val, keep := editValue(e, old, set)
		switch {
		case !keep && set:
			out = append(out[:i], out[i+1:]...)
		case !keep:
		case set:
			out[i] = e.Name + "=" + val
		default:
			out = append(out, e.Name+"="+val)
		}
	}
	return out
}

// editValue returns the new value and whether the variable stays set.
func editValue(e EnvEdit, old string, set bool) (string, bool) {
	switch e.Op {
	case EnvUnset:
		return "", false
	case EnvDefault:
		if set {
			return old, true
		}
		return e.Value, true
	case EnvPrepend:
		if old == "" {
			return e.Value, true
		}
		return e.Value + e.Separator + old, true
	case EnvAppend:
		if old == "" {
			return e.Value, true
		}
		return old + e.Separator + e.Value, true
	}
	return e.Value, true
}

// lookupEnv finds the last NAME= entry, as getenv would see it.
func lookupEnv(env []string, name string) (int, string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], name+"="); ok {
			return i, v, true
		}
	}
	return -1, "", false
}
