// Package hostlib computes how host MPI, verbs, fabric and GPU stacks are
// injected into a container image. It decides; the runtime mounts.
//
// The pieces, each in its own package:
//
//   - profile: site profiles (TOML), their precedence, selection, and
//     resolution against the host into a Resolution: host files with
//     their container paths, links, devices, environment edits, missing
//     items and declared MPI ABI families.
//   - elfdeps: ELF reading and ld.so-style dependency closures.
//   - ldcache: glibc's ld.so.cache format, read and written.
//   - abi: the MPI version, glibc/libstdc++ version and symbol checks.
//
// This package joins them. [Build] takes a Resolution and an image root
// and returns an [Injection]:
//
//   - read-only binds: each host library's real file at
//     <inject dir>/<soname> (default /.mpiwrap/lib), plugin libraries and
//     files where their profile says;
//   - links for every other name a library is known by;
//   - the container's ld.so.conf: the inject dir first, then the image's
//     own /etc/ld.so.conf with includes expanded inside the image;
//   - the container's ld.so.cache: the entries ldconfig would write for
//     the inject dir, then the image's own /etc/ld.so.cache taken as it
//     is (it is what the image's ld.so uses today), merged in ld.so's
//     sort order so that injected libraries win even where the image has
//     a copy of the same soname, glibc-hwcaps copies included (see
//     ldcache.Merge). No ldconfig runs; tests check the result against
//     `ldconfig -C … -f … -r …` and the real ld.so in a chroot;
//   - the ABI report (abi.Report), to refuse a launch before it starts.
//
// The per-node cache of these artefacts is keyed by [CacheKey] (or
// [ResolutionKey]): image identity, inject dir, profile names in order,
// and the path, size, mtime, inode and device of every host file.
package hostlib
