/* hello: MPI smoke test for mpiwrap CI.
 *
 * Rank 0 prints "hello size=N sum=S" where S is the Allreduce(SUM) of all
 * rank numbers, so a wrong size or a broken collective shows in one line.
 * Options (may be combined, in any order):
 *   abort CODE  rank 1 (rank 0 if size is 1) calls MPI_Abort(CODE) after init
 *   sleep SECS  every rank sleeps SECS before MPI_Finalize (for kill tests)
 *   lag SECS    the last rank sleeps SECS before MPI_Finalize while the
 *               others wait for it in MPI_Finalize's PMI fence
 *   maps        every rank prints "rank R lib=PATH", PATH being the libmpi or
 *               libmpich file mapped into it (shows which MPI was injected)
 *   time        rank 0 prints "init-finalize US" after MPI_Finalize: the
 *               microseconds from before MPI_Init to after MPI_Finalize,
 *               where PMI does its work (for the proxy benchmark)
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* mpi_lib_path copies the path of the first mapped libmpi.so* or
 * libmpich.so* into buf, or "none" when no such file is mapped. */
static void mpi_lib_path(char *buf, size_t len)
{
    char line[4096];
    FILE *f = fopen("/proc/self/maps", "r");

    snprintf(buf, len, "none");
    if (f == NULL)
        return;
    while (fgets(line, sizeof line, f) != NULL) {
        char *path = strchr(line, '/');
        char *base;

        if (path == NULL)
            continue;
        path[strcspn(path, "\n")] = '\0';
        base = strrchr(path, '/') + 1;
        if (strncmp(base, "libmpi.so", 9) == 0 ||
            strncmp(base, "libmpich.so", 11) == 0) {
            snprintf(buf, len, "%s", path);
            break;
        }
    }
    fclose(f);
}

static void usage(void)
{
    fprintf(stderr, "usage: hello [abort CODE] [sleep SECS] [lag SECS] [maps] [time]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int rank, size, abort_code = -1, sleep_secs = 0, lag_secs = 0, maps = 0, timing = 0;
    long sum = 0, mine;
    double start = now_us();

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "abort") == 0 && i + 1 < argc)
            abort_code = atoi(argv[++i]);
        else if (strcmp(argv[i], "sleep") == 0 && i + 1 < argc)
            sleep_secs = atoi(argv[++i]);
        else if (strcmp(argv[i], "lag") == 0 && i + 1 < argc)
            lag_secs = atoi(argv[++i]);
        else if (strcmp(argv[i], "maps") == 0)
            maps = 1;
        else if (strcmp(argv[i], "time") == 0)
            timing = 1;
        else
            usage();
    }

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    if (abort_code >= 0 && rank == (size > 1 ? 1 : 0)) {
        fprintf(stderr, "rank %d aborting with code %d\n", rank, abort_code);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, abort_code);
    }

    mine = rank;
    MPI_Allreduce(&mine, &sum, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    if (maps) {
        char lib[4096];

        mpi_lib_path(lib, sizeof lib);
        printf("rank %d lib=%s\n", rank, lib);
        fflush(stdout);
    }
    if (rank == 0) {
        printf("hello size=%d sum=%ld\n", size, sum);
        fflush(stdout);
    }
    if (sleep_secs > 0)
        sleep((unsigned)sleep_secs);
    if (lag_secs > 0 && rank == size - 1)
        sleep((unsigned)lag_secs);
    MPI_Finalize();
    if (timing && rank == 0)
        printf("init-finalize %.0f\n", now_us() - start);
    return 0;
}
