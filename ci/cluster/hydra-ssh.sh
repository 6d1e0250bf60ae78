#!/bin/bash
# hydra-ssh: hydra's -launcher-exec for the ci/cluster test hosts:
#   mpiexec.mpich -launcher ssh -launcher-exec hydra-ssh -iface mwbr0 -hosts h1,h2 ...
# hydra calls it like ssh, `hydra-ssh -x HOST CMD...`, with -x BEFORE the
# host name. We drop ssh's options, then do what ssh does: run the words
# of CMD as one shell command line on HOST, as the calling user with that
# user's HOME (enter does the switch; hydra passes its own environment,
# HOME and USER included, to the ranks itself).
set -euo pipefail

while [ "$#" -gt 0 ] && [ "${1#-}" != "$1" ]; do
	shift
done
[ "$#" -ge 2 ] || { echo "hydra-ssh: usage: hydra-ssh [-x] HOST CMD..." >&2; exit 255; }
host=$1
shift
exec sudo -n /usr/local/libexec/mpiwrap-ci/enter "$host" /bin/sh -c "$*"
