/* launcher/cmd_version.c -- `tlm --version` / `tlm version`: what this binary is and runs
 * on, the first thing to paste into a bug report: version and commit, the backends built
 * in, the BLAS with the kernel family it runs, and the MPI / NCCL libraries. */
#include <stdio.h>
#include <string.h>

#include "comm/comm_version.h"
#include "kernels/build_info.h"
#include "kernels/cpu/blas.h"
#include "launcher/commands.h"
#include "tlm_version.h"

int cmd_version(int argc, char **argv) {
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: tlm version   (or tlm --version)\n");
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "tlm version: unexpected argument \"%s\"\n", argv[1]);
        return 2;
    }
    char backends[256], blas[384], comm[256];
    kernels_describe_backends(backends, sizeof backends);
    BlasInfo info;
    blas_info(&info);
    blas_describe(&info, blas, sizeof blas);
    comm_describe_libraries(comm, sizeof comm);
    printf("tlm %s (commit %s)\n", TLM_VERSION, TLM_GIT_COMMIT);
    printf("backends: %s\n", backends);
    printf("blas: %s\n", blas);
    printf("comm: %s\n", comm);
    return 0;
}
