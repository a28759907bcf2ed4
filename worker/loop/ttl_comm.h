/* worker/loop/ttl_comm.h -- the TTL loop's only contact with other ranks (DESIGN §3): the
 * dp grid, sums over the dp group (step statistics, LoRA gradients), the global gradient
 * norm, the gather that brings every dp rank's answers and scores to the writer, and the
 * stop decision. With comm == NULL (one process) every function is a no-op (or a local
 * answer), so a single process never needs MPI. Sample i of a stream batch belongs to dp
 * rank i mod dp. Collective functions must be called at the same point on every rank of
 * the group they name. Single-threaded, like the rest of the loop. */
#ifndef TLM_WORKER_TTL_COMM_H
#define TLM_WORKER_TTL_COMM_H

#include "comm/comm.h"
#include "io/base/err.h"
#include "worker/adapter/lora.h"
#include "worker/loop/ttl_batch.h"

/* Data-parallel ranks the loop supports: the gather's per-rank slot table and a
 * checkpoint's stream positions are fixed arrays of this size (larger dp is refused with a
 * message; DESIGN §3 plans dp of a few nodes, far below it). */
#define TTL_MAX_DP 64

/* This rank's place: dp rank and size, and whether it writes the files (world rank 0). */
void ttl_comm_grid(Comm *c, int *dp_rank, int *dp_size, int *writer);
/* v (host, n) becomes its sum over the dp group. */
int ttl_comm_sum(Comm *c, double *v, int n, Err *err);
/* lora->grads (backend, n_params) becomes their sum over the dp group. */
int ttl_comm_sum_grads(Comm *c, Lora *lora, Err *err);
/* The global squared gradient norm (sums shards' squares across tp when sharded). */
int ttl_comm_grad_sumsq(Comm *c, const Lora *lora, double *sumsq, Err *err);
/* After an epoch: every rank (rank 0 needs them to write) gets the generated tokens (gen)
 * and scores (scores) of samples [from, to) of b that other dp ranks produced; this is
 * the one place besides worker/loop/ttl_batch.c that writes a batch's rows. */
int ttl_comm_gather(Comm *c, TtlBatch *b, int32_t from, int32_t to, int gen, int scores,
                    Err *err);
/* The stop decision, the same on every rank: 1 when any rank's flag is set (one
 * all-reduce over the world when there is more than one rank). A failed all-reduce stops
 * the job (log_fatal): ranks that disagree would deadlock. */
int ttl_comm_stop(Comm *c, int flag);
/* Returns once every rank has called it (a world barrier; nothing for one process): on an
 * error every rank meets the writer here after it saved the last good state, so that no
 * rank's abort kills the writer inside that checkpoint write. A failed barrier is logged
 * and ignored (the run ends with its error either way). */
void ttl_comm_meet(Comm *c);

#endif
