/* launcher/bench/bench.h -- throughput of the engine's three workloads on one model.
 * scoring forward (B sequences of T tokens, packed, no backward), one TLM update step (a
 * train forward + backward on one sample of T tokens into LoRA q_proj,v_proj r8, then
 * clipping and AdamW) and greedy generation with the KV cache (N new tokens after
 * prompts of T tokens, batch 1 and batch B). Each is run once to warm up, then timed R
 * times with CLOCK_MONOTONIC; medians are reported. Every workload runs with the adapter
 * on, as TLM scores, trains and generates with it. Token ids are drawn from splitmix64 so
 * a script can feed another framework the very same ids (see bench_tokens). Thread counts
 * are the caller's business (they are fixed when the process starts). Not thread-safe. */
#ifndef TLM_WORKER_BENCH_H
#define TLM_WORKER_BENCH_H

#include <stdint.h>

#include "io/base/err.h"
#include "kernels/ops.h"
#include "launcher/bench/bench_online.h"
#include "launcher/bench/bench_profile.h"

/* Plain data: what to measure. */
typedef struct BenchConfig {
    int64_t n_tokens;   /* T: tokens of each sequence (and of each generation prompt) */
    int32_t batch;      /* B: sequences of the forward, prompts of the batched generation */
    int32_t new_tokens; /* N: greedy tokens generated after each prompt */
    int32_t repeat;     /* R: timed runs of each workload, after one warm-up run */
    uint64_t seed;      /* token ids and LoRA init */
    int profile;        /* also fill a BenchProfile (needs N >= 2) */
    int64_t logit_rows; /* C: the lm_head + cross-entropy's row chunk
                         * (ModelOptions.logit_rows); 0 = the model's default */
    WeightFormat weight_format; /* of the frozen matrices (ModelOptions.weight_format) */
    int weight_file_types; /* a .gguf model: each matrix in the file's own type
                            * (ModelOptions.weight_file_types; weight_format its main one) */
    int gradient_checkpointing; /* the update step recomputes the layers' activations in
                            * its backward (ModelOptions.gradient_checkpointing) */
    int32_t online;     /* S > 0: also online TLM over S prompts (bench_online.h), in
                         * stream batches of B, cut to T tokens, N new tokens each */
} BenchConfig;

/* Medians over R runs: seconds of one run and tokens per second. */
typedef struct BenchResult {
    double fwd_s, fwd_tok_s;     /* B*T tokens scored */
    double step_s, step_tok_s;   /* T tokens trained */
    double gen1_s, gen1_tok_s;   /* N tokens generated for one prompt */
    double genb_s, genb_tok_s;   /* B*N tokens generated for B prompts */
    double mean_ce;              /* mean per-sample ce of the last forward (sanity) */
    double grad_norm;            /* pre-clip gradient norm of the last step (sanity) */
    BenchOnline online;          /* cfg.online > 0: the online TLM workload */
} BenchResult;

/* Where the time of each workload goes (cfg.profile), measured after the timed runs on
 * the same model: per update step (the mean of R profiled steps), per decode step at
 * batch 1 and batch B (the N - 1 passes after the first token of R profiled
 * generations of N tokens, divided by R (N - 1): prefill and the first lm_head left
 * out), per forward; and the references they are read against, measured in the same
 * process. */
typedef struct BenchProfile {
    ProfTally fwd, step, dec1, decb;
    double copy_bytes_s;         /* backend copy bandwidth, read + write bytes/s */
    double read_bytes_s;         /* backend streaming-read bandwidth, bytes/s */
    ProfPeak peak;               /* the fastest square matmul (prof_matmul_best of 1024) */
} BenchProfile;

/* Token i (0-based) of the benchmark's stream for seed: 3 + splitmix64 draw i mod (V - 3),
 * so ids 0..2 (<unk>, BOS, EOS in Llama tokenizers) never appear. Sequence s of a
 * workload takes tokens [s*T, (s+1)*T). Writes out (host, n). */
void bench_tokens(int32_t *out, int64_t n, int64_t vocab_size, uint64_t seed);

/* Opens the Hugging Face model directory dir (borrowed) on ops, measures the three
 * workloads of cfg (borrowed) and fills *out, and *prof when cfg->profile. Errors: cfg
 * out of range (T + N beyond the model's positions, B < 1, R < 1, N < 2 to profile), the
 * model's load errors, any pass's error; each names the workload. */
int bench_run(const char *dir, const Ops *ops, const BenchConfig *cfg, BenchResult *out,
              BenchProfile *prof, Err *err);

#endif
