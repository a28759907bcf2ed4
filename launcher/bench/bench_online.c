/* launcher/bench/bench_online.c -- online TLM end to end (see bench_online.h). Every buffer
 * is allocated before the clock starts; the stream batches then run as the TTL loop runs
 * them: generate with the adapter as it is, then one epoch of update steps. */
#include "launcher/bench/bench_online.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "worker/loop/ttl_core.h"
#include "worker/methods/method.h"

/* Sixteenth-quantiles (0, 1/16, ..., 1) of the prompt lengths of the four AdaptEval sets
 * pooled (GenMedGPT, agriculture-qa, GSM8K, wealth-alpaca: 20000 prompts, Llama-2
 * tokenizer, mean 48.6), measured by tools/gpu/adapteval_lengths.py. */
static const int32_t k_prompt_quantiles[17] = {3,  9,  10, 12, 14, 15,  18,  23, 39,
                                               47, 54, 62, 77, 91, 104, 121, 440};
/* The Llama-3 chat template's tokens around one user turn (begin_of_text, two headers,
 * eot, the blank lines): what `tlm run` adds to every prompt. */
#define TEMPLATE_TOKENS 10
/* TLM's defaults (the example jobs, jobs/<set>-online.yaml): ln P0 and the weight scale. */
#define ONLINE_THRESHOLD 3.0
#define ONLINE_LAMB 0.1

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

/* A draw of the pooled length distribution (the quantile table read as a piecewise-linear
 * inverse CDF) plus the template, within [2, max_len]. */
static int32_t draw_len(uint64_t *state, int64_t max_len) {
    const double u = (double)(splitmix64(state) >> 11) / 9007199254740992.0 * 16.0;
    const int i = (int)u;
    const double len = k_prompt_quantiles[i] +
                       (u - i) * (k_prompt_quantiles[i + 1] - k_prompt_quantiles[i]);
    int64_t n = (int64_t)(len + 0.5) + TEMPLATE_TOKENS;
    return (int32_t)(n < 2 ? 2 : n > max_len ? max_len : n);
}

/* The run's host buffers. */
typedef struct Stream {
    int32_t *tokens, *lens, *gen, *gen_lens;
    int64_t *off;
    TtlScore *scores;
} Stream;

static void stream_free(Stream *s) {
    free(s->tokens), free(s->lens), free(s->gen), free(s->gen_lens), free(s->off);
    free(s->scores);
}

static int stream_make(Stream *s, const BenchOnlineConfig *k, int64_t vocab, int64_t *total,
                       Err *err) {
    uint64_t state = k->seed ^ 0x6F6E6C696E65ull; /* "online": apart from the other streams */
    s->lens = malloc((size_t)k->prompts * sizeof *s->lens);
    s->off = malloc((size_t)k->prompts * sizeof *s->off);
    s->gen = malloc((size_t)k->batch * (size_t)k->new_tokens * sizeof *s->gen);
    s->gen_lens = calloc((size_t)k->batch, sizeof *s->gen_lens);
    s->scores = calloc((size_t)k->batch, sizeof *s->scores);
    if (!s->lens || !s->off || !s->gen || !s->gen_lens || !s->scores)
        return err_set(err, "out of host memory for %d prompts", k->prompts);
    *total = 0;
    for (int32_t i = 0; i < k->prompts; i++) {
        s->lens[i] = draw_len(&state, k->max_len);
        s->off[i] = *total;
        *total += s->lens[i];
    }
    if ((s->tokens = malloc((size_t)*total * sizeof *s->tokens)) == NULL)
        return err_set(err, "out of host memory for %lld prompt tokens", (long long)*total);
    /* ids 3.. as the bench's other workloads draw them (bench_tokens) */
    for (int64_t i = 0; i < *total; i++)
        s->tokens[i] = (int32_t)(3 + splitmix64(&state) % (uint64_t)(vocab > 3 ? vocab - 3 : 1));
    return 0;
}

