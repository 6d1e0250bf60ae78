/* mpiversion: print the MPI standard version and the library's version
 * string, without MPI_Init (both calls are allowed before it), so it runs
 * without a launcher:
 *   MPI 4.0
 *   MPICH Version:      4.0.2
 *   ... */
#include <mpi.h>
#include <stdio.h>

int main(void)
{
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0, major = 0, minor = 0;

    MPI_Get_version(&major, &minor);
    MPI_Get_library_version(lib, &len);
    printf("MPI %d.%d\n%.*s\n", major, minor, len, lib);
    return 0;
}
