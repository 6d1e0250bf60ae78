#!/bin/bash
# mpi-small.sh OUT: a small MPI image made from host files, for the README's
# demo and fast MPI tests: tiny.sh's base, the MPICH hello program built with
# the host's mpicc.mpich, its libraries and the UCX transport modules that
# MPICH loads at run time. About 30 MB, made in a second or two.
set -euo pipefail

out=${1:-}
[ -n "$out" ] || { echo "usage: $0 OUT" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
command -v mpicc.mpich >/dev/null || { echo "mpi-small.sh: mpicc.mpich not found; apt-get install libmpich-dev" >&2; exit 1; }
"$here/tiny.sh" "$out"
out=$(cd "$out" && pwd)

copy() { # copy PATH at its canonical directory; a symlink stays a link
	local dir target
	dir=$(readlink -f "$(dirname "$1")")
	mkdir -p "$out$dir"
	if [ -L "$1" ] && [ "$(dirname "$(readlink -f "$1")")" = "$dir" ]; then
		target=$(readlink -f "$1")
		cp --preserve=mode "$target" "$out$dir/"
		ln -sfn "$(basename "$target")" "$out$dir/$(basename "$1")"
	else
		cp -L --preserve=mode "$1" "$out$dir/$(basename "$1")"
	fi
}
deps() { ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'; }

mkdir -p "$out/opt/mpiwrap-test/mpich"
"$here/../progs/build.sh" mpicc.mpich "$out/opt/mpiwrap-test/mpich" >/dev/null
files=$(deps "$out/opt/mpiwrap-test/mpich/hello")
multiarch=$(gcc -print-multiarch)
for mod in /usr/lib/"$multiarch"/ucx/*.so*; do
	[ -e "$mod" ] || continue
	files="$files $mod $(deps "$mod")"
done
for f in $(printf '%s\n' $files | sort -u); do
	copy "$f"
done
echo "/usr/lib/$multiarch/ucx" >>"$out/etc/ld.so.conf"
ldconfig -X -r "$out"
chmod -R a+rX "$out"
