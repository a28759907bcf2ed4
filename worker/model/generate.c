/* worker/model/generate.c -- greedy decoding with a per-slot KV cache (see generate.h).
 * The same decoder layers as training (forward.c), in their cached mode: each pass
 * scatters its k/v rows into the slots and attends over the slots. The lm_head runs on
 * one row per sequence (the last position), never on the whole prompt. */
#include "worker/model/generate.h"

#include <stdlib.h>
#include <string.h>

#include "worker/model/model_impl.h"

struct Generator {
    Model *m;                 /* borrowed */
    int32_t max_slots;        /* B */
    int64_t max_ctx;          /* positions per slot */
    void *block;              /* backend: KV cache + head workspace, one allocation */
    void **k_cache, **v_cache; /* host (L) of backend (max_slots * max_ctx, KVH*HD) */
    void *xn_last;            /* (B, D) model.norm of the sequences' last positions */
    /* host staging, sized once */
    int32_t *h_tok;           /* (max_tokens) the pass's tokens */
    int32_t *h_len, *h_pos0, *h_kv, *h_owner, *h_ids; /* (B) per pass row */
    int32_t *n_gen, *done;    /* (B) per slot */
};

Generator *gen_open(Model *m, int32_t max_slots, int64_t max_ctx, Err *err) {
    const ModelOptions mo = model_options(m);
    if (max_slots < 1 || max_slots > mo.max_seqs || max_ctx < 2 || max_ctx > mo.max_pos) {
        err_set(err, "generator for %d slots x %lld positions: the model allows 1..%d "
                     "slots and 2..%lld positions", max_slots, (long long)max_ctx,
                mo.max_seqs, (long long)mo.max_pos);
        return NULL;
    }
    Generator *g = calloc(1, sizeof *g);
    const size_t B = (size_t)max_slots;
    if (g == NULL)
        goto oom;
    g->m = m;
    g->max_slots = max_slots;
    g->max_ctx = max_ctx;
    g->k_cache = calloc((size_t)m->L, sizeof(void *));
    g->v_cache = calloc((size_t)m->L, sizeof(void *));
    g->h_tok = calloc((size_t)mo.max_tokens, sizeof(int32_t));
    int32_t **small[] = {&g->h_len, &g->h_pos0, &g->h_kv, &g->h_owner, &g->h_ids,
                         &g->n_gen, &g->done};
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++)
        if ((*small[i] = calloc(B, sizeof(int32_t))) == NULL)
            goto oom;
    if (g->k_cache == NULL || g->v_cache == NULL || g->h_tok == NULL)
        goto oom;

    const size_t e = m->ops->elem_bytes;
    const size_t cache_bytes = B * (size_t)max_ctx * (size_t)(m->KVH * m->HD) * e;
    BlockPlan p = {0};
    for (int64_t l = 0; l < m->L; l++) {
        block_add(&p, &g->k_cache[l], cache_bytes);
        block_add(&p, &g->v_cache[l], cache_bytes);
    }
    block_add(&p, &g->xn_last, B * (size_t)m->D * e);
    g->block = block_alloc(&p, m->ops, "KV cache", err);
    if (g->block == NULL) {
        gen_close(g);
        return NULL;
    }
    return g;
oom:
    err_set(err, "out of host memory for a generator of %d slots", max_slots);
    gen_close(g);
    return NULL;
}

void gen_close(Generator *g) {
    if (g == NULL)
        return;
    if (g->block != NULL) {
        g->m->ops->graph_reset(); /* graphs may hold the KV cache freed here */
        g->m->ops->release(g->block);
    }
    int32_t *small[] = {g->h_tok, g->h_len, g->h_pos0, g->h_kv, g->h_owner, g->h_ids,
                        g->n_gen, g->done};
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++)
        free(small[i]);
    free(g->k_cache);
    free(g->v_cache);
    free(g);
}

