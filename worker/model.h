/* worker/model.h -- the frozen base model on a backend: load, forward, backward.
 * A Model holds a Hugging Face Llama-family model's weights (read-only after
 * model_open), its rope tables and, allocated once, every workspace a pass needs for up
 * to max_tokens packed tokens and max_seqs sequences. model_forward runs a packed batch
 * of variable-length sequences (no padding) to per-token logits and per-sample mean
 * cross-entropy; model_backward turns d(loss)/d(ce) into LoRA gradients only (frozen
 * weights never get gradients). It does not own the adapter, the optimizer or the KV
 * cache (worker/lora.h, worker/optim.h, worker/generate.h). Not thread-safe: one thread
 * drives one Model; CUDA work is enqueued on the backend's stream.
 *
 * Shape vocabulary, used in every shape comment of worker/ and kernels/:
 *   B  sequences in a pass          T   tokens in a pass (packed over the B sequences)
 *   D  hidden size                  H   attention heads       KVH  key/value heads
 *   HD head dim                     F   ffn (intermediate) size
 *   V  vocabulary                   L   layers                R    LoRA rank
 * Under tensor parallelism (DESIGN §3) H, KVH, F and V become this rank's slice; every
 * per-layer weight is named and sized in one table (worker/model_load.c) for that. */
#ifndef TLM_WORKER_MODEL_H
#define TLM_WORKER_MODEL_H

#include <stdint.h>

#include "io/err.h"
#include "io/model_config.h"
#include "kernels/ops.h"
#include "worker/lora.h"

typedef struct Model Model;

/* Workspace limits, fixed at model_open. Zero fields take the defaults shown. */
typedef struct ModelOptions {
    int64_t max_tokens;       /* T of an inference pass (prefill, scoring); 512 */
    int64_t max_train_tokens; /* T of a pass with train != 0; 0 = max_tokens; -1 = none */
    int32_t max_seqs;         /* B of any pass; 16 */
    int64_t max_pos;          /* rope table length = longest position + 1; cfg max_pos,
                               * at most 8192 */
    int32_t max_lora_rank;    /* largest R an adapter may have; 16 */
} ModelOptions;

/* Opens the Hugging Face model directory dir (borrowed path): config.json via cfg_load,
 * weights via st_dir_open, each uploaded to ops' backend (F32/F16/BF16 as stored, tied
 * lm_head = embed_tokens, Qwen2 q/k/v biases). options may be NULL (defaults). Returns
 * the model (owned-after-return; model_close) or NULL with err naming the file/tensor. */
Model *model_open(const char *dir, const Ops *ops, const ModelOptions *options, Err *err);
void model_close(Model *m); /* accepts NULL */

const ModelConfig *model_config(const Model *m); /* borrowed */
const Ops *model_ops(const Model *m);            /* borrowed */
/* The limits in effect (defaults resolved). */
ModelOptions model_options(const Model *m);

/* Forward over n_seqs sequences packed back to back: tokens (host, sum(seq_lens)) and
 * seq_lens (host, n_seqs), both borrowed. Sequence s's targets are its own next tokens
 * (none at its last token, and none when it has one token). Computes logits (T, V) for
 * every token and ce (host, n_seqs, written) = the mean over s's predicted tokens of
 * -log p(target), Hugging Face's causal-LM loss of that sample alone (0 for a sequence
 * of one token). lora (borrowed) may be NULL for the base model. train != 0 keeps every
 * activation model_backward needs (T <= max_train_tokens). Errors: limits exceeded,
 * token id out of range, adapter rank above max_lora_rank. */
int model_forward(Model *m, const Lora *lora, const int32_t *tokens, const int32_t *seq_lens,
                  int32_t n_seqs, int train, float *ce, Err *err);

/* Backward of the last train forward (same lora) for the per-sample loss gradients
 * dce (host, n_seqs, borrowed: d loss / d ce_s; 0 skips a sample). Adds into the LoRA
 * gradients (lora_zero_grads first for a fresh step); overwrites the logits. */
int model_backward(Model *m, Lora *lora, const float *dce, Err *err);

/* The logits (T, V) of the last forward (backend memory, borrowed; elem type of ops;
 * valid until the next pass), and that pass's T. */
const void *model_logits(const Model *m, int64_t *n_tok);

#endif
