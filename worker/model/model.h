/* worker/model/model.h -- the frozen base model on a backend: load, forward, backward.
 * A Model holds a Hugging Face Llama-family model's weights (read-only after
 * model_open), its rope tables and, allocated once, every workspace a pass needs for up
 * to max_tokens packed tokens and max_seqs sequences. model_forward runs a packed batch
 * of variable-length sequences (no padding) to per-token logits and per-sample mean
 * cross-entropy; model_backward turns d(loss)/d(ce) into LoRA gradients only (frozen
 * weights never get gradients). It does not own the adapter, the optimizer or the KV
 * cache (worker/adapter/lora.h, worker/adapter/optim.h, worker/model/generate.h). Not thread-safe: one thread
 * drives one Model; CUDA work is enqueued on the backend's stream.
 *
 * Shape vocabulary, used in every shape comment of worker/ and kernels/:
 *   B  sequences in a pass          T   tokens in a pass (packed over the B sequences)
 *   D  hidden size                  H   attention heads       KVH  key/value heads
 *   HD head dim                     F   ffn (intermediate) size
 *   V  vocabulary                   L   layers                R    LoRA rank
 * Under tensor parallelism (DESIGN §3, ModelOptions.comm) H, KVH, F and V become this
 * rank's slice (H/tp, KVH/tp, F/tp, about V/tp); every per-layer weight is named, sized
 * and split in one table (worker/model/model_load.c). Megatron-LM style: q/k/v and gate/up
 * column-parallel, o and down row-parallel with an all-reduce over tp, embed_tokens and
 * lm_head vocabulary-parallel; the residual stream (T, D) is replicated on every tp rank.
 * Under tp every pass is collective over tp: every tp rank must make the same calls with
 * the same inputs (the tokens, seq_lens, dce and adapter config of its tp group). */
#ifndef TLM_WORKER_MODEL_H
#define TLM_WORKER_MODEL_H

#include <stdint.h>

#include "comm/comm.h"
#include "io/base/err.h"
#include "io/model/model_config.h"
#include "kernels/ops.h"
#include "worker/adapter/lora.h"

typedef struct Model Model;

/* Workspace limits and the tp group, fixed at model_open. Zero fields take the defaults
 * shown; a zeroed struct (or NULL) is the whole model on one rank. */
typedef struct ModelOptions {
    int64_t max_tokens;       /* T of an inference pass (prefill, scoring); 512 */
    int64_t max_train_tokens; /* T of a pass with train != 0; 0 = max_tokens; -1 = none */
    int32_t max_seqs;         /* B of any pass; 16 */
    int64_t max_pos;          /* rope table length = longest position + 1; cfg max_pos,
                               * at most 8192 */
    int32_t max_lora_rank;    /* largest R an adapter may have; 16 */
    WeightFormat weight_format; /* storage of the frozen matrices (q/k/v/o, gate/up/down,
                               * lm_head): WEIGHT_ELEM (0, the default and reference),
                               * WEIGHT_BF16, or a block format quantized at load (Q8_0,
                               * Q4_0, Q4_1, NF4; model.weights); embedding, norms and
                               * biases stay in the elem type */
    int32_t weight_file_types; /* a .gguf model: each matrix keeps the file's own type
                               * (model.weights auto); weight_format then names the file's
                               * main type and only sizes the memory estimate */
    int64_t logit_rows;       /* C: the lm_head + cross-entropy run over chunks of C token
                               * rows and the logits buffer holds one chunk (C, V/tp), never
                               * the whole (T, V); 0 = 256; at least max_seqs (a decode or
                               * prefill head fits one chunk), at most T of any pass */
    int32_t full_logits;      /* keep every pass's whole logits (T, V/tp) (model_logits,
                               * model_dlogits / model_backward_logits: the entropy methods,
                               * tests that read logits); then logit_rows = T of any pass */
    int32_t gradient_checkpointing; /* activation recomputation (optim.gradient_checkpointing,
                               * HF's gradient_checkpointing_enable): a train forward keeps
                               * only each layer's input x (T, D) and runs every layer
                               * through one shared activation set; the backward reruns
                               * layer l's forward from its x (same kernels, same adapter,
                               * so the same bits: ce and gradients bit-identical) just
                               * before layer l's backward. Costs about one more forward of
                               * the layers per backward; 0 = every layer keeps its set */
    Comm *comm;               /* tp group (borrowed, must outlive the model); NULL or a tp
                               * group of one: the whole model on this rank */
    /* For the memory estimate logged at open only (model_memory_estimate): */
    uint32_t est_lora_targets; /* the adapter's targets (LORA_BIT); 0 = q_proj, v_proj */
    int32_t est_lora_stack;   /* adapters of a stack held beside the one adapter
                               * (worker/adapter/lora_stack.h: ttt.tasks_per_pass); 0 none */
    int32_t est_kv_slots;     /* generator slots; 0 = max_seqs */
    int64_t est_kv_ctx;       /* positions per slot; 0 = max_pos */
} ModelOptions;

