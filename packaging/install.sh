#!/bin/bash
# install.sh: make install and make uninstall.
#
#   install.sh install BIN HELPER DOCSDIR PROFILESDIR VALIDATE
#   install.sh uninstall
#
# PREFIX (default /usr/local) is where mpiwrap will live on the target
# machine; DESTDIR (default empty) is prepended to every path written, for
# staging and packaging. install puts
#
#   PREFIX/bin/mpiwrap, PREFIX/bin/mpiwrap-pmix      side by side: mpiwrap
#                                                    finds its helper next to itself
#   PREFIX/bin/mpiwrap-validate                      VALIDATE, which mpiwrap validate
#                                                    execs, also found next to mpiwrap
#   PREFIX/share/man/man1/mpiwrap*.1                 DOCSDIR/man1 (make docs)
#   PREFIX/share/man/man5/mpiwrap-profile.5          DOCSDIR/man5
#   PREFIX/share/bash-completion/completions/mpiwrap
#   PREFIX/share/zsh/site-functions/_mpiwrap
#   PREFIX/share/fish/vendor_completions.d/mpiwrap.fish
#   PREFIX/share/mpiwrap/profiles/NAME.toml          PROFILESDIR/NAME.toml with a
#                                                    header saying how to override it
#   PREFIX/share/mpiwrap/install-manifest            what install wrote
#
# The manifest has a line "f PATH" for every file installed and "d PATH" for
# every directory that install made (paths as on the target, without
# DESTDIR). uninstall removes exactly those files and the manifest, then
# those directories that are empty; nothing else. A second install over a
# first keeps the first one's directories in the manifest and removes the
# files the first installed that this one no longer does.
set -euo pipefail

die() { echo "install.sh: $*" >&2; exit 1; }

