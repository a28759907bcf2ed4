/* launcher/bench/bench.c -- the three benchmark workloads (see bench.h). Everything a workload
 * touches is allocated before the first timed run, as the TTL loop does, so a timed run
 * is the engine's steady state: no allocation, no file access. */
#include "launcher/bench/bench.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/convert/gguf_source.h"
#include "io/model/model_config.h"
#include "worker/model/generate.h"
#include "worker/adapter/lora.h"
#include "worker/model/model.h"
#include "worker/adapter/optim.h"

/* The reference's adapter (DESIGN §1): q_proj, v_proj, rank 8, alpha 16; lr 5e-5. */
#define BENCH_RANK 8
#define BENCH_ALPHA 16.0f
#define BENCH_LR 5e-5

/* One benchmark's state; every buffer is host memory owned here. */
typedef struct BenchCtx {
    const BenchConfig *cfg; /* borrowed */
    const Ops *ops;         /* borrowed, or prof's table when profiling */
    OpsProfiler prof;       /* wraps the backend when cfg->profile */
    Model *m;
    Lora lora;
    Optim opt;
    Generator *gen;
    int32_t *tokens;        /* (B*T) the B sequences, back to back */
    int32_t *lens;          /* (B) each T */
    float *ce;              /* (B) */
    int32_t *out, *out_lens; /* (B*N), (B) generated ids */
    double grad_norm;       /* of the last update step */
    int32_t n_new;          /* tokens the generation workloads make: N, or 1 to profile */
} BenchCtx;

typedef int (*BenchFn)(BenchCtx *c, Err *err);

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void bench_tokens(int32_t *out, int64_t n, int64_t vocab_size, uint64_t seed) {
    uint64_t state = seed;
    const uint64_t span = vocab_size > 3 ? (uint64_t)(vocab_size - 3) : 1;
    for (int64_t i = 0; i < n; i++)
        out[i] = (int32_t)(3 + splitmix64(&state) % span);
}

/* Scoring: B sequences of T tokens in one packed pass, logits and per-sample ce. */
static int wl_forward(BenchCtx *c, Err *err) {
    return model_forward(c->m, &c->lora, c->tokens, c->lens, c->cfg->batch, 0, c->ce, err);
}

/* One TLM update step on sample 0 with d loss / d ce = 1 (HF's mean causal-LM loss, as
 * the torch side's labels= loss): zero grads, train forward, backward, clip + AdamW. */
static int wl_step(BenchCtx *c, Err *err) {
    const float dce = 1.0f;
    lora_zero_grads(&c->lora);
    if (model_forward(c->m, &c->lora, c->tokens, c->lens, 1, 1, c->ce, err) != 0 ||
        model_backward(c->m, &c->lora, &dce, err) != 0)
        return -1;
    c->grad_norm = optim_step(&c->opt, &c->lora, BENCH_LR);
    return 0;
}

/* Greedy generation of N tokens for n prompts; no stop ids, so every row gets N. */
static int wl_generate(BenchCtx *c, int32_t n, Err *err) {
    const int32_t N = c->n_new;
    if (gen_run(c->gen, &c->lora, c->tokens, c->lens, n, N, NULL, 0, c->out, c->out_lens,
                err) != 0)
        return -1;
    for (int32_t s = 0; s < n; s++)
        if (c->out_lens[s] != N)
            return err_set(err, "sequence %d got %d new tokens, expected %d", s,
                           c->out_lens[s], N);
    return 0;
}

/* Online TLM over cfg->online prompts on this model, adapter and generator (untimed by
 * time_median: one run, timed inside). */
static int run_online(BenchCtx *c, BenchOnline *o, Err *err) {
    const BenchConfig *k = c->cfg;
    const BenchOnlineConfig oc = {.prompts = k->online, .batch = k->batch,
                                  .max_len = k->n_tokens, .new_tokens = k->new_tokens,
                                  .lr = BENCH_LR, .seed = k->seed};
    return bench_online(c->m, &c->lora, c->gen, &oc, o, err);
}

static int wl_gen1(BenchCtx *c, Err *err) { return wl_generate(c, 1, err); }
static int wl_genb(BenchCtx *c, Err *err) { return wl_generate(c, c->cfg->batch, err); }

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One warm-up run (first-touch page faults, thread pool start-up, caches), then R timed
 * runs; *median_s = their median. The backend is synchronized before each clock read so
 * asynchronous (CUDA) work is counted where it ran. */
