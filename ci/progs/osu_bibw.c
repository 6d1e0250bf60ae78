/* osu_bibw: OSU-compatible bidirectional bandwidth between 2 ranks.
 * Both ranks post WINDOW non-blocking receives of SIZE bytes from the other
 * and then WINDOW non-blocking sends to it, and wait for all of them; the
 * bandwidth is the bytes moved both ways over the time taken, in MB/s
 * (10^6 bytes). Usage: osu_bibw [-i ITERS] [-x WARMUP] [-m [MIN:]MAX]
 * [-W WINDOW] */
#include "osu_common.h"

static double bidir(int rank, char *sbuf, char *rbuf, long size,
                    const struct bench_opts *o, MPI_Request *reqs,
                    MPI_Status *stats)
{
    int large = size > LARGE_MSG;
    int iters = large ? o->iters_large : o->iters;
    int skip = large ? o->skip_large : o->skip;
    int peer = 1 - rank;
    double start = 0;

    MPI_Barrier(MPI_COMM_WORLD);
    for (int i = 0; i < iters + skip; i++) {
        if (i == skip)
            start = MPI_Wtime();
        for (int w = 0; w < o->window; w++)
            MPI_Irecv(rbuf, (int)size, MPI_CHAR, peer, 10, MPI_COMM_WORLD,
                      &reqs[w]);
        for (int w = 0; w < o->window; w++)
            MPI_Isend(sbuf, (int)size, MPI_CHAR, peer, 10, MPI_COMM_WORLD,
                      &reqs[o->window + w]);
        MPI_Waitall(2 * o->window, reqs, stats);
    }
    return 2.0 * (double)size / 1e6 * iters * o->window /
           (MPI_Wtime() - start);
}

int main(int argc, char **argv)
{
    struct bench_opts o = {1, 4L << 20, 100, 10, 20, 2, 64};
    int rank, size, bad;
    MPI_Request *reqs;
    MPI_Status *stats;
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
    reqs = calloc(2 * (size_t)o.window, sizeof *reqs);
    stats = calloc(2 * (size_t)o.window, sizeof *stats);
    if (reqs == NULL || stats == NULL)
        MPI_Abort(MPI_COMM_WORLD, 1);
    if (rank == 0) {
        printf("# OSU MPI Bi-Directional Bandwidth Test (mpiwrap ci, OSU-compatible)\n");
        printf("# Size      Bandwidth (MB/s)\n");
        fflush(stdout);
    }
    for (long s = o.min_size; s <= o.max_size; s = bench_next_size(s)) {
        double bw = bidir(rank, sbuf, rbuf, s, &o, reqs, stats);

        if (rank == 0) {
            printf("%-10ld%18.2f\n", s, bw);
            fflush(stdout);
        }
    }
    free(reqs);
    free(stats);
    free(sbuf);
    free(rbuf);
    MPI_Finalize();
    return 0;
}
