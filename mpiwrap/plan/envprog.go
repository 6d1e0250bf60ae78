package plan

import (
	"fmt"
	"path"
	"strings"

	"github.com/mpiwrap/mpiwrap/hostlib/profile"
	"github.com/mpiwrap/mpiwrap/netinject"
)

// A rank's environment is its launcher's, edited by a program of steps:
// drop the host's loader settings, apply the profiles' edits, the user's,
// what the PMI mode asks for, and the fabric hints. Go runs the program
// (Run) for every plan it encodes in full; the C replay of a cached plan
// runs the same program on the environment of the run being replayed
// (nsexec/envprog.c), which is why a cached plan need not be keyed on, or
// store, the whole environment. A test runs both on the same input.

// EnvStepKind is what a step does; the C half knows the same names.
type EnvStepKind string

// The steps. "first" and "last" say which entry of a name a step edits
// when the environment holds it twice: the user's edits act like setenv
// on the first, the profiles' like getenv on the last.
const (
	StepUnsetGlob EnvStepKind = "unset-glob" // remove every entry whose name matches Name
	StepSetFirst  EnvStepKind = "set-first"  // replace the first Name= entry, or append one
	StepSet       EnvStepKind = "set"        // profile: replace the last Name= entry, or append
	StepPrepend   EnvStepKind = "prepend"    // profile: Value+Sep+old, or Value when unset or empty
	StepAppend    EnvStepKind = "append"     // profile: old+Sep+Value, or Value when unset or empty
	StepDefault   EnvStepKind = "default"    // profile: Value only where unset
	StepUnset     EnvStepKind = "unset"      // profile: remove the last Name= entry
	StepHint      EnvStepKind = "hint"       // a fabric hint: Value only where unset
)

// EnvStep is one step of a rank's environment program.
type EnvStep struct {
	Kind  EnvStepKind `json:"kind"`
	Name  string      `json:"name"`
	Value string      `json:"value,omitempty"`
	Sep   string      `json:"sep,omitempty"`
	// Why is the note the step leaves where it changes something, with
	// {name} and {value} standing for what it changed.
	Why string `json:"why,omitempty"`
}

// EnvProgram is the program for a rank of spec whose environment is env.
// Of env it reads only the PMIx variables (their module names are mapped),
// which are among the plan cache's inputs (nsexec's plan-key rule).
func EnvProgram(spec *Spec, profileEdits []profile.EnvEdit, hints []netinject.Hint, env []string) ([]EnvStep, error) {
	var prog []EnvStep
	if !spec.KeepLDEnv {
		for _, name := range droppedLDVars {
			prog = append(prog, EnvStep{Kind: StepUnsetGlob, Name: name, Why: "drop host {name} (use --keep-ld-env to keep it)"})
		}
	}
	for _, ed := range profileEdits {
		prog = append(prog, EnvStep{Kind: EnvStepKind(ed.Op), Name: ed.Name, Value: ed.Value, Sep: ed.Separator,
			Why: ed.String() + " (profile " + ed.Profile + ")"})
	}
	user, err := userSteps(spec.EnvEdits)
	if err != nil {
		return nil, err
	}
	prog = append(prog, user...)
	switch spec.PMI {
	case PMIOff:
		for _, glob := range []string{"PMI_*", "PMIX_*"} {
			prog = append(prog, EnvStep{Kind: StepUnsetGlob, Name: glob, Why: "unset {name} (--pmi=off)"})
		}
	case "", PMIAuto, PMIPassthrough:
		prog = append(prog, pmixModuleSteps(runSteps(prog, env))...)
	}
	for _, h := range hints {
		prog = append(prog, EnvStep{Kind: StepHint, Name: h.Name, Value: h.Value, Why: h.Why})
	}
	return prog, nil
}

