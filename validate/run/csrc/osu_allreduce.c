/* osu_allreduce: OSU-compatible MPI_Allreduce latency on any number of
 * ranks. SIZE bytes are SIZE/4 floats summed across all ranks; the time per
 * call is averaged over the iterations on each rank and then over the ranks.
 * Sizes under 4 bytes (no whole float) are skipped.
 * Usage: osu_allreduce [-i ITERS] [-x WARMUP] [-m [MIN:]MAX] */
#include "osu_common.h"

static double allreduce(float *sbuf, float *rbuf, long size, int iters,
                        int skip)
{
    int count = (int)(size / (long)sizeof(float));
    double start = 0;

    MPI_Barrier(MPI_COMM_WORLD);
    for (int i = 0; i < iters + skip; i++) {
        if (i == skip)
            start = MPI_Wtime();
        MPI_Allreduce(sbuf, rbuf, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    }
    return (MPI_Wtime() - start) * 1e6 / iters;
}

int main(int argc, char **argv)
{
    struct bench_opts o = {4, 1L << 20, 1000, 100, 100, 10, 1};
    int rank, nranks;
    float *sbuf, *rbuf;
    long nfloats;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    (void)bench_need_two; /* any number of ranks; keeps -Wunused quiet */
    if (bench_parse(argc, argv, &o, rank)) {
        MPI_Finalize();
        return 1;
    }
    nfloats = o.max_size / (long)sizeof(float);
    sbuf = (float *)bench_buffer(nfloats * (long)sizeof(float), 0);
    rbuf = (float *)bench_buffer(nfloats * (long)sizeof(float), 0);
    for (long i = 0; i < nfloats; i++)
        sbuf[i] = (float)rank;
    if (rank == 0) {
        printf("# OSU MPI Allreduce Latency Test (mpiwrap ci, OSU-compatible)\n");
        printf("# Size       Avg Latency(us)\n");
        fflush(stdout);
    }
    for (long s = o.min_size; s <= o.max_size; s = bench_next_size(s)) {
        int large = s > LARGE_MSG;
        double lat, sum = 0;

        if (s < (long)sizeof(float))
            continue;
        lat = allreduce(sbuf, rbuf, s, large ? o.iters_large : o.iters,
                        large ? o.skip_large : o.skip);
        MPI_Reduce(&lat, &sum, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
        if (rank == 0) {
            printf("%-10ld%18.2f\n", s, sum / nranks);
            fflush(stdout);
        }
    }
    free(sbuf);
    free(rbuf);
    MPI_Finalize();
    return 0;
}