/* After a cached pass of n rows: lm_head on model.norm of each row's last position (the
 * last layer's fused add + norm left model.norm of every row in xnf: gathered unless
 * every row is one token) and the argmax's backend part (model_vocab_argmax_enqueue;
 * model_vocab_argmax_finish then puts the ids into g->h_ids). Under tp the logits are
 * this rank's vocabulary range (n, V/tp) and the argmax is vocabulary-parallel:
 * collective over tp. */
static int head_enqueue(Generator *g, int32_t n, int gather, Err *err) {
    Model *m = g->m;
    const Ops *o = m->ops;
    const void *xn = m->xnf;
    if (gather) {
        o->rows_gather(g->xn_last, m->xnf, m->pass.last, n, m->D);
        xn = g->xn_last;
    }
    o->wmatmul_fwd(m->logits, xn, m->lm_head, NULL, n, m->V, m->D, 0);
    return model_vocab_argmax_enqueue(m, n, err);
}

/* A decode step: rows sequences of one new token each (the tables in g's staging), next
 * ids into g->h_ids. Its ops depend on rows only (one gen_run's adapter, KV cache and
 * workspaces stay put), so rows is its graph key: CUDA replays the step as one graph
 * after the tables' asynchronous upload, and the ids' download is the step's one
 * synchronization. Under tp the step communicates: key 0, no graph. */
static int decode_step(Generator *g, const Lora *lora, int32_t rows, Err *err) {
    Model *m = g->m;
    const Ops *o = m->ops;
    if (model_pass_set(m, g->h_tok, g->h_len, g->h_pos0, g->h_kv, rows, err) != 0)
        return -1;
    int rc = 0;
    if (!o->graph_begin(m->tp == 1 ? (uint64_t)rows : 0)) { /* not a replay: enqueue */
        rc = model_layers_fwd(m, lora, 0, g->k_cache, g->v_cache, err);
        if (rc == 0)
            rc = head_enqueue(g, rows, 0, err); /* one token a row: no gather */
    }
    o->graph_end();
    if (rc != 0)
        return -1;
    model_vocab_argmax_finish(m, rows, g->h_ids);
    return 0;
}

static int is_stop(int32_t id, const int32_t *stop_ids, int32_t n_stop) {
    for (int32_t i = 0; i < n_stop; i++)
        if (stop_ids[i] == id)
            return 1;
    return 0;
}

/* Records sequence s's next token; marks it done at a stop id or the length limit. */
static void emit(Generator *g, int32_t s, int32_t id, int32_t *out, int32_t max_new,
                 const int32_t *stop_ids, int32_t n_stop) {
    out[(int64_t)s * max_new + g->n_gen[s]] = id;
    g->n_gen[s]++;
    if (g->n_gen[s] >= max_new || is_stop(id, stop_ids, n_stop))
        g->done[s] = 1;
}

/* Prefills prompts (n <= max_slots; sequence s in slot s) in packed passes of at most
 * max_tokens tokens, splitting a long prompt across passes (its later chunks start at
 * pos0 > 0 and attend to the earlier ones through the cache). */
static int prefill(Generator *g, const Lora *lora, const int32_t *prompts, const int32_t *lens,
                   int32_t n, int32_t *out, int32_t max_new, const int32_t *stop_ids,
                   int32_t n_stop, Err *err) {
    Model *m = g->m;
    const int64_t cap = m->opt.max_tokens;
    int32_t s = 0, done_in_s = 0;
    int64_t src = 0; /* offset of prompt s in prompts */
    while (s < n) {
        int32_t rows = 0;
        int64_t T = 0;
        while (s < n && rows < g->max_slots && T < cap) {
            const int32_t take = (int32_t)(lens[s] - done_in_s < cap - T ? lens[s] - done_in_s
                                                                         : cap - T);
            memcpy(g->h_tok + T, prompts + src + done_in_s, (size_t)take * sizeof(int32_t));
            g->h_len[rows] = take;
            g->h_pos0[rows] = done_in_s;
            g->h_kv[rows] = (int32_t)(s * g->max_ctx);
            g->h_owner[rows] = done_in_s + take == lens[s] ? s : -1; /* -1: not its end */
            rows++;
            T += take;
            done_in_s += take;
            if (done_in_s == lens[s]) {
                src += lens[s];
                s++;
                done_in_s = 0;
            }
        }
        if (model_pass_set(m, g->h_tok, g->h_len, g->h_pos0, g->h_kv, rows, err) != 0)
            return -1;
        if (model_layers_fwd(m, lora, 0, g->k_cache, g->v_cache, err) != 0 ||
            head_enqueue(g, rows, 1, err) != 0)
            return -1;
        model_vocab_argmax_finish(m, rows, g->h_ids);
        for (int32_t r = 0; r < rows; r++)
            if (g->h_owner[r] >= 0)
                emit(g, g->h_owner[r], g->h_ids[r], out, max_new, stop_ids, n_stop);
    }
    return 0;
}