/* Stream batch [b0, b0 + n): answered, then trained on; o's counts and times grow. */
static int run_batch(TtlCore *core, Generator *gen, const Lora *lora, const Stream *s,
                     const BenchOnlineConfig *k, int32_t b0, int32_t n, BenchOnline *o,
                     Err *err) {
    const Ops *ops = model_ops(core->m);
    const double t0 = now_s();
    if (gen_run(gen, lora, s->tokens + s->off[b0], s->lens + b0, n, k->new_tokens, NULL, 0,
                s->gen, s->gen_lens, err) != 0)
        return -1;
    ops->sync();
    const double t1 = now_s();
    ttl_core_begin(core, n, 1); /* a new trainer per stream batch, as the reference */
    const TtlSamples b = {.n = n, .tokens = s->tokens, .off = s->off + b0, .lens = s->lens + b0,
                          .gen = s->gen, .gen_lens = s->gen_lens, .gen_stride = k->new_tokens};
    const int64_t steps0 = core->step;
    if (ttl_core_epoch(core, &b, s->scores, err) != 0)
        return -1;
    ops->sync();
    o->gen_s += t1 - t0;
    o->update_s += now_s() - t1;
    o->steps += core->step - steps0;
    double ce = 0.0;
    for (int32_t i = 0; i < n; i++) {
        o->selected += s->scores[i].selected;
        o->prompt_tokens += s->lens[b0 + i];
        o->gen_tokens += s->gen_lens[i];
        ce += s->scores[i].ce;
    }
    if (b0 == 0)
        o->mean_ce_first = ce / n;
    o->mean_ce_last = ce / n;
    o->batches++;
    return 0;
}

int bench_online(Model *m, Lora *lora, Generator *gen, const BenchOnlineConfig *k,
                 BenchOnline *out, Err *err) {
    *out = (BenchOnline){.cfg = *k};
    Stream s = {0};
    int64_t total;
    if (stream_make(&s, k, model_config(m)->vocab_size, &total, err) != 0) {
        stream_free(&s);
        return -1;
    }
    lora_init(lora, k->seed);
    const MethodParams mp = {.threshold = ONLINE_THRESHOLD, .lamb = ONLINE_LAMB};
    const TtlCoreConfig cc = {.batch_size = 1, .max_len = k->max_len, .lr = k->lr,
                              .optim = optim_defaults()};
    TtlCore core = {0};
    int rc = ttl_core_init(&core, m, lora, method_find("tlm"), &mp, &cc, NULL, err);
    model_ops(m)->sync();
    const double t0 = now_s();
    for (int32_t b0 = 0; rc == 0 && b0 < k->prompts; b0 += k->batch) {
        const int32_t n = k->prompts - b0 < k->batch ? k->prompts - b0 : k->batch;
        if ((rc = run_batch(&core, gen, lora, &s, k, b0, n, out, err)) != 0)
            err_prefix(err, "online TLM, the stream batch of prompts %d..%d: ", b0, b0 + n - 1);
    }
    out->total_s = now_s() - t0;
    ttl_core_free(&core);
    stream_free(&s);
    return rc;
}

void bench_print_online(const BenchOnline *o) {
    const BenchOnlineConfig *k = &o->cfg;
    printf("online TLM: %d prompts of AdaptEval-like lengths (%lld tokens, mean %.1f with the "
           "template, at most %lld), stream batches of %d, %d new tokens each; tlm threshold "
           "%.1f, batch size 1, lr %.3g\n", k->prompts, (long long)o->prompt_tokens,
           k->prompts ? (double)o->prompt_tokens / k->prompts : 0.0, (long long)k->max_len,
           k->batch, k->new_tokens, ONLINE_THRESHOLD, k->lr);
    printf("  %-40s %12.2f prompts/s %8.3f s\n", "online TLM end to end",
           o->total_s > 0 ? k->prompts / o->total_s : 0.0, o->total_s);
    printf("  %-40s %12.1f tok/s  %9.3f s (%.0f%%)\n", "  generation (answers)",
           o->gen_s > 0 ? (double)o->gen_tokens / o->gen_s : 0.0, o->gen_s,
           o->total_s > 0 ? 100.0 * o->gen_s / o->total_s : 0.0);
    printf("  %-40s %12.1f tok/s  %9.3f s (%.0f%%; %lld steps, %lld of %d selected)\n",
           "  updates (input tokens trained)",
           o->update_s > 0 ? (double)o->prompt_tokens / o->update_s : 0.0, o->update_s,
           o->total_s > 0 ? 100.0 * o->update_s / o->total_s : 0.0, (long long)o->steps,
           (long long)o->selected, k->prompts);
    printf("  %-40s %12.4f -> %.4f (first -> last stream batch)\n", "  mean input ce",
           o->mean_ce_first, o->mean_ce_last);
}
