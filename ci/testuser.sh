#!/bin/bash
# testuser.sh: make sure the unprivileged test user exists (default testu,
# override with MPIWRAP_TEST_USER) with a home directory, and that its open
# file limit is raised to 65536, or root's hard limit when lower (hydra needs several fds per rank; past ~250
# ranks the usual soft limit of 1024 fails with "Too many open files").
# Prints the user name. Idempotent.
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "testuser.sh: must run as root" >&2; exit 1; }
user=${MPIWRAP_TEST_USER:-testu}

if ! id -u "$user" >/dev/null 2>&1; then
	useradd --create-home --shell /bin/bash --user-group "$user"
fi
home=$(getent passwd "$user" | cut -d: -f6)
if [ ! -d "$home" ]; then
	mkdir -p "$home"
	chown "$user:" "$home"
	chmod 0755 "$home"
fi
# pam_limits applies this under su/runuser/login; setpriv keeps the caller's
# limits, where root's hard limit bounds what `ulimit -n` can reach.
# Without CAP_SYS_RESOURCE (containers) root cannot pass its own hard limit,
# and pam_limits then drops the whole entry, so cap the value at it.
nofile=$(ulimit -Hn)
[ "$nofile" = unlimited ] || [ "$nofile" -gt 65536 ] && nofile=65536
limits=/etc/security/limits.d/mpiwrap-ci.conf
want="$user soft nofile $nofile
$user hard nofile $nofile"
if [ "$(cat "$limits" 2>/dev/null)" != "$want" ]; then
	mkdir -p "$(dirname "$limits")"
	printf '%s\n' "$want" >"$limits"
fi
echo "$user"