/* One wave: n <= max_slots sequences, sequence s in slot s. */
static int run_wave(Generator *g, const Lora *lora, const int32_t *prompts,
                    const int32_t *lens, int32_t n, int32_t max_new, const int32_t *stop_ids,
                    int32_t n_stop, int32_t *out, Err *err) {
    memset(g->n_gen, 0, (size_t)n * sizeof(int32_t));
    memset(g->done, 0, (size_t)n * sizeof(int32_t));
    if (prefill(g, lora, prompts, lens, n, out, max_new, stop_ids, n_stop, err) != 0)
        return -1;
    for (;;) {
        int32_t rows = 0;
        for (int32_t s = 0; s < n; s++) {
            if (g->done[s])
                continue; /* retired: its slot takes no more work */
            g->h_tok[rows] = out[(int64_t)s * max_new + g->n_gen[s] - 1];
            g->h_len[rows] = 1;
            g->h_pos0[rows] = lens[s] + g->n_gen[s] - 1;
            g->h_kv[rows] = (int32_t)(s * g->max_ctx);
            g->h_owner[rows] = s;
            rows++;
        }
        if (rows == 0)
            return 0;
        if (decode_step(g, lora, rows, err) != 0)
            return -1;
        for (int32_t r = 0; r < rows; r++)
            emit(g, g->h_owner[r], g->h_ids[r], out, max_new, stop_ids, n_stop);
    }
}

int gen_run(Generator *g, const Lora *lora, const int32_t *prompts, const int32_t *prompt_lens,
            int32_t n_seqs, int32_t max_new_tokens, const int32_t *stop_ids, int32_t n_stop,
            int32_t *out, int32_t *out_lens, Err *err) {
    if (max_new_tokens < 1)
        return err_set(err, "max_new_tokens %d: need at least 1", max_new_tokens);
    if (model_check_lora(g->m, lora, err) != 0)
        return -1;
    for (int32_t s = 0; s < n_seqs; s++)
        if (prompt_lens[s] < 1 || prompt_lens[s] + max_new_tokens - 1 > g->max_ctx)
            return err_set(err, "prompt %d has %d tokens; with %d new tokens it needs 1..%lld",
                           s, prompt_lens[s], max_new_tokens,
                           (long long)(g->max_ctx - max_new_tokens + 1));
    for (int64_t i = 0; i < (int64_t)n_seqs * max_new_tokens; i++)
        out[i] = -1;
    g->m->ops->graph_reset(); /* decode_step's keys hold for this call's adapter only */
    int64_t src = 0;
    for (int32_t s0 = 0; s0 < n_seqs; s0 += g->max_slots) {
        const int32_t n = n_seqs - s0 < g->max_slots ? n_seqs - s0 : g->max_slots;
        int32_t *wave_out = out + (int64_t)s0 * max_new_tokens;
        if (run_wave(g, lora, prompts + src, prompt_lens + s0, n, max_new_tokens, stop_ids,
                     n_stop, wave_out, err) != 0)
            return err_prefix(err, "generating for prompts %d..%d: ", s0, s0 + n - 1);
        for (int32_t s = 0; s < n; s++) {
            out_lens[s0 + s] = g->n_gen[s];
            src += prompt_lens[s0 + s];
        }
    }
    return 0;
}
