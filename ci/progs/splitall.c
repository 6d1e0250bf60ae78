/* splitall: more modex traffic than hello, for mpiwrap CI.
 *
 * Every rank splits MPI_COMM_WORLD by rank parity (MPI_Comm_split), then
 * does an MPI_Alltoall of rank-tagged integers in the world and in its
 * half, and checks every element it got. Rank 0 prints
 * "splitall size=N halves=A,B ok" when all ranks agree (an Allreduce of
 * their error counts), "splitall size=N errors=E" otherwise, and exits 1.
 * Options:
 *   names  rank 0 publishes a service name (MPI_Publish_name), the last
 *          rank looks it up (MPI_Lookup_name) and checks the port, rank 0
 *          unpublishes it; rank 0 prints "names ok" or the error class
 *          each call returned (errors are returned, not fatal)
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int alltoall(MPI_Comm comm, int tag)
{
    int rank, size, errors = 0;
    int *out, *in;

    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    out = malloc(sizeof *out * (size_t)size);
    in = malloc(sizeof *in * (size_t)size);
    if (out == NULL || in == NULL) {
        fprintf(stderr, "splitall: out of memory\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    for (int i = 0; i < size; i++)
        out[i] = tag * 1000000 + rank * 1000 + i;
    MPI_Alltoall(out, 1, MPI_INT, in, 1, MPI_INT, comm);
    for (int i = 0; i < size; i++)
        if (in[i] != tag * 1000000 + i * 1000 + rank)
            errors++;
    free(out);
    free(in);
    return errors;
}

static const char *errname(int rc)
{
    static char buf[MPI_MAX_ERROR_STRING];
    int len, class;

    MPI_Error_class(rc, &class);
    MPI_Error_string(class, buf, &len);
    return buf;
}

/* names: publish, look up and unpublish a service; 0 if all worked. */
static int names(int rank, int size)
{
    const char *service = "mpiwrap-splitall", *port = "mpiwrap-test-port";
    char got[MPI_MAX_PORT_NAME] = "";
    int rc = MPI_SUCCESS, bad = 0;

    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if (rank == 0 && (rc = MPI_Publish_name(service, MPI_INFO_NULL, port)) != MPI_SUCCESS) {
        printf("names: MPI_Publish_name: %s\n", errname(rc));
        bad = 1;
    }
    MPI_Bcast(&bad, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (!bad && rank == size - 1) {
        rc = MPI_Lookup_name(service, MPI_INFO_NULL, got);
        if (rc != MPI_SUCCESS)
            printf("names: MPI_Lookup_name: %s\n", errname(rc));
        else if (strcmp(got, port) != 0)
            printf("names: MPI_Lookup_name found %s, want %s\n", got, port);
        bad = rc != MPI_SUCCESS || strcmp(got, port) != 0;
        fflush(stdout);
    }
    MPI_Bcast(&bad, 1, MPI_INT, size - 1, MPI_COMM_WORLD);
    if (!bad && rank == 0 && (rc = MPI_Unpublish_name(service, MPI_INFO_NULL, port)) != MPI_SUCCESS) {
        printf("names: MPI_Unpublish_name: %s\n", errname(rc));
        bad = 1;
    }
    if (rank == 0 && !bad)
        printf("names ok\n");
    fflush(stdout);
    return bad;
}

int main(int argc, char **argv)
{
    int rank, size, half, hsize, errors, total = 0, sizes[2] = {0, 0}, names_bad = 0;
    MPI_Comm comm;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_split(MPI_COMM_WORLD, rank % 2, rank, &comm);
    MPI_Comm_rank(comm, &half);
    MPI_Comm_size(comm, &hsize);
    errors = (half != rank / 2) + alltoall(MPI_COMM_WORLD, 1) + alltoall(comm, 2 + rank % 2);
    MPI_Allreduce(&errors, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank < 2)
        sizes[rank] = hsize;
    MPI_Allreduce(MPI_IN_PLACE, sizes, 2, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (argc > 1 && strcmp(argv[1], "names") == 0)
        names_bad = names(rank, size);
    if (rank == 0) {
        if (total == 0)
            printf("splitall size=%d halves=%d,%d ok\n", size, sizes[0], sizes[1]);
        else
            printf("splitall size=%d errors=%d\n", size, total);
        fflush(stdout);
    }
    MPI_Comm_free(&comm);
    MPI_Finalize();
    return total != 0 || names_bad;
}
