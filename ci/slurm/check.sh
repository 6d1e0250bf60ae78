#!/bin/bash
# check.sh [USER...]: smoke-test the single-node Slurm from setup.sh. Builds
# ci/progs/hello with the host's mpicc.mpich and mpicc.openmpi in a temp dir,
# then, as root and as each USER (default: testu), runs
#   srun --mpi=pmi2 -n 4 hello        (MPICH)
#   srun --mpi=pmix -n 4 hello-ompi   (Open MPI)
# and requires "hello size=4 sum=6" from each. Exits non-zero on any failure.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
users=${*:-testu}
dir=$(mktemp -d /tmp/mpiwrap-slurm-check.XXXXXX)
trap 'rm -rf "$dir"' EXIT
chmod 0755 "$dir"
"$here/../progs/build.sh" mpicc.mpich "$dir/mpich" 2>/dev/null
"$here/../progs/build.sh" mpicc.openmpi "$dir/openmpi" 2>/dev/null

want="hello size=4 sum=6"
fail=0
# try WHO MPI PROG: run one srun as WHO (root or a user name) and check it.
try() {
	local who=$1 mpi=$2 prog=$3 cmd out
	cmd="cd $dir && timeout 60 srun --mpi=$mpi -n 4 $prog </dev/null"
	if [ "$who" = root ]; then
		out=$(sh -c "$cmd" 2>&1) || true
	else
		out=$(su -s /bin/sh "$who" -c "$cmd" 2>&1) || true
	fi
	if printf '%s\n' "$out" | grep -qx "$want"; then
		echo "ok   $who srun --mpi=$mpi -n 4 $prog"
	else
		echo "FAIL $who srun --mpi=$mpi -n 4 $prog:" >&2
		printf '%s\n' "$out" | tail -n 10 | sed 's/^/    /' >&2
		fail=1
	fi
}

for who in root $users; do
	try "$who" pmi2 mpich/hello
	try "$who" pmix openmpi/hello
done
exit "$fail"
