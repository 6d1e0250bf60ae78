// Package abi decides, before a launch, whether host libraries can
// serve a container image.
//
// Three checks, each returning data plus a Verdict (ok, warn, refuse,
// or no-image-mpi), gathered in a [Report]:
//
//   - [CheckMPI] compares the MPI library a profile injects with the
//     image's, within an ABI family (MPICH: libmpi.so.12/libmpich.so.12;
//     Open MPI: libmpi.so.40). MAJOR.MINOR.PATCH come from the real file
//     names (libmpich.so.12 -> libmpich.so.12.2.2) on both sides, symlinks
//     followed inside each root. Majors must be equal. With policy "warn"
//     (default) a host minor older than the image's warns; "strict"
//     refuses any minor difference; "major" ignores minors. An image of
//     the other family is refused; an image with no MPI is reported as
//     no-image-mpi and does not stop the run.
//   - [CheckBaseLibraries] takes the symbol versions every injected
//     library needs (.gnu.version_r) from libraries it does not bring
//     along (libc.so.6, libm.so.6, libstdc++.so.6, libgcc_s.so.1, …) and
//     checks that the image's copies define them (.gnu.version_d), as
//     ld.so does at load time. Only what the libraries the command will
//     load lack refuses: the caller marks the others Injected.Unloaded,
//     and what they lack becomes a note (BaseResult.Unloaded).
//     [BaseImage.Lacks] answers for one library, telling a base library
//     the image has none of from a version its copy lacks. It refuses
//     with a message such as
//     "hostlib: /lib/x86_64-linux-gnu/libmpich.so.12 needs GLIBC_2.34 but
//     the image's libc.so.6 provides up to GLIBC_2.31; use an image with
//     glibc >= 2.34 or drop profile mpich".
//   - [CheckSymbols] takes the programs to run, follows their dependency
//     closure inside the image, and for each injected library that
//     replaces one the programs load, lists the dynamic symbols they
//     import which the image's copy defines and the host's lacks, and the
//     symbol versions they need that the host's copy does not define.
//
// The checks read ELF files only; nothing is executed.
package abi
