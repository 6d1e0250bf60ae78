// Package elfdeps finds what an ELF shared object needs, the way glibc's
// dynamic loader would, without running it.
//
// # Reading objects
//
// [ReadObject] uses debug/elf for the headers and collects DT_SONAME,
// DT_NEEDED, DT_RPATH, DT_RUNPATH, DF_1_NODEFLIB, the ELF class and
// machine (as ld.so.cache flags), and the symbol versions the object
// needs (.gnu.version_r) and defines (.gnu.version_d). It decodes the
// dynamic and version sections itself, reading the dynamic section once
// and of the string table only the blocks that hold those names, where
// debug/elf would read the symbol table and the whole string table at
// each call. [Exports] and [Imports] list dynamic symbols for the ABI
// checks. A [Resolver] made by [NewResolver] reads each file once.
//
// # Search order
//
// For every DT_NEEDED name not already loaded (by name or soname), a
// [Resolver] searches, as ld.so(8) documents:
//
//  1. unless the requester has DT_RUNPATH: DT_RPATH of the requester,
//     then of each object that loaded it, up to the root (a root with
//     DT_RUNPATH ignores its own DT_RPATH, as glibc does for the main
//     program);
//  2. Resolver.ExtraDirs (where LD_LIBRARY_PATH would be; profiles use it
//     for drivers installed outside the standard paths);
//  3. DT_RUNPATH of the requesting object;
//  4. the ld.so.cache, entries whose flags match the root object;
//  5. the default directories (/lib/<multiarch>, /usr/lib/<multiarch>,
//     /lib, /usr/lib, or lib64 on distributions without multiarch),
//     unless the requester has DF_1_NODEFLIB.
//
// $ORIGIN expands to the directory of the path an object was found at
// (symlinks are not resolved, as in ld.so); $LIB and $PLATFORM expand
// from Resolver fields. Files of another ELF class or machine are
// skipped and the search goes on, as ld.so does. glibc-hwcaps and legacy
// hwcap subdirectories are not searched: the result is the baseline
// library, the same on every node.
//
// All paths are absolute paths inside [Root]; files are opened through
// github.com/cyphar/filepath-securejoin, so absolute symlinks inside an
// image resolve inside the image.
//
// # Exclusions
//
// A [Closure] stops at names for which Resolver.Exclude returns true.
// [DefaultExclude] leaves out the libc family and the compiler runtime,
// which must come from the image because they are tied to its glibc; see
// its documentation for the list and the reasons.
package elfdeps