/* What one rank holds on its backend, in bytes (DESIGN §3, §4). The arithmetic of
 * model_memory_estimate, per rank, e = the backend's element bytes (4 CPU, 2 CUDA),
 * QD = H*HD, KD = KVH*HD, all of H, KVH, F and V this rank's (V: ceil(V/tp)):
 *   weights = e * (V*D * (tied ? 1 : 2) + D + L * (2*D + (QD + 2*KD)*D + D*QD + 3*F*D
 *                 + (qkv_bias ? QD + 2*KD : 0)))
 *   lora    = (4 + (tp > 1 ? tp : 0)) * 4 bytes * R * sum over layers and targets of
 *             (in + out): params, grads, adam_m, adam_v and, under tp, lora_gather's
 *             staging of tp slices; R = max_lora_rank, in/out this rank's slice;
 *             with a stack of n = est_lora_stack adapters, (1 + n) times that plus
 *             2 * 4 bytes * n * R * the same sum (the stacked params and grads)
 *   kv      = 2 (k, v) * L * slots * ctx * KD * e
 *   acts    = Ti * (e*(2*D + 2*QD + 2*KD + 3*F) + 4*(2 + 7*R))            inference set
 *           + L * Tt * (e*(4*D + 2*QD + 2*KD + 3*F) + 4*(2 + H + 7*R))    training sets
 *             (gradient_checkpointing: L * Tt * e*D, each layer's input only, + one
 *             shared set and the recompute's discarded outputs,
 *             Tt * (e*(5*D + 2*QD + 2*KD + 3*F) + 4*(3 + H + 7*R)))
 *           + Tt * (e*(2*D + 2*QD + 2*KD + 3*F) + 4*(R + 1))               backward work
 *           + Ta * (e*2*D + 4*(4 + 2*tp)) + C*e*V + 4*(5*Ta + 5*B)       head, tables
 *           + 2 * 4 * max_pos * HD/2                                       rope tables
 *   with Ti = max_tokens, Tt = max_train_tokens, Ta = max(Ti, Tt), B = max_seqs,
 *   C = logit_rows resolved (Ta with full_logits). A chunked train pass keeps the lm_head's
 *   input gradient in the backward work's dxn (T, D), so it costs no more rows.
 * Each carved view is also rounded up to 256 bytes (not counted). With bf16 weights
 * (weight_format) the matrices take 2 bytes, not e, and a tied lm_head gets its own bf16
 * copy: the weights term stays above the truth unless V*D outweighs the layers. Under
 * weight_file_types (a .gguf read in place) the embedding is a matrix in weight_format
 * (the file's main type) and a tied lm_head is that matrix; the pre-load check sizes
 * each tensor by its own type instead (model_file_weights). */
typedef struct ModelMemory {
    size_t weights_bytes, lora_bytes, kv_bytes, act_bytes, total_bytes;
    size_t matrix_bytes; /* of weights_bytes: the frozen matrices, in weight_format */
    size_t dense_bytes;  /* of weights_bytes: embedding, norms, biases, in the elem type */
} ModelMemory;

/* The estimate for cfg (borrowed) opened with options o (borrowed; NULL = defaults) on
 * rank tp_rank of tp (the vocabulary slice is the one size that differs per rank), on a
 * backend of elem_bytes. Pure arithmetic: allocates nothing, needs no comm. */
