#!/bin/bash
# deps.sh: install what building and testing mpiwrap needs on Debian 12, as
# root. Idempotent: packages already there are not touched.
set -euo pipefail

packages=(
	build-essential libc6-dev musl-tools make git ca-certificates
	mpich libmpich-dev openmpi-bin libopenmpi-dev libpmix-dev libpmix2 libpmi2-0-dev
	slurm-wlm munge
	squashfuse squashfs-tools fuse3 debootstrap
	libibverbs-dev ibverbs-providers librdmacm-dev rdma-core libfabric-dev libucx-dev
	charliecloud-runtime hyperfine
	iproute2 util-linux procps strace sudo
)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	echo "deps.sh: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
fi
# udev gives /dev/fuse mode 0666 on a normal Debian machine; containers
# without udev leave it 0600, which keeps users from mounting SquashFS.
if [ -c /dev/fuse ] && [ "$(stat -c %a /dev/fuse)" != 666 ]; then
	chmod 0666 /dev/fuse
fi
if ! command -v go >/dev/null && [ ! -x /usr/local/go/bin/go ]; then
	echo "deps.sh: Go is missing; install Go >= 1.26 at /usr/local/go" >&2
	exit 1
fi
