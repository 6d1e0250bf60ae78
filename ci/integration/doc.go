// Package integration holds mpiwrap's integration and end-to-end tests:
// real namespaces and mounts on a tiny image made from host files, and real
// MPI jobs under hydra, Slurm and Open MPI in a debootstrapped Debian image,
// each as root and as an unprivileged user. They need root (to become the
// test user) and the images from ci/setup.sh; under MPIWRAP_TEST_REQUIRE=1
// a missing requirement fails instead of skipping.
package integration
