package nsexec

/*
#include <stdlib.h>
#include "nsexec.h"
*/
import "C"

import "unsafe"

// RunEnvProgramC runs environment program steps (kind, name, value,
// separator) on env with the C interpreter that replays cached plans, so
// tests can check it against the Go one.
func RunEnvProgramC(env []string, steps [][4]string) []string {
	in := cStrings(env)
	var flat []string
	for _, s := range steps {
		flat = append(flat, s[:]...)
	}
	st := cStrings(flat)
	out := C.nsx_env_run(&in[0], &st[0], C.size_t(len(steps)))
	var res []string
	for p := out; *p != nil; p = (**C.char)(unsafe.Add(unsafe.Pointer(p), unsafe.Sizeof(*p))) {
		res = append(res, C.GoString(*p))
	}
	return res // the C strings are left: a test's worth of bytes
}

// cStrings is a NULL-terminated array of C copies of s.
func cStrings(s []string) []*C.char {
	out := make([]*C.char, len(s)+1)
	for i, v := range s {
		out[i] = C.CString(v)
	}
	return out
}

// PlanEnvKey says whether kv (NAME=VALUE) is an input of planning, which
// a cached plan is keyed on; the C replay uses the same rule.
func PlanEnvKey(kv string) bool {
	c := C.CString(kv)
	defer C.free(unsafe.Pointer(c))
	return C.nsx_plan_env_key(c) != 0
}
