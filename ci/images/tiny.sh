#!/bin/bash
# tiny.sh OUT: make a tiny image from host files in OUT (absent or empty), for
# fast namespace and mount tests. It holds /bin/sh (dash) and a few coreutils,
# their libraries and the dynamic loader at the host's paths, an ld.so.cache,
# a minimal /etc (passwd, group, hosts, resolv.conf) and empty mount points.
# Everything is world-readable; the caller makes OUT's parents traversable.
set -euo pipefail

out=${1:-}
[ -n "$out" ] || { echo "usage: $0 OUT" >&2; exit 2; }
if [ -e "$out" ] && [ -n "$(ls -A "$out")" ]; then
	echo "tiny.sh: $out is not empty; give a new or empty directory" >&2
	exit 1
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)

bins="sh dash true false env cat id ls sleep readlink stat echo"

# copy_file PATH: copy the file PATH names (symlinks followed) into OUT at the
# host's canonical directory, so /lib64 -> usr/lib64 style links keep working.
copy_file() {
	local dir
	dir=$(readlink -f "$(dirname "$1")")
	mkdir -p "$out$dir"
	cp -L --preserve=mode "$1" "$out$dir/$(basename "$1")"
}

# Top-level links such as /bin -> usr/bin (merged /usr) are copied as links.
for top in bin sbin lib lib32 lib64 libx32; do
	if [ -L "/$top" ]; then
		target=$(readlink "/$top")
		ln -s "$target" "$out/$top"
		case "$target" in # create the target too, so no link dangles
		/*) mkdir -p "$out$target" ;;
		*) mkdir -p "$out/$target" ;;
		esac
	elif [ -d "/$top" ]; then
		mkdir -p "$out/$top"
	fi
done

libs=()
for b in $bins; do
	if [ -e "/bin/$b" ]; then path=/bin/$b
	elif [ -e "/usr/bin/$b" ]; then path=/usr/bin/$b
	else echo "tiny.sh: host has no $b; install coreutils and dash" >&2; exit 1
	fi
	copy_file "$(readlink -f "$path")"
	if [ -L "$path" ]; then # keep sh -> dash a link, beside its target
		ln -sf "$(readlink "$path")" "$out$(readlink -f "$(dirname "$path")")/$b"
	fi
	# ldd lines: "libc.so.6 => /lib/.../libc.so.6 (0x..)" or "/lib64/ld-linux... (0x..)".
	mapfile -t -O "${#libs[@]}" libs < <(ldd "$path" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
done
mapfile -t libs < <(printf '%s\n' "${libs[@]}" | sort -u)
for l in "${libs[@]}"; do
	copy_file "$l"
done

mkdir -p "$out"/{proc,sys,dev,tmp,home,etc,root,run}
chmod 1777 "$out/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$out/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$out/etc/group"
printf '127.0.0.1\tlocalhost\n' >"$out/etc/hosts"
: >"$out/etc/resolv.conf"
# A real ld.so.cache, as distro images have one that mpiwrap replaces.
for l in "${libs[@]}"; do readlink -f "$(dirname "$l")"; done | sort -u >"$out/etc/ld.so.conf"
ldconfig -X -r "$out" 2>/dev/null || echo "tiny.sh: ldconfig -r failed; image has no ld.so.cache" >&2
chmod -R a+rX "$out"
