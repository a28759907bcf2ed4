/* worker/model/model_impl.h -- the Model's insides, shared by the files of worker/model
 * only (nothing outside worker/model includes it), and the functions they share, grouped
 * by the file that defines them. Calls between the files go one way: model_memory.c
 * calls none of them; model_load.c and model_tp.c only model_memory.c; model.c those
 * three; forward.c and backward.c model_tp.c and model.c; generate.c forward.c too.
 * Memory comes in lifetime groups, each one backend allocation carved by a size table
 * (BlockPlan below, llm.c style): frozen weights (whole run), activations + pass tables +
 * backward workspace (whole run, reused by every pass), a generator's KV cache. */
#ifndef TLM_WORKER_MODEL_IMPL_H
#define TLM_WORKER_MODEL_IMPL_H

#include <stddef.h>

#include "worker/model/model.h"

/* ---- one backend allocation carved into named views (model_memory.c). Each view is rounded
 * up to 256 bytes so every view is aligned for any element type and vector load;
 * zero-byte entries get NULL. Host-side bookkeeping at init only. A size table under
 * construction starts from a zeroed struct. */
typedef struct BlockPlan {
    void **slot;     /* host (cap): where each view's address goes (borrowed) */
    size_t *n_bytes; /* host (cap) */
    int n, cap;
    int oom;         /* a host allocation of the table itself failed */
} BlockPlan;

/* Adds one view of n_bytes whose address goes into *slot (the address of any pointer
 * variable, e.g. &w->wq or &acts->rstd1). */
void block_add(BlockPlan *p, void *slot, size_t n_bytes);

/* Allocates the planned block on ops (owned-after-return; ops->release), fills every
 * slot, frees the table, and returns the block; NULL with err (naming what and the
 * total bytes) on failure. */
void *block_alloc(BlockPlan *p, const Ops *ops, const char *what, Err *err);

/* The frozen weights of one decoder layer, (out, in) as HF stores them: the matrices in
 * the model's weight format (ModelOptions.weight_format, kernels/ops.h Weight), norms and
 * biases in the backend elem type, shapes with this rank's H, KVH, F (H/tp etc. under tp): this rank's rows of the
 * column-parallel ones, its columns of the row-parallel wo / w_down; model_load.c's spec
 * table is the one place that says which. */
typedef struct LayerWeights {
    void *attn_norm;          /* (D) input_layernorm */
    Weight wq, wk, wv;        /* (H*HD, D), (KVH*HD, D), (KVH*HD, D) */
    void *bq, *bk, *bv;       /* (H*HD), (KVH*HD), (KVH*HD); NULL without qkv_bias */
    Weight wo;                /* (D, H*HD) */
    void *ffn_norm;           /* (D) post_attention_layernorm */
    Weight w_gu;              /* (2F, D) gate_proj and up_proj stacked, rows [gate | up]
                               * (under tp this rank's rows of each): one matmul feeds
                               * swiglu_gu_fwd */
    Weight w_gate, w_up;      /* (F, D) views of w_gu's halves, for a layer whose adapter
                               * wraps gate_proj or up_proj (model_ffn_split) */
    Weight w_down;            /* (D, F) */
} LayerWeights;

/* Activations of one layer for one pass; backend. In training every layer has its own
 * set (kept for the backward), or, with gradient_checkpointing, its own x only and every
 * other view shared by all layers (the backward recomputes them layer by layer:
 * model_layer_refwd); in inference all layers share one set and the residual stream is
 * updated in place (x == x2 == the model's x_final). */
typedef struct LayerActs {
    void *x;                  /* (T, D) residual stream entering the layer */
    void *xn1;                /* (T, D) input_layernorm(x) */
    float *rstd1;             /* (T) */
    void *q, *k, *v;          /* (T, H*HD), (T, KVH*HD), (T, KVH*HD); q, k after rope */
    void *att;                /* (T, H*HD) attention output, before o_proj */
    float *lse;               /* (T, H) attention log-sum-exp (training only) */
    void *x2;                 /* (T, D) x + o_proj(att) */
    void *xn2;                /* (T, D) post_attention_layernorm(x2) */
    float *rstd2;             /* (T) */
    void *gu;                 /* (T, 2F) the stacked gate/up projection's output, rows
                               * [gate | up]; split (model_ffn_split): gate (T, F) then
                               * up (T, F), each contiguous, in the same buffer */
    void *act;                /* (T, F) silu(gate) * up */
    float *h[LORA_N_TARGETS]; /* (T, R) LoRA intermediates x @ A^T, R <= max_lora_rank */
} LayerActs;