static int time_median(BenchCtx *c, BenchFn fn, const char *what, double *median_s,
                       Err *err) {
    const int32_t R = c->cfg->repeat;
    double *t = malloc((size_t)R * sizeof *t);
    if (t == NULL)
        return err_set(err, "out of host memory");
    int rc = fn(c, err);
    for (int32_t r = 0; rc == 0 && r < R; r++) {
        c->ops->sync();
        const double t0 = now_s();
        rc = fn(c, err);
        c->ops->sync();
        t[r] = now_s() - t0;
    }
    if (rc == 0) {
        qsort(t, (size_t)R, sizeof *t, cmp_double);
        *median_s = R % 2 ? t[R / 2] : 0.5 * (t[R / 2 - 1] + t[R / 2]);
    } else {
        err_prefix(err, "%s: ", what);
    }
    free(t);
    return rc;
}

static void ctx_free(BenchCtx *c) {
    gen_close(c->gen);
    lora_free(&c->lora);
    model_close(c->m);
    free(c->tokens);
    free(c->lens);
    free(c->ce);
    free(c->out);
    free(c->out_lens);
}

static int ctx_open(BenchCtx *c, const char *dir, Err *err) {
    const BenchConfig *k = c->cfg;
    const int64_t T = k->n_tokens, B = k->batch;
    if (k->profile) { /* the profiler tells lm_head matmuls by their N, the vocabulary */
        ModelConfig mc;
        if (model_src_config(dir, &mc, err) != 0)
            return -1;
        c->ops = prof_open(&c->prof, c->ops, mc.vocab_size);
    }
    c->n_new = k->new_tokens;
    const ModelOptions mo = {.max_tokens = B * T, .max_train_tokens = T,
                             .max_seqs = (int32_t)B, .max_pos = T + k->new_tokens,
                             .max_lora_rank = BENCH_RANK, .logit_rows = k->logit_rows,
                             .weight_format = k->weight_format,
                             .weight_file_types = k->weight_file_types,
                             .gradient_checkpointing = k->gradient_checkpointing};
    if ((c->m = model_open(dir, c->ops, &mo, err)) == NULL)
        return -1;
    const ModelConfig *mc = model_config(c->m);
    if (T + k->new_tokens > mc->max_pos)
        return err_set(err, "%s: prompts of %lld tokens + %d new ones exceed the model's %lld "
                       "positions", dir, (long long)T, k->new_tokens, (long long)mc->max_pos);
    const LoraConfig lc = {.rank = BENCH_RANK, .alpha = BENCH_ALPHA,
                           .targets = LORA_BIT(LORA_Q) | LORA_BIT(LORA_V)};
    if (lora_alloc(&c->lora, &lc, mc, c->ops, err) != 0)
        return -1;
    lora_init(&c->lora, k->seed);
    optim_init(&c->opt, NULL);
    if ((c->gen = gen_open(c->m, (int32_t)B, T + k->new_tokens, err)) == NULL)
        return -1;
    c->tokens = malloc((size_t)(B * T) * sizeof *c->tokens);
    c->lens = malloc((size_t)B * sizeof *c->lens);
    c->ce = calloc((size_t)B, sizeof *c->ce);
    c->out = malloc((size_t)(B * k->new_tokens) * sizeof *c->out);
    c->out_lens = calloc((size_t)B, sizeof *c->out_lens);
    if (!c->tokens || !c->lens || !c->ce || !c->out || !c->out_lens)
        return err_set(err, "out of host memory for %lld x %lld tokens", (long long)B,
                       (long long)T);
    bench_tokens(c->tokens, B * T, mc->vocab_size, k->seed);
    for (int64_t s = 0; s < B; s++)
        c->lens[s] = (int32_t)T;
    return 0;
}

/* Runs fn `runs` times into tally t (c->n_new tokens for generation workloads); decode:
 * each run's prefill and first token left out (prof_begin_decode). */
static int profile_into(BenchCtx *c, BenchFn fn, int32_t runs, int decode, ProfTally *t,
                        const char *what, Err *err) {
    for (int32_t r = 0; r < runs; r++) {
        if (decode)
            prof_begin_decode(&c->prof, t);
        else
            prof_begin(&c->prof, t);
        const int rc = fn(c, err);
        prof_end(&c->prof);
        if (rc != 0)
            return err_prefix(err, "profiling %s: ", what);
    }
    return 0;
}

