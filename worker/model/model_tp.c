/* worker/model/model_tp.c -- what one tp rank holds and what crosses the tp group
 * (DESIGN §3): this rank's slice of the dims, the sum of a buffer over tp, and the
 * vocabulary-parallel head (Megatron-LM's vocab_parallel_cross_entropy).
 * Each rank holds logits for its vocabulary range only, (T, V/tp); cross-entropy and
 * greedy argmax are formed from per-row statistics of every range (2 floats per row and
 * rank, one all-gather), never from gathered logits, combined on the host in double, in
 * rank order, so every tp rank computes the same bits. tp = 1 is the same path with one
 * range, [0, V): the sum is a no-op and the gather a copy. */
#include "worker/model/model_impl.h"

#include <math.h>
#include <string.h>

/* Every rank reads the same config.json, so every rank refuses a bad tp with the same
 * message. */
int model_tp_slice(Model *m, const char *dir, Err *err) {
    Comm *c = m->opt.comm;
    m->tp = c != NULL ? comm_size(c, COMM_TP) : 1;
    m->tp_rank = c != NULL ? comm_rank(c, COMM_TP) : 0;
    m->comm = m->tp > 1 ? c : NULL;
    const struct { const char *key; int64_t n; } dims[] = {
        {"num_attention_heads", m->H}, {"num_key_value_heads", m->KVH},
        {"intermediate_size", m->F}};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
        if (dims[i].n % m->tp != 0)
            return err_set(err, "%s/config.json: %s = %lld is not divisible by tp = %d: "
                                "tensor parallelism splits it evenly across the tp ranks "
                                "(DESIGN §3); choose a tp that divides it", dir, dims[i].key,
                           (long long)dims[i].n, m->tp);
    m->H /= m->tp;
    m->KVH /= m->tp;
    m->F /= m->tp;
    /* A vocabulary tp does not divide is split unevenly (slices differ by one row), not
     * padded: every vocabulary op takes this rank's range [v0, v0 + V). */
    m->v0 = model_split_begin(m->cfg.vocab_size, m->tp, m->tp_rank);
    m->V = model_split_begin(m->cfg.vocab_size, m->tp, m->tp_rank + 1) - m->v0;
    return 0;
}


void model_vocab_range(const Model *m, int64_t *v0, int64_t *n_vocab) {
    if (v0 != NULL)
        *v0 = m->v0;
    if (n_vocab != NULL)
        *n_vocab = m->V;
}

int model_tp(const Model *m, int *rank) {
    if (rank != NULL)
        *rank = m->tp_rank;
    return m->tp;
}

int model_tp_sum(Model *m, void *buf, int64_t count, CommType type, const char *what,
                 Err *err) {
    if (m->tp == 1)
        return 0;
    if (comm_all_reduce(m->comm, COMM_TP, buf, count, type, COMM_SUM, err) != 0)
        return err_prefix(err, "summing %s over tp: ", what);
    return 0;
}

/* tok_part (2, n) of every tp rank, in rank order, into tok_gath ((tp, 2, n)): an
 * all-gather over tp, a copy on one rank. */
static int gather_stats(Model *m, int64_t n, const char *what, Err *err) {
    const size_t part_bytes = 2 * (size_t)n * sizeof(float);
    if (m->tp == 1)
        m->ops->copy(m->tok_gath, m->tok_part, part_bytes);
    else if (comm_all_gather(m->comm, COMM_TP, m->tok_part, m->tok_gath, 2 * n, COMM_F32,
                             err) != 0)
        return err_prefix(err, "gathering %s statistics over tp: ", what);
    return 0;
}

/* tok_gath into h_gath (host): the pass's synchronization, after which its uploaded
 * tables are consumed too. */
static void download_stats(Model *m, int64_t n) {
    m->ops->download_async(m->h_gath, m->tok_gath, (size_t)m->tp * 2 * (size_t)n * sizeof(float));
    m->ops->sync();
    m->pass.in_flight = 0;
}

int model_vocab_xent(Model *m, int64_t r0, int64_t T, Err *err) {
    /* (lse_r, target logit_r) of this range per row */
    m->ops->xent_fwd(m->tok_part, m->tok_part + T, m->logits, m->pass.targets + r0, T, m->V,
                     m->v0);
    if (gather_stats(m, T, "cross-entropy", err) != 0)
        return -1;
    download_stats(m, T);
    /* lse = log sum_r exp(lse_r), with the largest lse_r factored out (one range: exactly
     * lse_0); the target logit lives on exactly one rank (0 elsewhere), so summing picks
     * it. The host copy of the pass's targets says which rows have one. */
    const int32_t *tgt = m->pass.host + 2 * m->pass.n_tok + r0;
    for (int64_t t = 0; t < T; t++) {
        double mx = -INFINITY, z = 0.0;
        for (int r = 0; r < m->tp; r++) {
            const float *p = m->h_gath + (size_t)r * 2 * T;
            mx = p[t] > mx ? p[t] : mx;
            z += p[T + t];
        }
        double s = 0.0;
        for (int r = 0; r < m->tp && mx != -INFINITY; r++)
            s += exp((double)m->h_gath[(size_t)r * 2 * T + t] - mx);
        const double lse = mx == -INFINITY ? mx : mx + log(s);
        /* row t of rank 0's lse was read above and later rows are still intact: its
         * place takes the whole vocabulary's lse, uploaded below for the backward */
        m->h_gath[t] = (float)lse;
        m->h_loss[r0 + t] = tgt[t] >= 0 ? (float)(lse - z) : 0.0f;
    }
    m->ops->upload_raw(m->tok_lse + r0, m->h_gath, (size_t)T * sizeof(float));
    return 0;
}

int model_vocab_argmax_enqueue(Model *m, int64_t n, Err *err) {
    float *val = m->tok_part;
    int32_t *gid = (int32_t *)(m->tok_part + n);
    m->ops->argmax(val, gid, m->logits, n, m->V, m->v0);
    return gather_stats(m, n, "argmax", err);
}

void model_vocab_argmax_finish(Model *m, int64_t n, int32_t *ids) {
    download_stats(m, n);
    /* Ranges are in rank order, so the first rank holding the maximum has the lowest
     * global id among equal values: strict > keeps it (torch.argmax's tie rule). */
    for (int64_t t = 0; t < n; t++) {
        float best = m->h_gath[t];
        int32_t id;
        memcpy(&id, &m->h_gath[n + t], sizeof id);
        for (int r = 1; r < m->tp; r++) {
            const float *p = m->h_gath + (size_t)r * 2 * n;
            if (p[t] > best) {
                best = p[t];
                memcpy(&id, &p[n + t], sizeof id);
            }
        }
        ids[t] = id;
    }
}