/* Gradient workspace for one train pass (rows = max_train_tokens); backend. */
typedef struct BackWork {
    float *dres32;            /* (T, D) fp32 gradient of the residual stream: every
                               * layer's norm backward adds into it (rmsnorm_bwd_res), so
                               * the sum over layers is never rounded to bf16 */
    void *dres;               /* (T, D) dres32 in the elem type, what the matmuls read;
                               * on an fp32 backend the same buffer as dres32 */
    void *dxn;                /* (T, D) gradient of a normed input */
    void *datt, *dq;          /* (T, H*HD) */
    void *dk, *dv;            /* (T, KVH*HD) */
    void *dact;               /* (T, F) */
    void *dgu;                /* (T, 2F) [dgate | dup] rows, laid out as gu */
    float *dh;                /* (T, R) lora_bwd workspace */
    float *dloss;             /* (T) d loss / d per-token loss */
} BackWork;
/* A chunked train forward (no full_logits) leaves in dxn the lm_head's input gradient of
 * each row's loss with unit weight, (softmax - onehot) W (summed over tp later), which
 * model_backward scales by the per-row d loss (known only then). */

/* One pass's index tables: host staging and its backend copy, one upload per pass,
 * enqueued (upload_async), so it costs the host no wait. Layout (int32): tokens (T) |
 * pos (T) | targets (T) | kv_idx (T) | spans (B, 4) | last (B); offsets depend on the
 * pass's T and B so only what is used is uploaded. */
typedef struct PassTables {
    int64_t n_tok;            /* T */
    int32_t n_seqs;           /* B */
    int32_t *host;            /* host (ops->host_alloc: pinned on CUDA), capacity
                               * (4 T_max + 5 B_max) */
    int in_flight;            /* host was enqueued for upload and no download has
                               * synchronized since: the next model_pass_set syncs first */
    int32_t *dev;             /* backend, same capacity */
    /* views into dev for the current pass */
    const int32_t *tokens, *pos, *targets, *kv_idx, *last;
    const SeqSpan *spans;
    int32_t *adapter_dev;     /* backend (T_max): the per-row adapter index of a pass */
    const int32_t *adapter;   /* adapter_dev when the current pass has one (a stacked
                               * adapter, model_forward_rows), else NULL */
} PassTables;

struct Model {
    ModelConfig cfg;
    const Ops *ops;
    ModelOptions opt;         /* resolved limits */
    int64_t D, H, KVH, HD, F, V, L; /* this rank's dims: H/tp, KVH/tp, F/tp, the vocabulary
                                     * slice's V (tp = 1: the config's) */
    Comm *comm;               /* borrowed tp group; NULL when tp == 1 */
    int tp, tp_rank;          /* 1, 0 without tp */
    int64_t v0;               /* first vocabulary row of this rank's slice */
    int64_t T_any;            /* max(max_tokens, max_train_tokens): shared buffers' rows */

    /* frozen weights: one allocation */
    void *w_block;
    Weight embed;             /* (V, D) embed_tokens: the elem type, or a .gguf file's own
                               * type under weight_file_types (kept in its blocks) */
    void *final_norm;         /* (D) model.norm */
    Weight lm_head;           /* (V, D) in the weight format; == embed when tied and the
                               * embedding is in that format (else its own copy) */
    LayerWeights *layers;     /* host (L) of backend pointers */
    size_t w_matrix_bytes, w_dense_bytes; /* what the load allocated (model_specs_alloc): */
    size_t w_embed_bytes;     /*   the embedding's part of w_matrix_bytes (a GGUF's
                               *   embedding kept in its type) or of w_dense_bytes */
    int w_from_gguf;          /* read in place from a .gguf file (model_load_gguf.c): */
    size_t w_file_bytes;      /*   the file's tensor bytes, */
    char w_formats[96];       /*   the layers' and an own lm_head's formats ("q4_1 x210"), */
    char w_embed_type[16];    /*   the file's type of the embedding ("Q8_0") */
    float *rope_cos, *rope_sin; /* backend (max_pos, HD/2) */

