/* slowsend: an LD_PRELOAD shim that delays every MPI_Send and MPI_Isend by
 * SLOWSEND_US microseconds (default 50) of busy waiting before handing the
 * call to the library (PMPI_*). mpiwrap validate's tests use it to make a
 * deliberately slow side that must be reported as FAIL:
 *   mpiwrap --set-env LD_PRELOAD=/opt/mpiwrap-test/mpich/libslowsend.so ...
 * Built by build.sh as libslowsend.so next to the programs. */
#include <mpi.h>
#include <stdlib.h>
#include <time.h>

static long delay_ns = -1;

static void slow(void)
{
    struct timespec t0, t;

    if (delay_ns < 0) {
        const char *s = getenv("SLOWSEND_US");

        delay_ns = (s != NULL ? atol(s) : 50) * 1000;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do
        clock_gettime(CLOCK_MONOTONIC, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) <
           delay_ns);
}

int MPI_Send(const void *buf, int count, MPI_Datatype type, int dest, int tag,
             MPI_Comm comm)
{
    slow();
    return PMPI_Send(buf, count, type, dest, tag, comm);
}

int MPI_Isend(const void *buf, int count, MPI_Datatype type, int dest,
              int tag, MPI_Comm comm, MPI_Request *req)
{
    slow();
    return PMPI_Isend(buf, count, type, dest, tag, comm, req);
}