ModelMemory model_memory_estimate(const ModelConfig *cfg, const ModelOptions *o, int tp,
                                  size_t elem_bytes);

/* Opens the Hugging Face model directory dir (borrowed path): config.json via cfg_load,
 * weights via st_dir_open, each uploaded to ops' backend (F32/F16/BF16 as stored, tied
 * lm_head = embed_tokens, Qwen2 q/k/v biases); or a .gguf file read in place (config
 * from its metadata, io/convert/gguf_source.h; weights from the mapping, kept in their
 * block types under options->weight_file_types). options may be NULL (defaults). With
 * options->comm (tp > 1) only this rank's slice is uploaded; heads, kv heads and ffn
 * size must divide by tp (an error naming config.json, the field and tp otherwise); a
 * vocabulary that does not divide is split into slices differing by one row. Logs the
 * rank's memory estimate (model_memory_estimate) at info level. Collective over tp when
 * comm is given (every tp rank must call). Returns the model (owned-after-return;
 * model_close) or NULL with err naming the file/tensor. */
Model *model_open(const char *dir, const Ops *ops, const ModelOptions *options, Err *err);
void model_close(Model *m); /* accepts NULL */

/* The storage most of a .gguf file's matrix elements keep under weight_file_types (its
 * largest block type, BF16, else WEIGHT_ELEM), for the memory estimate before
 * model_open; WEIGHT_ELEM for a directory or a file that cannot be read (model_open then
 * says why). */
WeightFormat model_file_weight_format(const char *path);

/* The weights of a .gguf file read with each tensor's own type (weight_file_types), sized
 * tensor by tensor as model_open will store them (model_load_gguf.c: the embedding and
 * each matrix kept in its block type, the rest widened), on the largest rank of tp. */
typedef struct ModelFileWeights {
    size_t weights_bytes;        /* this rank's weights, as ModelMemory.weights_bytes */
    size_t matrix_bytes;         /*   the frozen matrices and the embedding, each in its
                                  *   storage (model_open's matrices) */
    size_t dense_bytes;          /*   norms and biases, in the elem type */
    size_t file_bytes;           /* all of the file's tensors */
    size_t widened_file_bytes;   /* the file bytes of the tensors stored in another type */
    size_t widened_bytes;        /*   and what they take stored (in weights_bytes) */
    int n_widened;               /*   how many */
    char widened[128];           /*   the first few HF names ("model.norm.weight F16") */
} ModelFileWeights;

/* Reads path's header and tensor table (borrowed; nothing is uploaded) for cfg (from that
 * file) opened with o (weight_file_types set) on tp ranks of elem_bytes. 0, or -1 with
 * err naming the file and the tensor. */
int model_file_weights(const char *path, const ModelConfig *cfg, const ModelOptions *o, int tp,
                       size_t elem_bytes, ModelFileWeights *out, Err *err);

const ModelConfig *model_config(const Model *m); /* borrowed */
const Ops *model_ops(const Model *m);            /* borrowed */
/* The limits in effect (defaults resolved). */
ModelOptions model_options(const Model *m);

/* Forward over n_seqs sequences packed back to back: tokens (host, sum(seq_lens)) and
 * seq_lens (host, n_seqs), both borrowed. Sequence s's targets are its own next tokens
 * (none at its last token, and none when it has one token). Computes logits (T, V) for
 * every token (kept whole only with ModelOptions.full_logits; otherwise chunk by chunk,
 * each consumed by the loss before the next) and ce (host, n_seqs, written) = the mean
 * over s's predicted tokens of
 * -log p(target), Hugging Face's causal-LM loss of that sample alone (0 for a sequence
 * of one token). lora (borrowed) may be NULL for the base model. train != 0 keeps every
 * activation model_backward needs (T <= max_train_tokens). Errors: limits exceeded,
 * token id out of range, adapter rank above max_lora_rank. */
int model_forward(Model *m, const Lora *lora, const int32_t *tokens, const int32_t *seq_lens,
                  int32_t n_seqs, int train, float *ce, Err *err);