    /* activations: one allocation */
    void *a_block;
    LayerActs infer;          /* rows max_tokens */
    LayerActs *train;         /* host (L); rows max_train_tokens; NULL if no training.
                               * gradient_checkpointing: train[l].x is layer l's own, the
                               * other views are the one shared set's, in every layer */
    void *ck_out;             /* gradient_checkpointing (else NULL): (Tt, D) a recomputed */
    void *ck_norm;            /*   layer's output and its next norm's, (Tt, D), (Tt): */
    float *ck_rstd;           /*   written and discarded (the saved x of the next layer
                               *   and the head's x_final, xnf stay as the forward left them) */
    void *x_final;            /* (T_any, D) residual stream after the last layer */
    void *xnf;                /* (T_any, D) model.norm(x_final) */
    float *rstdf;             /* (T_any) */
    int64_t C;                /* rows of a logits chunk (opt.logit_rows; T_any with
                               * full_logits) */
    void *logits;             /* (C, V) this rank's vocabulary columns of one chunk of
                               * rows (forward.c: the chunked head) */
    float *tok_lse;           /* (T_any) logsumexp of each logits row over the whole
                               * vocabulary (combined from every tp rank) */
    float *tok_part;          /* (2, T_any) this range's (lse, target logit) per row, or
                               * (max logit, global id) for argmax */
    float *tok_gath;          /* (tp, 2, T_any) tok_part of every tp rank, rank order */
    float *h_gath;            /* host (ops->host_alloc) (tp, 2, T_any) tok_gath downloaded */
    PassTables pass;
    float *h_loss;            /* host (T_any) */
    float *h_dloss;           /* host (T_any) */
    int32_t *h_seq_lens;      /* host (B_max) of the last pass */
    int32_t *h_n_pred;        /* host (B_max): predicted tokens each sample's ce averages */
    uint8_t *h_pred;          /* host (T_any): 1 where a position's prediction counts */
    int last_ce_valid;        /* h_loss holds the last model_forward's per-token losses */

    BackWork bw;              /* zeroed when training is disabled */
    int last_train;           /* the last forward kept activations */
    int unit_grad;            /* ... and left the lm_head's unit input gradient in bw.dxn
                               * (forward.c head_xent: a chunked pass of T > C rows); 0: it
                               * left the whole logits (T <= C, or full_logits) */
    const Lora *last_lora;    /* the adapter of the last forward (borrowed) */
};

/* ---- forward.c */
/* Fills m->pass for a pass of n_seqs sequences and uploads it. Sequence s has len[s]
 * new tokens starting at position pos0[s] (NULL: all 0), to be written at KV rows
 * kv_base[s] + position (NULL: packed training layout, kv rows = token rows, targets =
 * next tokens; otherwise targets = -1). tokens/len/pos0/kv_base host, borrowed. */
int model_pass_set(Model *m, const int32_t *tokens, const int32_t *len, const int32_t *pos0,
                   const int32_t *kv_base, int32_t n_seqs, Err *err);

/* Runs embedding + every layer over m->pass, leaving the residual stream in x_final.
 * k_cache/v_cache (host (L) arrays of backend (rows, KVH*HD) buffers, KVH this rank's)
 * are NULL for a packed pass; otherwise each layer scatters its k/v to pass.kv_idx and
 * attends over the cache with pass.spans. Collective over tp: every tp rank must call.
 * Errors: a failed collective. */
int model_layers_fwd(Model *m, const Lora *lora, int train, void *const *k_cache,
                     void *const *v_cache, Err *err);

