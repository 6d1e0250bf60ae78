#!/bin/bash
# build-debian.sh SUITE: build (or reuse) the cached Debian test image for SUITE
# (bookworm or bullseye) and its SquashFS copy:
#   $MPIWRAP_CI_CACHE/images/SUITE       directory image (world-readable)
#   $MPIWRAP_CI_CACHE/images/SUITE.sqfs  the same tree as SquashFS
# The images hold the distro MPI packages plus the CI test programs compiled
# inside the image: /opt/mpiwrap-test/{mpich,openmpi}/{hello,osu_latency,osu_bw},
# the shell-script wrapper /opt/mpiwrap-test/mpich/hello.sh and, in bookworm
# (python3-mpi4py, on Open MPI), /opt/mpiwrap-test/py/hello.py.
# A stamp (hash of this script, the programs and the suite) inside the image
# makes reruns instant; any change rebuilds. Builds go to a temp dir that is
# renamed at the end, so an interrupted build never looks finished.
set -euo pipefail

suite=${1:-}
case "$suite" in
bookworm) pkgs=(mpich libmpich-dev openmpi-bin libopenmpi-dev python3-mpi4py gcc libc6-dev) mpis=(mpich openmpi) py=1 ;;
bullseye) pkgs=(mpich libmpich-dev gcc libc6-dev) mpis=(mpich) py=0 ;;
*) echo "usage: $0 bookworm|bullseye" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "build-debian.sh: must run as root (debootstrap, chroot)" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
progs=$here/../progs
cache=${MPIWRAP_CI_CACHE:-/var/cache/mpiwrap-ci}
images=${MPIWRAP_CI_IMAGES:-$cache/images}
# The mirror this machine's apt uses for Debian (apt-mirror.sh), unless set.
mirror=${MPIWRAP_CI_MIRROR:-$("$here"/apt-mirror.sh)}
dest=$images/$suite
sqfs=$images/$suite.sqfs
stampname=.mpiwrap-ci-stamp
# Every source in progs/ (build.sh and the wrapper are the *.sh).
srcs=("$progs"/*.sh "$progs"/*.c "$progs"/*.h "$progs"/*.py)
stamp=$(cat "$0" "${srcs[@]}" | sha256sum | cut -c1-16)-$suite

log() { echo "build-debian[$suite]: $*" >&2; }

# unmount_under DIR: unmount everything mounted at or below DIR, deepest first.
unmount_under() {
	local d
	d=$(realpath -m "$1")
	awk -v d="$d" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo |
		sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
}

# remove_tree DIR: unmount leftovers, then delete DIR without crossing mounts.
remove_tree() {
	[ -e "$1" ] || return 0
	unmount_under "$1"
	rm -rf --one-file-system "$1"
}

# chroot_run DIR CMD...: run CMD in DIR with a clean environment.
chroot_run() {
	local root=$1
	shift
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C \
		DEBIAN_FRONTEND=noninteractive chroot "$root" "$@"
}

# build_tree DIR: debootstrap, install packages, compile programs into DIR.
build_tree() {
	local t=$1 debs=$cache/debs/$suite
	mkdir -p "$debs/partial"
	log "debootstrap --variant=minbase $suite from $mirror"
	debootstrap --variant=minbase --cache-dir="$debs" "$suite" "$t" "$mirror" >"$t.log" 2>&1 ||
		{ tail -n 20 "$t.log" >&2; log "debootstrap failed; full log in $t.log"; return 1; }
	mount -t proc proc "$t/proc"
	mount -t sysfs sys "$t/sys"
	# Reuse downloaded .debs across builds; the image's own cache stays empty.
	mount --bind "$debs" "$t/var/cache/apt/archives"
	printf '#!/bin/sh\nexit 101\n' >"$t/usr/sbin/policy-rc.d"
	chmod 0755 "$t/usr/sbin/policy-rc.d"
	log "apt-get install ${pkgs[*]}"
	chroot_run "$t" apt-get -q -o APT::Sandbox::User=root update >>"$t.log" 2>&1
	chroot_run "$t" apt-get -q -y -o APT::Sandbox::User=root --no-install-recommends \
		install "${pkgs[@]}" >>"$t.log" 2>&1 ||
		{ tail -n 20 "$t.log" >&2; log "apt-get install failed; full log in $t.log"; return 1; }
	mkdir -p "$t/opt/mpiwrap-test/src"
	cp "${srcs[@]}" "$t/opt/mpiwrap-test/src/"
	for mpi in "${mpis[@]}"; do
		log "compiling test programs with mpicc.$mpi"
		chroot_run "$t" /bin/bash /opt/mpiwrap-test/src/build.sh "mpicc.$mpi" "/opt/mpiwrap-test/$mpi"
	done
	install -m 0755 "$progs"/hello-wrapper.sh "$t/opt/mpiwrap-test/mpich/hello.sh"
	if [ "$py" = 1 ]; then
		install -D -m 0644 "$progs"/hello.py "$t/opt/mpiwrap-test/py/hello.py"
		# Load libmpi through mpi4py, without MPI_Init.
		chroot_run "$t" python3 -c 'import mpi4py; mpi4py.rc.initialize = False; from mpi4py import MPI' \
			>>"$t.log" 2>&1 ||
			{ tail -n 20 "$t.log" >&2; log "python3-mpi4py does not load"; return 1; }
	fi
	rm -f "$t/usr/sbin/policy-rc.d"
	unmount_under "$t" # before apt-get clean, which would empty the shared .deb cache
	chroot_run "$t" apt-get clean
	rm -rf "$t"/var/lib/apt/lists/* "$t"/var/log/apt/* "$t"/var/cache/debconf/*-old "$t"/tmp/*
	echo "$stamp" >"$t/$stampname"
	chmod -R a+rX "$t"
	rm -f "$t.log"
}

# build_dir: make $dest current, building it atomically when the stamp differs.
build_dir() {
	if [ "$(cat "$dest/$stampname" 2>/dev/null)" = "$stamp" ]; then
		log "image $dest is current ($stamp)"
		return 0
	fi
	local t=$images/.$suite.tmp.$$ start=$SECONDS
	build_tree "$t"
	remove_tree "$dest.old"
	[ ! -e "$dest" ] || mv "$dest" "$dest.old"
	mv "$t" "$dest"
	remove_tree "$dest.old"
	log "built $dest in $((SECONDS - start)) s"
}

# build_sqfs: make $sqfs match $dest, through a temp file renamed at the end.
build_sqfs() {
	if [ "$(unsquashfs -cat "$sqfs" "$stampname" 2>/dev/null)" = "$stamp" ]; then
		log "squashfs $sqfs is current"
		return 0
	fi
	local t=$images/.$suite.sqfs.tmp.$$ start=$SECONDS
	mksquashfs "$dest" "$t" -noappend -comp lz4 -quiet -no-progress >/dev/null
	chmod 0644 "$t"
	mv -f "$t" "$sqfs"
	log "built $sqfs in $((SECONDS - start)) s"
}

cleanup() {
	local rc=$?
	for t in "$images/.$suite.tmp.$$" "$images/.$suite.sqfs.tmp.$$"; do
		[ ! -e "$t" ] || { unmount_under "$t"; rm -rf --one-file-system "$t"; }
	done
	[ "$rc" = 0 ] || log "failed (exit $rc); nothing half-built was kept"
}

mkdir -p "$cache" "$images"
chmod 0755 "$cache" "$images"
exec 9>"$images/.$suite.lock"
flock 9
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
# Leftovers of builds that were killed (the lock says none is running now).
for old in "$images/.$suite".tmp.* "$images/.$suite".sqfs.tmp.*; do
	[ ! -e "$old" ] || { log "removing stale $old"; remove_tree "$old"; }
done
build_dir
build_sqfs
