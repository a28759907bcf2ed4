/* comm/comm_watchdog.h -- a bound on starting the process grid. MPI_Init, the node check,
 * the tp/dp splits, the device binding and ncclCommInitRank all block until every peer
 * takes part, and none of them has a timeout of its own: a rank that never arrives (not
 * started, stuck on a slow node, dead before MPI_Init) would hold the others forever. A
 * watchdog thread ends this process with one error line after TLM_COMM_TIMEOUT seconds
 * (comm.h; 0 = no watchdog) unless the start-up finished first; the launcher (mpirun,
 * srun) then ends the job. The thread calls no MPI, NCCL or CUDA function. */
#ifndef TLM_COMM_WATCHDOG_H
#define TLM_COMM_WATCHDOG_H

#include "io/base/err.h"

typedef struct CommWatchdog CommWatchdog;

/* Starts the watchdog for `what` (a phrase for the message, static or outliving it):
 * *out owned (comm_watchdog_stop), NULL when TLM_COMM_TIMEOUT is 0. Errors: a malformed
 * TLM_COMM_TIMEOUT (named), no thread. */
int comm_watchdog_start(const char *what, CommWatchdog **out, Err *err);

/* The start-up finished: stops and frees the watchdog (NULL accepted). */
void comm_watchdog_stop(CommWatchdog *w);

/* Test hook TLM_TEST_INIT_STALL=RANK:SECONDS: the process the MPI launcher started as
 * world rank RANK (OMPI_COMM_WORLD_RANK, PMI_RANK or SLURM_PROCID) sleeps SECONDS before
 * the grid starts, so a test can make a peer that does not arrive in time. Nothing
 * otherwise. */
void comm_test_init_stall(void);

#endif
