/* worker/loop/ttl_check.h -- what ttl_run checks before it loads anything large, so a job
 * that cannot work fails in seconds with the numbers that say why, instead of hours in:
 * the LoRA rank against the adapted projections, the memory estimate against what this
 * host can give, and every token id the tokenizer can produce against the model's
 * vocabulary. Pure checks; thread-safe. */
#ifndef TLM_WORKER_TTL_CHECK_H
#define TLM_WORKER_TTL_CHECK_H

#include "io/base/err.h"
#include "io/model/model_config.h"
#include "io/text/tokenizer.h"
#include "jobs/job.h"
#include "kernels/ops.h"
#include "worker/model/model.h"

/* lora.rank <= min(in, out) of every targeted projection of cfg (a larger rank adds
 * nothing a full update would not, and only costs memory). Errors name the job file,
 * the target and its dims. */
int ttl_check_rank(const JobSpec *job, const ModelConfig *cfg, Err *err);

/* The model's memory estimate per rank (model_memory_estimate of cfg opened with mo on
 * ops, tp) against the memory the backend's buffers come from (ops_mem_room, kernels/ops.h):
 * the host's room on CPU (MemAvailable, the cgroup limit), the device's free memory on
 * CUDA (the weights, LoRA, KV cache and activations all live there; the host keeps only
 * mmap'd files and a 16 MiB staging buffer). Errors give both numbers and where they come
 * from; a backend that cannot say is not checked. */
int ttl_check_memory(const JobSpec *job, const ModelConfig *cfg, const ModelOptions *mo,
                     const Ops *ops, int tp, Err *err);

/* Every id the tokenizer can produce (its vocab and added tokens, bos/eos from
 * tokenizer_config.json) and the bos/eos/pad ids of config.json and
 * generation_config.json are below cfg->vocab_size, else an error naming the token, its
 * id and the file it comes from. */
int ttl_check_vocab(const ModelConfig *cfg, const Tokenizer *tok, const char *model_dir,
                    Err *err);

#endif
