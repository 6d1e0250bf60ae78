/* osu_init: OSU-compatible MPI_Init time. Every rank times its own
 * MPI_Init (wall clock, from just before the call to its return); rank 0
 * prints the fastest, slowest and mean over the ranks:
 *   nprocs: N, min: X ms, max: Y ms, avg: Z ms
 * The time a container runtime spends before the program starts is not in
 * it (mpiwrap validate's hello benchmark times the whole job). */
#include <mpi.h>
#include <stdio.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    double t0, t, min, max, sum;
    int rank, size;

    t0 = now_ms();
    MPI_Init(&argc, &argv);
    t = now_ms() - t0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Reduce(&t, &min, 1, MPI_DOUBLE, MPI_MIN, 0, MPI_COMM_WORLD);
    MPI_Reduce(&t, &max, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    MPI_Reduce(&t, &sum, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        printf("# OSU MPI Init Test (mpiwrap ci, OSU-compatible)\n");
        printf("nprocs: %d, min: %.2f ms, max: %.2f ms, avg: %.2f ms\n",
               size, min, max, sum / size);
        fflush(stdout);
    }
    MPI_Finalize();
    return 0;
}
