#!/bin/sh
# hello-wrapper.sh: installed as /opt/mpiwrap-test/mpich/hello.sh, a shell
# script in front of the MPICH hello (as sites wrap their solvers), so that
# the command mpiwrap is given is not the MPI program itself.
exec /opt/mpiwrap-test/mpich/hello "$@"
