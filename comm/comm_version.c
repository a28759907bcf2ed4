/* comm/comm_version.c -- the communication libraries tlm runs on, for `tlm --version`.
 * MPI_Get_library_version may be called before MPI_Init; ncclGetVersion needs no GPU. */
#include "comm/comm_version.h"

#include <mpi.h>
#include <stdio.h>
#include <string.h>

#ifdef TLM_HAVE_CUDA
#include <nccl.h>
#endif

void comm_describe_libraries(char *buf, size_t n_bytes) {
    char mpi[MPI_MAX_LIBRARY_VERSION_STRING] = "";
    int len = 0;
    if (MPI_Get_library_version(mpi, &len) != MPI_SUCCESS)
        snprintf(mpi, sizeof mpi, "MPI (version unknown)");
    mpi[strcspn(mpi, ",\n")] = '\0'; /* "Open MPI v4.1.4, package: ..." -> first clause */
#ifdef TLM_HAVE_CUDA
    int v = 0;
    if (ncclGetVersion(&v) != ncclSuccess)
        v = 0;
    /* NCCL >= 2.9 encodes major * 10000 + minor * 100 + patch */
    snprintf(buf, n_bytes, "%s, NCCL %d.%d.%d", mpi, v / 10000, v / 100 % 100, v % 100);
#else
    snprintf(buf, n_bytes, "%s (no NCCL: built without CUDA)", mpi);
#endif
}
