/* worker/loop/ttl_comm.c -- the loop's collectives (see ttl_comm.h). Under tp each rank of a
 * tp group holds the same samples; the model's and adapter's tp collectives live in the
 * worker (forward, backward, optim_grad_sumsq sums the sharded parts over tp). */
#include "worker/loop/ttl_comm.h"

#include <stdlib.h>
#include <string.h>

#include "io/base/log.h"

void ttl_comm_grid(Comm *c, int *dp_rank, int *dp_size, int *writer) {
    *dp_rank = c != NULL ? comm_rank(c, COMM_DP) : 0;
    *dp_size = c != NULL ? comm_size(c, COMM_DP) : 1;
    *writer = c != NULL ? comm_rank(c, COMM_WORLD) == 0 : 1;
}

int ttl_comm_sum(Comm *c, double *v, int n, Err *err) {
    if (c == NULL || comm_size(c, COMM_DP) == 1)
        return 0;
    if (comm_all_reduce(c, COMM_DP, v, n, COMM_F64, COMM_SUM, err) != 0)
        return err_prefix(err, "summing step statistics over dp: ");
    return 0;
}

int ttl_comm_sum_grads(Comm *c, Lora *lora, Err *err) {
    if (c == NULL || comm_size(c, COMM_DP) == 1)
        return 0;
    /* grads is fp32 on every backend: F32, host on CPU, device on CUDA (NCCL). */
    if (comm_all_reduce(c, COMM_DP, lora->grads, lora->n_params, COMM_F32, COMM_SUM, err))
        return err_prefix(err, "summing LoRA gradients over dp: ");
    return 0;
}

int ttl_comm_grad_sumsq(Comm *c, const Lora *lora, double *sumsq, Err *err) {
    (void)c; /* dp replicas hold identical (summed) gradients: the tp-global sum suffices */
    (void)err;
    *sumsq = optim_grad_sumsq(lora); /* sums sharded parts over tp when the adapter is */
    return 0;
}

/* One sample's row in the gather, as int32 words: gen_len, gen[stride], then the score
 * (ce, weight as float bits; step as two words; tokens, rank, selected). */
enum { ROW_SCORE_WORDS = 7 };

static void pack_row(const TtlBatch *b, int32_t i, int32_t *row) {
    const TtlScore *s = &b->scores[i];
    row[0] = b->gen_lens[i];
    memcpy(row + 1, b->gen + (int64_t)i * b->gen_stride, (size_t)b->gen_stride * 4);
    int32_t *w = row + 1 + b->gen_stride;
    memcpy(&w[0], &s->ce, 4);
    memcpy(&w[1], &s->weight, 4);
    memcpy(&w[2], &s->step, 8);
    w[4] = s->tokens;
    w[5] = s->rank;
    w[6] = s->selected;
}

static void unpack_row(TtlBatch *b, int32_t i, const int32_t *row, int gen, int scores) {
    if (gen) {
        b->gen_lens[i] = row[0];
        memcpy(b->gen + (int64_t)i * b->gen_stride, row + 1, (size_t)b->gen_stride * 4);
    }
    if (scores) {
        const int32_t *w = row + 1 + b->gen_stride;
        TtlScore *s = &b->scores[i];
        memcpy(&s->ce, &w[0], 4);
        memcpy(&s->weight, &w[1], 4);
        memcpy(&s->step, &w[2], 8);
        s->tokens = w[4];
        s->rank = w[5];
        s->selected = (uint8_t)w[6];
    }
}

int ttl_comm_gather(Comm *c, TtlBatch *b, int32_t from, int32_t to, int gen, int scores,
                    Err *err) {
    if (c == NULL || comm_size(c, COMM_DP) == 1 || to <= from)
        return 0;
    const int dp = comm_size(c, COMM_DP), me = comm_rank(c, COMM_DP);
    const int32_t per = (to - from + dp - 1) / dp; /* sample slots per rank */
    const int64_t words = 1 + b->gen_stride + ROW_SCORE_WORDS;
    /* Once per batch, not per step: the dp path's staging is sized by the batch. */
    int32_t *send = calloc((size_t)(per * words), 4);
    int32_t *recv = calloc((size_t)(per * words) * (size_t)dp, 4);
    if (send == NULL || recv == NULL) {
        free(send);
        free(recv);
        return err_set(err, "out of memory gathering %d samples over %d dp ranks",
                       to - from, dp);
    }
    int32_t j = 0;
    for (int32_t i = from; i < to; i++)
        if (i % dp == me)
            pack_row(b, i, send + (j++) * words);
    int rc = comm_all_gather(c, COMM_DP, send, recv, per * words, COMM_I32, err);
    if (rc != 0) {
        err_prefix(err, "gathering answers and scores of samples %lld..%lld: ",
                   (long long)(b->first + from), (long long)(b->first + to - 1));
    } else {
        int32_t slot[TTL_MAX_DP] = {0}; /* next slot per rank; larger dp is refused below */
        for (int32_t i = from; i < to && dp <= TTL_MAX_DP; i++) {
            const int q = i % dp;
            if (q != me)
                unpack_row(b, i, recv + ((int64_t)q * per + slot[q]) * words, gen, scores);
            slot[q]++;
        }
        if (dp > TTL_MAX_DP)
            rc = err_set(err, "dp = %d: at most %d data-parallel ranks are supported", dp,
                         TTL_MAX_DP);
    }
    free(send);
    free(recv);
    return rc;
}

int ttl_comm_stop(Comm *c, int flag) {
    int32_t v = flag ? 1 : 0;
    if (c != NULL && comm_size(c, COMM_WORLD) > 1) {
        Err e = {{0}};
        if (comm_all_reduce(c, COMM_WORLD, &v, 1, COMM_I32, COMM_MAX, &e) != 0)
            log_fatal("agreeing on the stop flag over %d ranks: %s", comm_size(c, COMM_WORLD),
                      e.msg);
    }
    return v != 0;
}

void ttl_comm_meet(Comm *c) {
    if (c == NULL || comm_size(c, COMM_WORLD) < 2)
        return;
    Err e = {{0}};
    if (comm_barrier(c, COMM_WORLD, &e) != 0)
        log_warn("waiting for every rank after saving the last good state: %s", e.msg);
}
