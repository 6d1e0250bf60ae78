/* osu_latency: OSU-compatible ping-pong latency between 2 ranks.
 * Rank 0 sends SIZE bytes, rank 1 sends them back; one-way latency is half
 * the mean round trip. Usage: osu_latency [-i ITERS] [-x WARMUP] [-m [MIN:]MAX] */
#include "osu_common.h"

static double pingpong(int rank, char *sbuf, char *rbuf, long size,
                       int iters, int skip)
{
    double start = 0;

    MPI_Barrier(MPI_COMM_WORLD);
    for (int i = 0; i < iters + skip; i++) {
        if (i == skip)
            start = MPI_Wtime();
        if (rank == 0) {
            MPI_Send(sbuf, (int)size, MPI_CHAR, 1, 1, MPI_COMM_WORLD);
            MPI_Recv(rbuf, (int)size, MPI_CHAR, 1, 1, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
        } else {
            MPI_Recv(rbuf, (int)size, MPI_CHAR, 0, 1, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
            MPI_Send(sbuf, (int)size, MPI_CHAR, 0, 1, MPI_COMM_WORLD);
        }
    }
    return (MPI_Wtime() - start) * 1e6 / (2.0 * iters);
}

int main(int argc, char **argv)
{
    struct bench_opts o = {1, 4L << 20, 10000, 100, 1000, 10, 1};
    int rank, size, bad;
    char *sbuf, *rbuf;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    bad = bench_parse(argc, argv, &o, rank) || bench_need_two(rank, size);
    if (bad) {
        MPI_Finalize();
        return 1;
    }
    sbuf = bench_buffer(o.max_size, 'a');
    rbuf = bench_buffer(o.max_size, 'b');
    if (rank == 0) {
        printf("# OSU MPI Latency Test (mpiwrap ci, OSU-compatible)\n");
        printf("# Size          Latency (us)\n");
        fflush(stdout);
    }
    for (long s = o.min_size; s <= o.max_size; s = bench_next_size(s)) {
        int large = s > LARGE_MSG;
        double lat = pingpong(rank, sbuf, rbuf, s,
                              large ? o.iters_large : o.iters,
                              large ? o.skip_large : o.skip);
        if (rank == 0) {
            printf("%-10ld%18.2f\n", s, lat);
            fflush(stdout);
        }
    }
    free(sbuf);
    free(rbuf);
    MPI_Finalize();
    return 0;
}