/* model_forward with a loss mask (host, sum(seq_lens), borrowed; NULL = model_forward):
 * ce_s is the mean of -log p(target) over s's positions whose target token t + 1 has
 * loss_mask[t + 1] != 0 (0 when none has), and model_backward differentiates that mean.
 * The logits are those of every token either way. For a loss over some tokens only
 * (method.loss_tokens: content, the sample's own text without the template's). */
int model_forward_masked(Model *m, const Lora *lora, const int32_t *tokens,
                         const int32_t *seq_lens, int32_t n_seqs, const uint8_t *loss_mask,
                         int train, float *ce, Err *err);

/* model_forward_masked with one adapter per packed token row: lora (borrowed) is a
 * stack of n_stack adapters (lora_alloc_stack, worker/adapter/lora_stack.h) and
 * row_adapter (host, sum(seq_lens), borrowed) names each token's adapter in
 * [0, n_stack); every wrapped projection then runs kernels/ops_list.h lora_rows_fwd, so
 * each row sees exactly its own adapter (several small tasks trained in one pass). A
 * following model_backward / model_backward_logits uses the same index and adds each
 * row's gradients into its own adapter's slot of the stack. row_adapter NULL is
 * model_forward_masked (lora then must be a plain adapter). Errors: as
 * model_forward_masked, an index out of range (naming the token), a stack without an
 * index. */
int model_forward_rows(Model *m, const Lora *lora, const int32_t *row_adapter,
                       const int32_t *tokens, const int32_t *seq_lens, int32_t n_seqs,
                       const uint8_t *loss_mask, int train, float *ce, Err *err);

/* The per-sample mean of -log p(target) of the last model_forward(_masked), over the
 * targets loss_mask marks (host, as model_forward_masked's; NULL: every target), into
 * ce (host, that pass's n_seqs): the same pass seen through another mask, at no extra
 * cost (the input ppl and the content-only ppl of one forward). A sample with no marked
 * target gets -1. Leaves what model_backward differentiates unchanged. Errors: the last
 * pass was not a model_forward. */
int model_last_ce(const Model *m, const uint8_t *loss_mask, float *ce, Err *err);

/* Backward of the last train forward (same lora) for the per-sample loss gradients
 * dce (host, n_seqs, borrowed: d loss / d ce_s; 0 skips a sample). Adds into the LoRA
 * gradients (lora_zero_grads first for a fresh step); overwrites the logits. */
int model_backward(Model *m, Lora *lora, const float *dce, Err *err);

/* Backward of a loss the caller defines on the logits of the last train forward (same
 * lora): the caller first writes d loss / d logits (T, V) over the logits buffer,
 * model_dlogits(m) (backend, elem type of ops; rows it does not care about must be 0),
 * e.g. with ops->entropy_bwd in place; this backpropagates it into the LoRA gradients
 * (added; lora_zero_grads first for a fresh step). model_backward is xent_bwd + this.
 * Under tp the dlogits are this rank's vocabulary columns (T, V/tp): a loss over the
 * whole vocabulary needs its statistics combined over tp first (as model_tp.c does for
 * the cross-entropy); the backward is then collective over tp.
 * Errors as model_backward (no train forward just before, another adapter), and a
 * model opened without ModelOptions.full_logits. */
int model_backward_logits(Model *m, Lora *lora, Err *err);
/* The logits buffer, writable (borrowed); NULL (logged) without full_logits. */
void *model_dlogits(Model *m);

/* The logits (T, V) of the last forward (backend memory, borrowed; elem type of ops;
 * valid until the next pass), and that pass's T. Under tp: this rank's vocabulary
 * columns only, (T, V/tp) (model_vocab_range). Only with ModelOptions.full_logits: a
 * chunked model holds one chunk, and then this logs an error and returns NULL. */
const void *model_logits(const Model *m, int64_t *n_tok);

/* This rank's vocabulary slice [*v0, *v0 + *n_vocab) (0 and V without tp); either
 * pointer may be NULL. */
void model_vocab_range(const Model *m, int64_t *v0, int64_t *n_vocab);

/* The tp group size of the model (1 without tp) and, when rank != NULL, this rank's
 * index in it. */
int model_tp(const Model *m, int *rank);

#endif
