/* osu_common.h: option parsing and buffers shared by the OSU-compatible
 * micro-benchmarks. Output follows the OSU layout (comment header, then
 * "%-10d%18.2f" rows) so tools that parse OSU results read ours too. */
#ifndef MPIWRAP_OSU_COMMON_H
#define MPIWRAP_OSU_COMMON_H

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LARGE_MSG 8192 /* sizes above this use the "large" loop counts */

struct bench_opts {
    long min_size, max_size; /* message sizes, powers of two between */
    int iters, skip;         /* timed and warm-up loops, small messages */
    int iters_large, skip_large;
    int window;              /* messages in flight (bandwidth only) */
};

/* bench_parse fills o from argv; the defaults in o stay for absent flags.
 * -i sets the loop count for every size, -x the warm-up for every size.
 * Returns 0, or 1 after printing usage when argv is wrong. */
static int bench_parse(int argc, char **argv, struct bench_opts *o, int rank)
{
    int c;

    while ((c = getopt(argc, argv, "i:x:m:W:h")) != -1) {
        switch (c) {
        case 'i':
            o->iters = o->iters_large = atoi(optarg);
            break;
        case 'x':
            o->skip = o->skip_large = atoi(optarg);
            break;
        case 'm':
            if (strchr(optarg, ':') != NULL)
                sscanf(optarg, "%ld:%ld", &o->min_size, &o->max_size);
            else
                o->max_size = atol(optarg);
            break;
        case 'W':
            o->window = atoi(optarg);
            break;
        default:
            goto bad;
        }
    }
    if (optind == argc && o->iters > 0 && o->skip >= 0 && o->window > 0 &&
        o->min_size >= 0 && o->max_size >= o->min_size)
        return 0;
bad:
    if (rank == 0)
        fprintf(stderr, "usage: %s [-i ITERS] [-x WARMUP] [-m [MIN:]MAX] "
                "[-W WINDOW]\n", argv[0]);
    return 1;
}

/* bench_next_size steps through 0 (when asked for), 1, 2, 4, ... */
static long bench_next_size(long size)
{
    return size == 0 ? 1 : size * 2;
}

/* bench_buffer returns a page-aligned, touched buffer of len bytes. */
static char *bench_buffer(long len, int fill)
{
    void *p = NULL;

    if (posix_memalign(&p, 4096, len > 0 ? (size_t)len : 1) != 0) {
        fprintf(stderr, "cannot allocate %ld bytes\n", len);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    memset(p, fill, len > 0 ? (size_t)len : 1);
    return p;
}

/* bench_need_two prints an OSU-style complaint unless there are 2 ranks. */
static int bench_need_two(int rank, int size)
{
    if (size == 2)
        return 0;
    if (rank == 0)
        fprintf(stderr, "This test requires exactly two processes\n");
    return 1;
}

#endif