// userSteps are the --set-env, --unset-env and --env-file edits.
func userSteps(edits []EnvEdit) ([]EnvStep, error) {
	var out []EnvStep
	for _, ed := range edits {
		switch ed.Op {
		case "set":
			out = append(out, EnvStep{Kind: StepSetFirst, Name: ed.Name, Value: ed.Value, Why: "set {name}={value} (--set-env)"})
		case "unset":
			out = append(out, EnvStep{Kind: StepUnsetGlob, Name: ed.Name, Why: "unset {name} (--unset-env " + ed.Name + ")"})
		case "file":
			vars, err := ReadEnvFile(ed.Name)
			if err != nil {
				return nil, err
			}
			for _, v := range vars {
				out = append(out, EnvStep{Kind: StepSetFirst, Name: v.Name, Value: v.Value, Why: "set {name}={value} (--env-file " + ed.Name + ")"})
			}
		default:
			return nil, fmt.Errorf("unknown environment edit %q", ed.Op)
		}
	}
	return out, nil
}

// pmixModuleSteps set the MCA names a PMIx client of another version
// reads, from the server's module variables in env (as the program left
// it so far), where they are unset.
func pmixModuleSteps(env *Env) []EnvStep {
	var out []EnvStep
	for _, m := range pmixModuleVars {
		v, ok := env.Get(m[0])
		if _, set := env.Get(m[1]); !ok || set {
			continue
		}
		why := "PMIx of another version reads the MCA name"
		if m[0] == "PMIX_GDS_MODULE" {
			v, why = withoutDs12(v), why+"; without ds12, whose locks fail in a user namespace"
		}
		out = append(out, EnvStep{Kind: StepSetFirst, Name: m[1], Value: v, Why: "set {name}={value} from " + m[0] + " (" + why + ")"})
	}
	return out
}

// runSteps runs prog on env: the Go interpreter of the program. The first
// step keeps only NAME=VALUE entries that are not mpiwrap's own.
func runSteps(prog []EnvStep, env []string) *Env {
	e := &Env{}
	for _, kv := range env {
		if k, _, ok := strings.Cut(kv, "="); ok && !strings.HasPrefix(k, "_MPIWRAP_") {
			e.Vars = append(e.Vars, kv)
		}
	}
	for _, s := range prog {
		e.step(s)
	}
	return e
}

func (e *Env) step(s EnvStep) {
	switch s.Kind {
	case StepUnsetGlob:
		for _, k := range e.Unset(s.Name) {
			e.note(s.Why, k, "")
		}
	case StepSetFirst:
		e.Set(s.Name, s.Value)
		e.note(s.Why, s.Name, s.Value)
	case StepHint:
		if v, ok := e.Get(s.Name); ok {
			e.notef("leave %s=%s as it was set (the fabric hint was %s)", s.Name, v, s.Value)
			return
		}
		e.Set(s.Name, s.Value)
		e.notef("set %s=%s (fabric hint: %s)", s.Name, s.Value, s.Why)
	default: // the profiles' edits, as profile.ApplyEnv does them
		e.Vars = profile.ApplyEnv(e.Vars, []profile.EnvEdit{{Op: profile.EnvOp(s.Kind), Name: s.Name, Value: s.Value, Separator: s.Sep}})
		e.Notes = append(e.Notes, s.Why)
	}
}

// note records a step's change; user input in why stays text.
func (e *Env) note(why, name, value string) {
	e.Notes = append(e.Notes, strings.NewReplacer("{name}", name, "{value}", value).Replace(why))
}

// Unset removes every variable whose name matches the glob.
func (e *Env) Unset(glob string) []string {
	var kept, gone []string
	literal := !strings.ContainsAny(glob, `*?[\`)
	for _, kv := range e.Vars {
		k, _, _ := strings.Cut(kv, "=")
		if k == glob || !literal && matches(glob, k) {
			gone = append(gone, k)
			continue
		}
		kept = append(kept, kv)
	}
	e.Vars = kept
	return gone
}

func matches(glob, name string) bool {
	ok, _ := path.Match(glob, name)
	return ok
}
