package nsexec

/*
#include "nsexec.h"
*/
import "C"

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// opNames name the plan opcodes of nsexec.h.
var opNames = map[uint32]string{
	C.OP_LOG: "log", C.OP_UNSHARE: "unshare", C.OP_SETNS: "setns", C.OP_OPEN: "open",
	C.OP_STAGE: "stage", C.OP_STAGE_MKDIR: "stage-mkdir", C.OP_STAGE_WRITE: "stage-write",
	C.OP_STAGE_FD: "stage-fd", C.OP_FUSE: "fuse", C.OP_PRECREATE: "precreate", C.OP_ROOT: "root",
	C.OP_BIND: "bind", C.OP_REMOUNT_ROOT: "remount-root", C.OP_DETACH: "detach", C.OP_PIVOT: "pivot",
	C.OP_SENDNS: "sendns", C.OP_CHDIR: "chdir", C.OP_EXEC: "exec", C.OP_RETURN: "return",
	C.OP_PRINT: "print", C.OP_INHERIT: "inherit", C.OP_ROOT_HERE: "root-here", C.OP_STAGE_LINK: "stage-link",
	C.OP_NET_NONE: "net-none", C.OP_ENV: "env", C.OP_EXEC_ENV: "exec-env",
}

// Dump renders an encoded plan one step a line, its arguments quoted, for
// tests and for debugging what the C half was asked to do.
func Dump(b []byte) (string, error) {
	var out strings.Builder
	u32 := func() (uint32, error) {
		if len(b) < 4 {
			return 0, fmt.Errorf("truncated plan")
		}
		v := binary.NativeEndian.Uint32(b)
		b = b[4:]
		return v, nil
	}
	for len(b) > 0 {
		op, err := u32()
		if err != nil {
			return "", err
		}
		n, err := u32()
		if err != nil {
			return "", err
		}
		name, ok := opNames[op]
		if !ok {
			name = "op" + strconv.Itoa(int(op))
		}
		out.WriteString(name)
		for range n {
			l, err := u32()
			if err != nil || uint64(l) > uint64(len(b)) {
				return "", fmt.Errorf("truncated %s step", name)
			}
			fmt.Fprintf(&out, " %q", b[:l])
			b = b[l:]
		}
		out.WriteByte('\n')
	}
	return out.String(), nil
}