/* gradient_checkpointing: reruns layer l's train forward from its saved input
 * train[l].x into the shared set (backward.c skips it for the last layer: the forward
 * left that layer's set in place), with
 * lora (the last forward's) and m->pass as the forward had them: input_layernorm, then
 * the layer as model_layers_fwd ran it, so every view holds the bits that forward wrote
 * (deterministic ops), its outputs going to ck_out / ck_norm. Collective over tp (the
 * layer's all-reduces rerun). Errors: a failed collective. */
int model_layer_refwd(Model *m, const Lora *lora, int64_t l, Err *err);

/* ---- model_tp.c */
/* Sets m->tp, tp_rank, comm from m->opt.comm and divides m's H, KVH, F by tp, and
 * takes this rank's vocabulary range [v0, v0 + V) (DESIGN §3). Errors name config.json,
 * the field and tp when tp does not divide it. */
int model_tp_slice(Model *m, const char *dir, Err *err);

/* buf (count elements of type, backend memory) becomes its sum over the tp group; a no-op
 * without tp. Collective over tp: every tp rank must call. what names it in errors. */
int model_tp_sum(Model *m, void *buf, int64_t count, CommType type, const char *what,
                 Err *err);

/* Vocabulary-parallel argmax (DESIGN §3) of the first n rows of m->logits (n, V): each
 * rank's (max, global id) per row, all-gathered over tp; the largest wins, the lowest
 * global id on ties (as torch.argmax over the whole row). In two halves: _enqueue the
 * backend's part (the per-rank argmax and its gather; nothing waits, so at tp 1 it can
 * be part of a step graph; collective over tp: every tp rank must call), _finish the
 * download (the pass's one synchronization) and the host's pick into ids (host (n),
 * written on every rank). */
int model_vocab_argmax_enqueue(Model *m, int64_t n, Err *err);
void model_vocab_argmax_finish(Model *m, int64_t n, int32_t *ids);

/* Vocabulary-parallel cross-entropy of m->logits, the pass's rows [r0, r0 + n) (one
 * chunk), over their targets without gathering logits: per row this range's (lse,
 * target logit), all-gathered over tp and combined in double on the host. Writes
 * m->h_loss[r0..] (host: lse - target logit, 0 where no target) and m->tok_lse[r0..]
 * (the whole vocabulary's lse, for xent_bwd).
 * Collective over tp: every tp rank must call. */
int model_vocab_xent(Model *m, int64_t r0, int64_t n, Err *err);

/* The CommType of the backend's `void *` elements, for tp sums of activations. */
static inline CommType model_elem_comm(const Model *m) {
    return m->ops->elem == DTYPE_BF16 ? COMM_BF16 : COMM_F32;
}

/* ---- model_memory.c (also block_add, block_alloc above) */
/* ModelOptions with the defaults resolved. */
ModelOptions model_resolve_options(const ModelOptions *o, const ModelConfig *cfg);

/* [r n / tp, (r + 1) n / tp) is rank r's part of n rows. */
int64_t model_split_begin(int64_t n, int tp, int r);

/* Bytes of a (rows, cols) frozen matrix in format f on a backend of elem type e bytes
 * (bf16 2 bytes, a block format rows of whole blocks): what weight_bytes allocates. */
size_t model_matrix_bytes(WeightFormat f, size_t rows, size_t cols, size_t e);

/* ---- model.c */
/* Checks an adapter against the model's limits (NULL passes). */
int model_check_lora(const Model *m, const Lora *lora, Err *err);

/* 1 when layer l's adapter wraps gate_proj or up_proj: its LoRA terms need gate and up
 * as (T, F) buffers of their own, so that layer runs them as two matmuls on w_gate /
 * w_up and swiglu_fwd (the split layout of LayerActs.gu); 0 (no adapter, or none there):
 * one matmul on w_gu and swiglu_gu_fwd. The forward and the backward of a pass ask with
 * the same adapter, so they agree. */
int model_ffn_split(const Lora *lora, int64_t l);

/* ---- model_load.c */
/* Loads every weight of path (a model directory or a .gguf file) into m (m->cfg, dims
 * and ops set). */
int model_load_weights(Model *m, const char *path, Err *err);

#endif
