// Package profile loads site profiles, which say which host stacks (MPI,
// verbs, UCX, libfabric, GPU drivers) go into a container, and resolves
// them against the host into a deterministic, JSON-serialisable
// [Resolution].
//
// # Where profiles come from
//
// A profile is one TOML file; its name is the file name without ".toml".
// [Load] reads, in this order, and a later file with the same name
// replaces an earlier one:
//
//  1. the built-in profiles embedded from builtin/*.toml (parsed when a
//     run first needs one: most select none or one, and parsing all six
//     was most of what planning spent on profiles);
//  2. Roots.SiteDir, normally /etc/mpiwrap/profiles.d;
//  3. Roots.UserDir, $XDG_CONFIG_HOME/mpiwrap/profiles.d or
//     ~/.config/mpiwrap/profiles.d;
//  4. Roots.Files, the --profile-file arguments, in order.
//
// Roots.SiteConfig (/etc/mpiwrap/mpiwrap.toml) may hold
//
//	[profiles]
//	default = ["verbs", "mpich"]
//
// naming the profiles every run gets; [Set.Select] adds the user's
// --profile names and removes --no-profile ones. Other tables of that file
// belong to other parts of mpiwrap and are ignored here.
//
// # Broken and unreadable files
//
// Roots.SiteDir, Roots.SiteConfig and Roots.Files belong to the site or
// to the command line: a directory there that can't be read, or a file
// that can't be read or parsed, fails [Load] with the directory and the
// reason, or with file:line and the key. So does a built-in profile from
// Roots.Builtin; the embedded ones are part of the binary, and a test
// makes sure each parses.
//
// Roots.UserDir is the user's own, and one mistake there must not stop
// every run:
//
//   - a UserDir that can't be read (HOME names a directory the user
//     can't read, as when a launcher started by another user hands the
//     ranks its own HOME) is skipped;
//   - a file in it that can't be read or parsed defines no profile. It
//     fails only a selection that could need it: [Set.Select] returns
//     its error (file:line where there is one) when the selection, site
//     defaults included, holds the profile named like the file, even
//     where a built-in or site profile of that name exists, since the
//     file would have replaced it; and, for a file whose name is no
//     valid profile name (it could be meant for any), when the
//     selection holds any profile at all. A run that selects other
//     profiles, none (--no-profile), or drops that one goes on.
//
// Both are listed by [Set.Warnings], which mpiwrap prints under -v.
//
// # Format
//
//	description = "Host MPICH (MPICH ABI, libmpi.so.12)"
//	abi = "mpich"              # mpich, openmpi or none (default)
//	abi_policy = "warn"        # major, warn (default) or strict
//	search_dirs = ["/usr/local/nvidia/lib64"]  # searched like LD_LIBRARY_PATH
//	exclude = ["libfoo.so.*"]  # left out of closures, on top of the libc family
//
//	[[library]]                # by soname, glob or absolute path
//	names = ["libmpich.so.12", "libmpi.so.12"]  # or name = "…"
//	closure = true             # also inject its DT_NEEDED closure (default true)
//	required = true            # default true
//	dest = "/usr/lib/{multiarch}/libibverbs"    # default: the injected dir
//
//	[[file]]                   # files or directories, globs allowed
//	path = "/etc/libibverbs.d" # or paths = […]
//	dest = "/etc/libibverbs.d" # default: the same path; one plain path only
//	required = false
//
//	[[binary]]                 # bare names are searched in PATH-like dirs
//	name = "nvidia-smi"        # or names = […]; closure and required as above
//
//	[[device]]
//	path = "/dev/infiniband/*" # or paths = […]
//
//	[[env]]
//	op = "prepend"             # set, prepend, append, unset, default
//	name = "UCX_MODULE_DIR"
//	value = "{injectdir}/ucx"
//	separator = ":"            # for prepend and append (default ":")
//
// Every item (each [[library]], [[file]], [[binary]], [[device]]) is
// required unless it says required = false. Among the candidates of one
// item, every one that exists is used; the item is missing only when
// none exists. Strings may use {multiarch} (the host's Debian triplet;
// a candidate using it is skipped on hosts without one) and
// {injectdir} (mpiwrap's library directory in the container).
//
// Unknown keys are errors that name the file, line and key. Libraries
// named by soname are looked up like ld.so does (search_dirs, then the
// host's ld.so.cache, then the default directories); globs without a
// slash match ld.so.cache keys and files in search_dirs.
//
// # Where things go
//
// Libraries go to the injected directory under their DT_SONAME; every
// other name they were asked for or are needed by becomes a [Link] to
// that file, which ldconfig indexes under the link's name (so a Cray
// libmpi.so.12 whose soname is libmpich_gnu_71.so.3 is found by both).
// Libraries without a soname keep the name they were asked for.
// Libraries with a dest (plugin directories loaded by path) keep their
// base name there. Files, binaries and
// devices keep their host path unless dest says otherwise.
//
// # Environment edits
//
// Edits apply in profile order (site defaults first, in the order the
// site file lists them, then --profile names in command-line order) and,
// within a profile, in file order; each edit sees the result of the
// ones before it. "default" sets a variable only if it is unset at that
// point, so a later profile's "set" still overrides it. See [ApplyEnv].
package profile
