package nsexec

/*
#include "nsexec.h"
*/
import "C"

// Print makes the C half print a line on stderr, with the rank prefix and
// level ("warning: ", "error: " or "").
func (p *Plan) Print(level, msg string) { p.op(C.OP_PRINT, level, msg) }
