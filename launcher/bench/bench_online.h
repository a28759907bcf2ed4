/* launcher/bench/bench_online.h -- online TLM end to end, the fourth workload of `tlm bench`
 * (--online S): S prompts of AdaptEval-like lengths stream through the model in batches
 * of B; each batch is first answered (greedy, N new tokens, the current adapter) and then
 * trained on (one epoch of TLM update steps: method tlm, threshold 3, lamb 0.1, batch
 * size 1, a fresh AdamW per batch), as `tlm run` does online (worker/loop/ttl.c) without
 * the dataset, the tokenizer and the output files. The wall time is split into the
 * generation and the update share. Not thread-safe. */
#ifndef TLM_LAUNCHER_BENCH_ONLINE_H
#define TLM_LAUNCHER_BENCH_ONLINE_H

#include <stdint.h>

#include "io/base/err.h"
#include "worker/adapter/lora.h"
#include "worker/model/generate.h"
#include "worker/model/model.h"

/* Plain data: what to run. */
typedef struct BenchOnlineConfig {
    int32_t prompts;    /* S */
    int32_t batch;      /* B: the stream batch, at most gen's slots */
    int64_t max_len;    /* prompts are cut to this many tokens (the bench's T) */
    int32_t new_tokens; /* N per prompt */
    double lr;
    uint64_t seed;      /* prompt lengths, token ids and the adapter's init */
} BenchOnlineConfig;

/* What it did and how long it took (seconds of wall time, the backend synchronized). */
typedef struct BenchOnline {
    BenchOnlineConfig cfg;             /* what ran */
    int32_t batches;
    int64_t prompt_tokens, gen_tokens; /* input tokens trained on, tokens generated */
    int64_t steps, selected;           /* update steps taken, samples above the threshold */
    double mean_ce_first, mean_ce_last; /* of the first and the last stream batch */
    double total_s, gen_s, update_s;
} BenchOnline;

/* Runs cfg (borrowed) on m, lora and gen (borrowed; m opened for B sequences and max_len
 * training tokens, gen with B slots of max_len + N positions); lora is re-initialized
 * from cfg->seed first. Fills *out. Errors: the model's, naming the stream batch. */
int bench_online(Model *m, Lora *lora, Generator *gen, const BenchOnlineConfig *cfg,
                 BenchOnline *out, Err *err);

/* The workload's lines: end-to-end prompts/s, then the generation and update shares. */
void bench_print_online(const BenchOnline *o);

#endif
