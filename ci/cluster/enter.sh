#!/bin/bash
# enter HOST CMD...: run CMD inside test host HOST of ci/cluster (its network,
# UTS and mount namespaces) as the user who called sudo, with that user's
# HOME, or as root when root runs it directly.
#
# cluster.sh installs it root-owned at /usr/local/libexec/mpiwrap-ci/enter,
# and /etc/sudoers.d/mpiwrap-ci lets the test user (and root) run exactly
# this file without a password: launchers run unprivileged (mpiexec,
# mpirun), but setns(2) needs root. The caller gains nothing it did not have:
# CMD runs with the caller's own uid, gid and groups.
#
# HOST is a name (h1) or an address (10.77.0.11) from the cluster's list in
# /run/mpiwrap-cluster/hosts. CMD gets a clean environment (PATH, HOME,
# USER, LOGNAME, SHELL, LANG) plus what the launcher puts in CMD itself
# (`env K=V ...` or a shell string). It starts in the caller's working
# directory when that exists inside the host (it does not in the host's
# private /tmp), else in HOME, else in /.
set -euo pipefail
PATH=/usr/sbin:/usr/bin:/sbin:/bin
run=/run/mpiwrap-cluster

die() {
	echo "mpiwrap-ci enter: $*" >&2
	exit 125
}

[ "$(id -u)" = 0 ] || die "must run as root: sudo -n $0 HOST CMD..."
[ "$#" -ge 2 ] || die "usage: enter HOST CMD..."
want=$1
shift
host=
if [ -r "$run/hosts" ]; then
	while read -r name addr; do
		if [ "$want" = "$name" ] || [ "$want" = "$addr" ]; then host=$name; fi
	done <"$run/hosts"
fi
[ -n "$host" ] || die "no test host '$want' (up: $(cut -d' ' -f1 "$run/hosts" 2>/dev/null | tr '\n' ' '))"
for f in "/run/netns/mw-$host" "$run/$host/uts" "$run/$host/mnt"; do
	[ -e "$f" ] || die "host $host is incomplete: $f is missing; rerun cluster.sh up"
done

# sudo sets SUDO_UID itself; a direct call by root runs as root.
uid=${SUDO_UID:-0}
IFS=: read -r user _ _ gid _ home shell < <(getent passwd "$uid") || die "uid $uid has no passwd entry"
path=/usr/local/bin:/usr/bin:/bin
[ "$uid" = 0 ] && path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
wd=$(pwd -P 2>/dev/null || echo /)

# setns(CLONE_NEWNS) moves the cwd to the namespace's root, hence the cd.
exec nsenter --net="/run/netns/mw-$host" --uts="$run/$host/uts" --mount="$run/$host/mnt" -- \
	setpriv --reuid="$uid" --regid="$gid" --init-groups -- \
	env -i PATH="$path" HOME="$home" USER="$user" LOGNAME="$user" SHELL="${shell:-/bin/sh}" LANG=C \
	/bin/sh -c 'cd -- "$0" 2>/dev/null || cd -- "$HOME" 2>/dev/null || cd /; exec "$@"' "$wd" "$@"
