#!/bin/bash
# cluster.sh: a multi-host test cluster on one machine (see ci/README.md,
# "Test cluster").
#   cluster.sh up N            make hosts h1..hN (N <= 50) and their Slurm
#   cluster.sh down            remove everything up made, and verify it
#   cluster.sh exec HOST CMD…  run CMD in HOST as the caller
# Each host is a network namespace mw-hI with its own UTS namespace
# (hostname hI) and mount namespace (private /tmp, /var/tmp, /dev/shm; its
# own boot_id, machine-id, /etc/hostname, /etc/hosts and sysfs), joined by a
# veth (mw-hI here, eth0 inside) to the bridge mwbr0 (10.77.0.1/24). Host
# hI is 10.77.0.(10+I). The namespaces are held by bind mounts of their
# files (/run/netns/mw-hI, /run/mpiwrap-cluster/hI/{uts,mnt}).
# up and down are idempotent; up first removes any leftovers. Root only,
# except exec.
set -euo pipefail
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

here=$(cd "$(dirname "$0")" && pwd)
run=/run/mpiwrap-cluster
lib=/var/lib/mpiwrap-cluster
libexec=/usr/local/libexec/mpiwrap-ci
sudoers=/etc/sudoers.d/mpiwrap-ci
bridge=mwbr0
net=10.77.0
user=${MPIWRAP_TEST_USER:-testu}

log() { echo "cluster: $*" >&2; }
die() {
	log "$*"
	exit 1
}

need_root() { [ "$(id -u)" = 0 ] || die "$1 must run as root"; }

# install: the root-owned entry script and launchers, and the sudo rule
# that lets $user and root run the entry script (only it) without a
# password. Rewritten only when they differ.
install_entry() {
	local f rule
	command -v sudo >/dev/null || die "sudo is missing; run ci/deps.sh"
	mkdir -p "$libexec"
	chmod 0755 "$libexec"
	for f in enter hydra-ssh ompi-rsh; do
		if ! cmp -s "$here/$f.sh" "$libexec/$f"; then
			install -o root -g root -m 0755 "$here/$f.sh" "$libexec/$f.tmp"
			mv -f "$libexec/$f.tmp" "$libexec/$f"
		fi
	done
	rule="# Written by ci/cluster/cluster.sh: enter a test host, as yourself.
Defaults!$libexec/enter !use_pty
root ALL=(root) NOPASSWD: $libexec/enter
$user ALL=(root) NOPASSWD: $libexec/enter"
	if [ "$(cat "$sudoers" 2>/dev/null)" != "$rule" ]; then
		printf '%s\n' "$rule" >"$sudoers.tmp"
		chmod 0440 "$sudoers.tmp"
		visudo -c -q -f "$sudoers.tmp" || die "visudo rejects $sudoers.tmp"
		mv -f "$sudoers.tmp" "$sudoers"
	fi
	# The shared scratch directory: every host sees it (unlike /tmp).
	mkdir -p "$lib/shared"
	chmod 0755 "$lib"
	chmod 1777 "$lib/shared"
}

# host_files HOST N: the per-host identity files that hostinit.sh binds.
host_files() {
	local host=$1 n=$2 d=$run/$1 j
	mkdir -p "$d"
	echo "$host" >"$d/hostname"
	cat /proc/sys/kernel/random/uuid >"$d/boot_id"
	tr -d - </proc/sys/kernel/random/uuid >"$d/machine-id"
	{
		echo "127.0.0.1 localhost"
		echo "$net.1 mw-head"
		for j in $(seq "$n"); do echo "$net.$((10 + j)) h$j"; done
	} >"$d/hosts"
	chmod 0644 "$d"/*
}

# make_host HOST I N: namespaces, veth, address and files of one host.
make_host() {
	local host=$1 i=$2 n=$3 d=$run/$1
	host_files "$host" "$n"
	ip netns add "mw-$host"
	ip link add "mw-$host" type veth peer name eth0 netns "mw-$host"
	echo 1 >"/proc/sys/net/ipv6/conf/mw-$host/disable_ipv6"
	ip link set "mw-$host" master "$bridge" up
	# No IPv6 and no default route: the host can reach only 10.77.0.0/24.
	nsenter --net="/run/netns/mw-$host" sh -c '
		echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6
		echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6' 2>/dev/null || true
	ip -n "mw-$host" addr add "$net.$((10 + i))/24" dev eth0
	ip -n "mw-$host" link set lo up
	ip -n "mw-$host" link set eth0 up
	touch "$d/uts" "$d/mnt"
	nsenter --net="/run/netns/mw-$host" \
		unshare --uts="$d/uts" --mount="$d/mnt" --propagation private \
		"$here/hostinit.sh" "$host" "$d" 9>&-
	echo "$host $net.$((10 + i))" >>"$run/hosts.tmp"
}

up() {
	local n=$1 i
	need_root up
	[[ "$n" =~ ^[1-9][0-9]?$ ]] && [ "$n" -le 50 ] || die "up N: N must be 1..50, not '$n'"
	down quiet
	install_entry
	mkdir -p "$run"
	[ -d /run/netns ] || echo made >"$run/netns-dir"
	# unshare --mount=FILE needs FILE on a private mount (as ip netns does).
	mount --bind "$run" "$run"
	mount --make-private "$run"
	ip link add "$bridge" type bridge
	echo 1 >"/proc/sys/net/ipv6/conf/$bridge/disable_ipv6"
	ip addr add "$net.1/24" dev "$bridge"
	ip link set "$bridge" up
	: >"$run/hosts.tmp"
	for i in $(seq "$n"); do make_host "h$i" "$i" "$n"; done
	mv -f "$run/hosts.tmp" "$run/hosts"
	"$here/slurm.sh" up 9>&-
	log "up: $(tr '\n' ' ' <"$run/hosts")(bridge $bridge $net.1)"
}

# ns_ids: "[INODE]" of every cluster namespace file that exists, as the
# targets of /proc/PID/ns/* links show them ("net:[INODE]").
ns_ids() {
	local f
	for f in /run/netns/mw-h* "$run"/*/uts "$run"/*/mnt; do
		[ -e "$f" ] && echo "[$(stat -L -c %i "$f")]"
	done
	return 0
}

# in_hosts IDS: pids of the processes in any of those namespaces.
in_hosts() {
	[ -n "$1" ] || return 0
	find /proc/[0-9]*/ns/net /proc/[0-9]*/ns/uts /proc/[0-9]*/ns/mnt -maxdepth 0 \
		-printf '%l %p\n' 2>/dev/null | grep -F "$1" | cut -d/ -f3 | sort -u
	return 0
}

