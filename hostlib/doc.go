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
// # What refuses a launch
//
// Only what the command will load. [Build] reads every injected ELF file
// (libraries and binaries), then:
//
//  1. drops each optional item (required = false) whose closure among
//     the injected files (what its files load by DT_NEEDED name) needs a
//     symbol version that the image's copy of a base library (libc.so.6,
//     libm.so.6, libstdc++.so.6, …) does not define. Its files, and the
//     closure members no kept item needs, get no bind, link or cache
//     entry, so the image's own copies serve; abi.Report.Dropped says
//     "dropped optional item … because …". A base library the image has
//     none of does not drop an item: no program in the image could load
//     the item's files, or the image's own copies of them, anyway;
//  2. works out what the command loads: the closure of Options.Binaries
//     through the container's future ld.so.cache (injected first), the
//     injected files read from the host where the container will see
//     them (elfdeps.Resolver.Overlay). When the command is not known
//     (not in the image), is not ELF (a script), or loads none of the
//     profiles' MPI libraries (a shell, an interpreter, a program that
//     starts others), the MPI libraries of the ABI profiles
//     (libmpich.so.12, …) and their closure count as loaded too;
//  3. checks the base libraries: what a loaded file needs and the image
//     lacks refuses the launch ("… needs GLIBC_2.34 but the image's
//     libc.so.6 provides up to GLIBC_2.31"); what another injected file
//     lacks is a note, "P injected, needs X the image lacks"
//     (abi.BaseResult.Unloaded): a program that loads it after all gets
//     the loader's own message naming X.
//
// abi.Report.Notes gathers the notes and dropped items for `mpiwrap
// check` and -v. [WithoutDropped] gives the plan the resolution to mount.
//
// The per-node cache of these artefacts is keyed by [CacheKey] (or
// [ResolutionKey]): image identity, inject dir, profile names in order,
// and the path, size, mtime, inode and device of every host file.
package hostlib