/* One decode step of fn's batch: the N - 1 passes after the first token of R
 * generations, per pass (max_tokens is B x T, so the prompts prefill in one pass and
 * its argmax is the first). */
static int profile_decode(BenchCtx *c, BenchFn fn, ProfTally *out, const char *what,
                          Err *err) {
    ProfTally all = {0};
    const ProfTally none = {0};
    const int32_t N = c->cfg->new_tokens, R = c->cfg->repeat;
    c->n_new = N;
    const int rc = profile_into(c, fn, R, 1, &all, what, err);
    if (rc == 0)
        prof_diff(out, &all, &none, (double)R * (N - 1));
    return rc;
}

/* Per-run mean of a tally of `runs` runs (prof_diff against nothing). */
static void tally_mean(ProfTally *t) {
    const ProfTally zero = {0}, sum = *t;
    prof_diff(t, &sum, &zero, (double)sum.runs);
}

static int profile_all(BenchCtx *c, BenchProfile *p, Err *err) {
    *p = (BenchProfile){0};
    const int32_t R = c->cfg->repeat;
    if (profile_into(c, wl_forward, R, 0, &p->fwd, "forward", err) != 0 ||
        profile_into(c, wl_step, R, 0, &p->step, "update step", err) != 0 ||
        profile_decode(c, wl_gen1, &p->dec1, "decode, batch 1", err) != 0 ||
        profile_decode(c, wl_genb, &p->decb, "decode, batch B", err) != 0)
        return -1;
    tally_mean(&p->fwd);
    tally_mean(&p->step);
    ProfTally *all[] = {&p->fwd, &p->step, &p->dec1, &p->decb};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (prof_shape_alone(&c->prof, all[i], 0.05, err) != 0)
            return -1;
    if (prof_matmul_best(c->prof.inner, 1024, &p->peak, err) != 0 ||
        prof_copy_bandwidth(c->prof.inner, (size_t)256 << 20, &p->copy_bytes_s, err) != 0 ||
        prof_read_bandwidth(c->prof.inner, (size_t)256 << 20, &p->read_bytes_s, err) != 0)
        return -1;
    return 0;
}

int bench_run(const char *dir, const Ops *ops, const BenchConfig *cfg, BenchResult *out,
              BenchProfile *prof, Err *err) {
    if (cfg->n_tokens < 2 || cfg->n_tokens > INT32_MAX || cfg->batch < 1 ||
        cfg->new_tokens < 1 || cfg->repeat < 1 || (cfg->profile && cfg->new_tokens < 2))
        return err_set(err, "benchmark of B %d x T %lld tokens, %d new tokens, %d repeats: "
                       "need T >= 2 and B, N, R >= 1 (N >= 2 to profile)", cfg->batch,
                       (long long)cfg->n_tokens, cfg->new_tokens, cfg->repeat);
    BenchCtx c = {.cfg = cfg, .ops = ops};
    memset(out, 0, sizeof *out);
    int rc = ctx_open(&c, dir, err);
    if (rc == 0)
        rc = time_median(&c, wl_forward, "forward", &out->fwd_s, err);
    if (rc == 0) {
        double sum = 0;
        for (int32_t s = 0; s < cfg->batch; s++)
            sum += c.ce[s];
        out->mean_ce = sum / cfg->batch;
        rc = time_median(&c, wl_step, "update step", &out->step_s, err);
        out->grad_norm = c.grad_norm;
    }
    if (rc == 0)
        rc = time_median(&c, wl_gen1, "generation, batch 1", &out->gen1_s, err);
    if (rc == 0)
        rc = time_median(&c, wl_genb, "generation, batch B", &out->genb_s, err);
    if (rc == 0) {
        const double T = (double)cfg->n_tokens, B = cfg->batch, N = cfg->new_tokens;
        out->fwd_tok_s = B * T / out->fwd_s;
        out->step_tok_s = T / out->step_s;
        out->gen1_tok_s = N / out->gen1_s;
        out->genb_tok_s = B * N / out->genb_s;
    }
    if (rc == 0 && cfg->online > 0)
        rc = run_online(&c, &out->online, err);
    if (rc == 0 && cfg->profile)
        rc = profile_all(&c, prof, err);
    ctx_free(&c);
    return rc;
}
