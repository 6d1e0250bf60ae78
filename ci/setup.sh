#!/bin/bash
# setup.sh: prepare what the integration and end-to-end tests need, as root
# on Debian 12 (after ci/deps.sh): the unprivileged test user, the cached
# Debian images (bookworm, bullseye; directories and SquashFS) and a
# single-node Slurm. Idempotent: with everything in place it takes < 1 s.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
start=$SECONDS
echo "ci/setup: test user $("$here/testuser.sh")"
"$here/images/build-debian.sh" bookworm
"$here/images/build-debian.sh" bullseye
"$here/slurm/setup.sh"
echo "ci/setup: ready in $((SECONDS - start)) s"