# kill_hosts: TERM, then KILL, every process left inside a host.
kill_hosts() {
	local inodes pids _
	inodes=$(ns_ids)
	pids=$(in_hosts "$inodes")
	[ -z "$pids" ] && return 0
	# shellcheck disable=SC2086
	kill -TERM $pids 2>/dev/null || true
	for _ in $(seq 10); do
		[ -z "$(in_hosts "$inodes")" ] && return 0
		sleep 0.5
	done
	pids=$(in_hosts "$inodes")
	log "killing what ignored TERM: $(echo $pids)"
	# shellcheck disable=SC2086
	kill -KILL $pids 2>/dev/null || true
	sleep 0.5
}

down() {
	local f h made=
	need_root down
	# One up or down at a time; daemons and hosts must not inherit fd 9.
	exec 9>/run/lock/mpiwrap-cluster.lock
	flock 9
	"$here/slurm.sh" down 9>&-
	kill_hosts
	[ -s "$run/netns-dir" ] && made=1
	for f in "$run"/*/uts "$run"/*/mnt; do
		[ -e "$f" ] || continue
		umount "$f" 2>/dev/null || true
	done
	for f in /run/netns/mw-h*; do
		[ -e "$f" ] || continue
		h=${f##*/}
		ip netns del "$h" 2>/dev/null || umount -l "$f"
		rm -f "$f"
	done
	ip -o link show | sed -n 's/^[0-9]*: \(mwbr0\|mw-h[0-9]*\)[@:].*/\1/p' | while read -r l; do
		ip link del "$l" 2>/dev/null || true
	done
	while grep -q " $run " /proc/self/mountinfo; do umount "$run" || break; done
	rm -rf "$run"
	# /run/netns is ip's own (a shared bind mount); remove it only if up
	# made it and nothing else uses it now.
	if [ -n "$made" ] && [ -d /run/netns ] && [ -z "$(ls -A /run/netns)" ]; then
		while grep -q ' /run/netns ' /proc/self/mountinfo; do umount /run/netns || break; done
		rmdir /run/netns 2>/dev/null || true
	fi
	verify_down "${1:-}"
}

# verify_down [quiet]: fail if any netns, link, mount, process or Slurm
# daemon of the cluster is left.
verify_down() {
	local left=()
	ip netns list 2>/dev/null | grep -q '^mw-h' && left+=("netns: $(ip netns list | grep '^mw-h' | tr '\n' ' ')")
	ip -o link show | grep -qE '^[0-9]+: (mwbr0|mw-h[0-9]+)[@:]' &&
		left+=("links: $(ip -o link show | grep -oE '^[0-9]+: (mwbr0|mw-h[0-9]+)' | tr '\n' ' ')")
	grep -qF " $run" /proc/self/mountinfo && left+=("mounts under $run")
	[ -n "$(in_hosts "$(ns_ids)")" ] && left+=("processes in the hosts")
	pgrep -f -- "-f $lib/slurm/slurm.conf" >/dev/null && left+=("slurm daemons: $(pgrep -f -- "-f $lib/slurm/slurm.conf" | tr '\n' ' ')")
	if [ "${#left[@]}" -gt 0 ]; then
		printf 'cluster: down left: %s\n' "${left[@]}" >&2
		exit 1
	fi
	[ "$1" = quiet ] || log "down: nothing left"
}

case "${1:-}" in
up)
	[ "$#" = 2 ] || die "usage: cluster.sh up N"
	up "$2"
	;;
down) down ;;
exec)
	[ "$#" -ge 3 ] || die "usage: cluster.sh exec HOST CMD..."
	shift
	if [ "$(id -u)" = 0 ]; then exec "$libexec/enter" "$@"; fi
	exec sudo -n "$libexec/enter" "$@"
	;;
*)
	sed -n '2,14s/^# \{0,1\}//p' "$0" >&2
	exit 2
	;;
esac
