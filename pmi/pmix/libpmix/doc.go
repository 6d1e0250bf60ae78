//go:build cgo

// Package libpmix is the PMIx client of mpiwrap's helper process
// (cmd/mpiwrap-pmix): it dlopens the host's libpmix (libpmix.so.2, then
// libpmix.so) and calls it through mpiwrap's own declarations of the PMIx
// v4 ABI (abi.h), so neither mpiwrap nor the helper needs pmix.h to build.
// abi_test.go checks those declarations against the real headers where
// libpmix-dev is installed.
//
// It needs cgo and a dynamically linked executable: dlopen does not work
// in a static one, which is why this is not part of mpiwrap itself.
package libpmix
