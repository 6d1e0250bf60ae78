#!/bin/bash
# build.sh MPICC OUTDIR: compile the CI test programs with MPICC into OUTDIR.
# Used on the host and inside the Debian images (chroot). Idempotent.
set -euo pipefail

if [ "$#" -ne 2 ]; then
	echo "usage: $0 MPICC OUTDIR  (e.g. $0 mpicc.mpich /tmp/t/mpich)" >&2
	exit 2
fi
mpicc=$1 out=$2
src=$(cd "$(dirname "$0")" && pwd)
command -v "$mpicc" >/dev/null || { echo "build.sh: $mpicc not found; install the MPI -dev package" >&2; exit 1; }
mkdir -p "$out"
for prog in hello osu_latency osu_bw osu_bibw osu_allreduce osu_init mpiversion splitall; do
	"$mpicc" -O2 -Wall -Wextra -o "$out/$prog.tmp" "$src/$prog.c"
	mv -f "$out/$prog.tmp" "$out/$prog"
done
# The LD_PRELOAD shim that slows MPI_Send/MPI_Isend (mpiwrap validate's tests).
"$mpicc" -O2 -Wall -Wextra -shared -fPIC -o "$out/libslowsend.so.tmp" "$src/slowsend.c"
mv -f "$out/libslowsend.so.tmp" "$out/libslowsend.so"
chmod 0755 "$out" "$out"/*
