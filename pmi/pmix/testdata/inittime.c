/* inittime: times MPI_Init and MPI_Init-to-MPI_Finalize for the PMIx
 * upstream benchmark. Rank 0 prints the slowest rank's MPI_Init time and
 * its own time from before MPI_Init to after MPI_Finalize. */
#include <mpi.h>
#include <stdio.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    double t0 = now(), init, slowest;
    int rank, size;

    MPI_Init(&argc, &argv);
    init = now() - t0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Reduce(&init, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    MPI_Finalize();
    if (rank == 0)
        printf("inittime size=%d init_ms=%.3f total_ms=%.3f\n", size, slowest * 1e3, (now() - t0) * 1e3);
    return 0;
}