prefix=${PREFIX:-/usr/local}
destdir=${DESTDIR:-}
case $prefix in
/*) ;;
*) die "PREFIX must be an absolute path, not '$prefix'" ;;
esac
case "$prefix$destdir" in
*$'\n'*) die "PREFIX and DESTDIR may not hold newlines" ;;
esac
prefix=${prefix%/}
[ -n "$prefix" ] || die "PREFIX=/ is not supported"
manifest_path=$prefix/share/mpiwrap/install-manifest
manifest=$destdir$manifest_path

files=() # installed this time, target paths
dirs=()  # made this time or by an earlier install, target paths

# ensure_dir DIR: make DESTDIR/DIR and the parents it lacks, recording them.
ensure_dir() {
	[ -d "$destdir$1" ] && return 0
	if [ "$1" = / ]; then # DESTDIR itself: staging, not part of the install
		mkdir -p "$destdir/"
		return 0
	fi
	[ ! -e "$destdir$1" ] || die "$destdir$1 exists and is not a directory"
	ensure_dir "$(dirname "$1")"
	mkdir -m 0755 "$destdir$1"
	dirs+=("$1")
}

# put MODE SRC DST: install SRC as DESTDIR/DST.
put() {
	ensure_dir "$(dirname "$3")"
	install -m "$1" "$2" "$destdir$3"
	files+=("$3")
	echo "  $3"
}

# profile_example NAME SRC DST: the built-in profile SRC with a header.
profile_example() {
	local tmp
	tmp=$(mktemp)
	cat >"$tmp" <<EOF
# Example: mpiwrap's built-in profile "$1", as this version of mpiwrap
# carries it. mpiwrap does not read this file: it uses its own built-in
# copy, which \`mpiwrap profile show $1\` resolves against this host.
#
# To change what the profile injects, copy this file to
# /etc/mpiwrap/profiles.d/$1.toml and edit it there: a profile of the same
# name in /etc/mpiwrap/profiles.d replaces the built-in one for every run
# (\`mpiwrap profile list\` then shows it as overriding builtin:$1.toml).
# Under another name it is a new profile. The format is in
# mpiwrap-profile(5); test it with \`mpiwrap profile show $1\` and
# \`mpiwrap check --profile $1 IMAGE\`.

EOF
	cat "$2" >>"$tmp"
	put 0644 "$tmp" "$3"
	rm -f "$tmp"
}

# read_manifest: the previous install's entries, as old_files and old_dirs.
old_files=()
old_dirs=()
read_manifest() {
	[ -f "$manifest" ] || return 1
	local kind path
	while IFS= read -r line; do
		kind=${line%% *}
		path=${line#* }
		case $kind in
		f) old_files+=("$path") ;;
		d) old_dirs+=("$path") ;;
		'#' | '') ;;
		*) die "$manifest: bad line '$line'" ;;
		esac
	done <"$manifest"
}

write_manifest() {
	local tmp=$manifest.tmp.$$
	{
		echo "# mpiwrap install-manifest: make uninstall PREFIX=$prefix removes these (f: file, d: directory made by install, removed if empty)"
		for d in "${dirs[@]}"; do echo "d $d"; done
		for f in "${files[@]}"; do echo "f $f"; done
	} >"$tmp"
	chmod 0644 "$tmp"
	mv -f "$tmp" "$manifest"
}

do_install() {
	[ $# = 5 ] || die "usage: install.sh install BIN HELPER DOCSDIR PROFILESDIR VALIDATE"
	local bin=$1 helper=$2 docs=$3 profiles=$4 validate=$5 f name
	for f in "$bin" "$helper" "$validate" "$docs/man1/mpiwrap.1" "$docs/man5/mpiwrap-profile.5" "$docs/completion/mpiwrap.bash"; do
		[ -f "$f" ] || die "$f is missing (make build docs)"
	done
	if read_manifest; then
		# Directories an earlier install made stay ours while they exist.
		for d in "${old_dirs[@]}"; do
			[ ! -d "$destdir$d" ] || dirs+=("$d")
		done
	fi
	echo "install.sh: installing into ${destdir}$prefix"
	put 0755 "$bin" "$prefix/bin/mpiwrap"
	put 0755 "$helper" "$prefix/bin/mpiwrap-pmix"
	put 0755 "$validate" "$prefix/bin/mpiwrap-validate"
	for f in "$docs"/man1/*.1; do
		put 0644 "$f" "$prefix/share/man/man1/$(basename "$f")"
	done
	for f in "$docs"/man5/*.5; do
		put 0644 "$f" "$prefix/share/man/man5/$(basename "$f")"
	done
	put 0644 "$docs/completion/mpiwrap.bash" "$prefix/share/bash-completion/completions/mpiwrap"
	put 0644 "$docs/completion/_mpiwrap" "$prefix/share/zsh/site-functions/_mpiwrap"
	put 0644 "$docs/completion/mpiwrap.fish" "$prefix/share/fish/vendor_completions.d/mpiwrap.fish"
	for f in "$profiles"/*.toml; do
		name=$(basename "$f" .toml)
		profile_example "$name" "$f" "$prefix/share/mpiwrap/profiles/$name.toml"
	done
	ensure_dir "$(dirname "$manifest_path")"
	# Files of the earlier install that this one does not have (a command
	# or a profile that is gone).
	local new
	new=$(printf '%s\n' "${files[@]}")
	for f in "${old_files[@]}"; do
		if ! grep -Fxq -- "$f" <<<"$new" && [ -f "$destdir$f" ]; then
			rm -f "$destdir$f"
			echo "  removed $f (installed before, not now)"
		fi
	done
	write_manifest
	echo "  $manifest_path (${#files[@]} files; make uninstall removes them)"
}

do_uninstall() {
	[ $# = 0 ] || die "usage: install.sh uninstall"
	read_manifest || die "no $manifest: nothing was installed with PREFIX=$prefix${destdir:+ DESTDIR=$destdir}"
	echo "install.sh: uninstalling from ${destdir}$prefix"
	local f d
	for f in "${old_files[@]}"; do
		if [ -d "$destdir$f" ] && [ ! -L "$destdir$f" ]; then
			echo "  kept $f: a directory now, not the file that was installed" >&2
		elif [ -e "$destdir$f" ] || [ -L "$destdir$f" ]; then
			rm -f "$destdir$f"
			echo "  removed $f"
		fi
	done
	rm -f "$manifest"
	# Deepest first: a directory's path is longer than its parent's.
	for d in "${old_dirs[@]}"; do printf '%d %s\n' "${#d}" "$d"; done | sort -rn | cut -d' ' -f2- |
		while IFS= read -r d; do
			if [ -d "$destdir$d" ]; then
				rmdir "$destdir$d" 2>/dev/null && echo "  removed $d/" ||
					echo "  kept $d/: not empty"
			fi
		done
}

case ${1:-} in
install) shift; do_install "$@" ;;
uninstall) shift; do_uninstall "$@" ;;
*) die "usage: install.sh install BIN HELPER DOCSDIR PROFILESDIR VALIDATE | uninstall" ;;
esac
