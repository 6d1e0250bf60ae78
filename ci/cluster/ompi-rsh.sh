#!/bin/bash
# ompi-rsh: Open MPI's rsh agent for the ci/cluster test hosts:
#   mpirun.openmpi --mca plm_rsh_agent ompi-rsh --mca plm_rsh_no_tree_spawn 1 -H h1:2,h2:2 ...
# mpirun calls it like ssh, `ompi-rsh HOST CMD...`, where CMD is a shell
# command line (orted and its quoted arguments) split into words. Like ssh,
# we run it through a shell on HOST, as the calling user with that user's
# HOME. No tree spawn: an orted inside a host can't enter another host.
set -euo pipefail

while [ "$#" -gt 0 ] && [ "${1#-}" != "$1" ]; do
	shift
done
[ "$#" -ge 2 ] || { echo "ompi-rsh: usage: ompi-rsh HOST CMD..." >&2; exit 255; }
host=$1
shift
exec sudo -n /usr/local/libexec/mpiwrap-ci/enter "$host" /bin/sh -c "$*"
