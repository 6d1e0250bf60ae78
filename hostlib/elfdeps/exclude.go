package elfdeps

import (
	"path"
	"strings"
)

// ExcludedPatterns are the sonames DefaultExclude leaves out of every
// dependency closure (shell globs, matched against the DT_NEEDED name).
//
// Why these:
//   - glibc's own libraries (libc, libm, libmvec, libpthread, libdl, librt,
//     libresolv, libutil, libanl, libnsl.so.1, libBrokenLocale,
//     libthread_db, libc_malloc_debug, libnss_*, the dynamic loader):
//     they are built as one unit with the loader and share GLIBC_PRIVATE
//     interfaces, so mixing the host's with the image's breaks at load
//     time. The image's copies are used, and the glibc check verifies
//     that they provide every GLIBC_x.y version the injected libraries
//     need.
//   - libcrypt.so.1: libxcrypt (part of glibc before 2.39) is in every
//     glibc-based base system and versioned the same way.
//   - libstdc++.so.6 and libgcc_s.so.1: the compiler runtime of the image
//     must stay, or the image's own C++ code may get an older runtime;
//     the GLIBCXX_/CXXABI_/GCC_ version check covers the injected side.
//
// libnsl.so.2 is not excluded: it comes from the separate libnsl package,
// not from glibc.
var ExcludedPatterns = []string{
	"libc.so.*", "libm.so.*", "libmvec.so.*", "libpthread.so.*",
	"libdl.so.*", "librt.so.*", "libresolv.so.*", "libutil.so.*",
	"libanl.so.*", "libnsl.so.1", "libBrokenLocale.so.*",
	"libthread_db.so.*", "libc_malloc_debug.so.*", "libnss_*.so.*",
	"libcrypt.so.*", "ld-linux*.so.*", "ld64.so.*", "ld.so.*",
	"libstdc++.so.*", "libgcc_s.so.*",
}

// DefaultExclude reports whether name belongs to the libc family or the
// compiler runtime listed in ExcludedPatterns.
func DefaultExclude(name string) bool {
	return MatchAny(ExcludedPatterns, name)
}

// MatchAny reports whether the base name of name matches one of the
// shell patterns (malformed patterns never match).
func MatchAny(patterns []string, name string) bool {
	base := name[strings.LastIndexByte(name, '/')+1:]
	for _, p := range patterns {
		if ok, err := path.Match(p, base); err == nil && ok {
			return true
		}
	}
	return false
}
