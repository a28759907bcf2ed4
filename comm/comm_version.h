/* comm/comm_version.h -- the versions of the collective libraries linked in (MPI, and
 * NCCL in a CUDA build), for `tlm --version`. Needs neither MPI_Init nor a GPU. */
#ifndef TLM_COMM_COMM_VERSION_H
#define TLM_COMM_COMM_VERSION_H

#include <stddef.h>

/* Writes e.g. "Open MPI v4.1.4, NCCL 2.28.3" into buf (NUL-terminated, truncated). */
void comm_describe_libraries(char *buf, size_t n_bytes);

#endif
