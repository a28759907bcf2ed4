/* kernels/ops_list.h -- every op of the backend table, each declared once, with its
 * contract. An X-macro list: the includer defines OP(ret, op, params) and includes this
 * file, which expands OP once per op in table order. kernels/ops.h makes the Ops fields
 * from it (ret (*op) params), cpu/cpu_ops.h the CPU prototypes (cpu_<op>),
 * cuda/cuda_common.cuh the CUDA ones (cuda_<op>), and each backend's table the
 * initializers (.op = cpu_<op>), so a new op is one entry here plus one definition per
 * backend. No include guard: included once per expansion. Element types, pointer kinds,
 * streams and the shape vocabulary are stated once in kernels/ops.h. */
#ifndef OP
#error "define OP(ret, op, params) before including kernels/ops_list.h"
#endif

/* ---- memory (the only calls that allocate; used at init, never in the step loop) */
/* Returns a zeroed buffer of n_bytes, or NULL with err filled. Owned by the caller. */
OP(void *, alloc, (size_t n_bytes, Err *err))
/* Frees p (from alloc); accepts NULL. */
OP(void, release, (void *p))
/* Copies n host elements of type src_type (host, borrowed) into dst as elem. */
OP(void, upload, (void *dst, const void *src, DType src_type, int64_t n))
/* Copies n_bytes verbatim host -> backend (fp32/int32 buffers, index tables). */
OP(void, upload_raw, (void *dst, const void *src, size_t n_bytes))
/* Copies n elements of elem type out as host fp32 (dst host); synchronizes. */
OP(void, download, (float *dst, const void *src, int64_t n))
/* Copies n_bytes verbatim backend -> host; synchronizes. */
OP(void, download_raw, (void *dst, const void *src, size_t n_bytes))
/* Sets n_bytes of p to zero. */
OP(void, zero, (void *p, size_t n_bytes))
/* Copies n_bytes backend -> backend. */
OP(void, copy, (void *dst, const void *src, size_t n_bytes))
/* Waits until every op enqueued so far has finished. */
OP(void, sync, (void))
/* Host memory of n_bytes, zeroed, for upload_async / download_async (CUDA: pinned, so the
 * copies are truly asynchronous), or NULL with err filled. Owned by the caller. */
OP(void *, host_alloc, (size_t n_bytes, Err *err))
/* Frees p (from host_alloc); accepts NULL. */
OP(void, host_release, (void *p))
/* Copies n_bytes host (src from host_alloc) -> backend, enqueued after the ops before it:
 * src must not be written until the next sync. CPU: done on return. */
OP(void, upload_async, (void *dst, const void *src, size_t n_bytes))
/* Copies n_bytes backend -> host (dst from host_alloc), enqueued: dst holds them after the
 * next sync. CPU: done on return. */
OP(void, download_async, (void *dst, const void *src, size_t n_bytes))

/* ---- a repeated step replayed as one graph (CUDA graphs; CPU: the ops just run) */
/* Starts a step whose ops the caller enqueues between graph_begin and graph_end. key
 * (> 0) names the step: the caller promises that one key always enqueues the same ops
 * with the same arguments and the same buffers (allocated once; their contents may
 * change), and that none of them communicates or synchronizes (no tp, no download).
 * Returns 1 when key's graph is captured already: the caller enqueues nothing and
 * graph_end launches the graph; 0: the caller enqueues the step (CUDA: run as is the
 * first time key is seen, captured the second, so nothing allocates while capturing).
 * key 0, TLM_CUDA_KERNELS=simple, TLM_CUDA_GRAPHS=0 or TLM_CUDA_SYNC=1: always 0 and
 * nothing is captured. The step's results are in place after graph_end, enqueued. */
OP(int, graph_begin, (uint64_t key))
/* Ends the step graph_begin started (launches a captured or replayed graph). */
OP(void, graph_end, (void))
/* Drops every graph: before the buffers a step used are freed or its key's promise no
 * longer holds (a new generation run: another adapter, another KV cache). */
OP(void, graph_reset, (void))
/* The memory the backend's buffers come from, in bytes: *free_bytes what this process
 * can still allocate, *total_bytes all of it. CPU: host memory (io/base/sysmem.h: the
 * smaller of MemAvailable and the memory cgroup's room; total MemTotal, or the cgroup
 * limit when lower). CUDA: cudaMemGetInfo of the current device. -1 with err filled when
 * the system does not say (then neither is written). Allocates nothing. */
OP(int, mem_info, (size_t *free_bytes, size_t *total_bytes, Err *err))
/* Writes one line naming what runs the ops, for logs: on CPU the BLAS and the kernel
 * family it chose (kernels/cpu/blas.h), on CUDA the device, its compute capability,
 * memory and PCI bus id. NUL-terminated, truncated to n_bytes. */
OP(void, describe, (char *buf, size_t n_bytes))

/* ---- dense layers (frozen weights: no weight gradients exist anywhere) */
/* out (M,N) = x (M,K) @ w (N,K)^T + bias (N, NULL for none); accumulate != 0 adds into
 * out instead of overwriting. */
OP(void, matmul_fwd, (void *out, const void *x, const void *w, const void *bias, int64_t M,
                      int64_t N, int64_t K, int accumulate))
/* dx (M,K) (+)= dy (M,N) @ w (N,K). */
OP(void, matmul_bwd, (void *dx, const void *dy, const void *w, int64_t M, int64_t N,
                      int64_t K, int accumulate))

/* ---- frozen weights in a storage format (WeightFormat, kernels/ops.h) */
/* Bytes of a (rows, cols) weight matrix in format f on this backend (block formats: rows
 * of whole blocks, kernels/ops.h); 0 when the backend does not support f (the caller
 * says so). */
OP(size_t, weight_bytes, (WeightFormat f, int64_t rows, int64_t cols))
/* Copies a (rows, cols) host matrix of src_type (F32/F16/BF16; host, borrowed) into w,
 * converted to its format: bf16 rounded to nearest even; q8_0, q4_0, q4_1 and nf4
 * quantized row by row (io/base/quant.h; a row's tail block padded with zeros). The K
 * formats cannot be made from floats: a programmer error (the loader refuses first). */
OP(void, weight_upload, (Weight w, const void *src, DType src_type, int64_t rows,
                         int64_t cols))
/* Copies rows x weight_row_bytes(format, cols) bytes of blocks already in w's block
 * format (host, borrowed; a GGUF tensor read in place) into w as they are. */
OP(void, weight_upload_blocks, (Weight w, const void *src, int64_t rows, int64_t cols))
/* matmul_fwd with w (N,K) in any supported format: out (M,N) (+)= x (M,K) @ w^T + bias. */
OP(void, wmatmul_fwd, (void *out, const void *x, Weight w, const void *bias, int64_t M,
                       int64_t N, int64_t K, int accumulate))
/* matmul_bwd with w (N,K) in any supported format: dx (M,K) (+)= dy (M,N) @ w. */
OP(void, wmatmul_bwd, (void *dx, const void *dy, Weight w, int64_t M, int64_t N, int64_t K,
                       int accumulate))

/* ---- LoRA: y += scale * (x @ a^T) @ b^T, a (R,K) and b (N,R) fp32 (PEFT's lora_A,
 * lora_B). */
/* h (M,R) fp32 receives x @ a^T and is kept for the backward. */
OP(void, lora_fwd, (void *y, float *h, const void *x, const float *a, const float *b,
                    float scale, int64_t M, int64_t N, int64_t K, int64_t R))
/* From dy (M,N): da (R,K) += dh^T x, db (N,R) += scale dy^T h, and, when dx != NULL,
 * dx (M,K) += dh a, where dh (M,R) = scale dy b is workspace the caller provides. */
OP(void, lora_bwd, (float *da, float *db, void *dx, float *dh, const void *dy, const void *x,
                    const float *h, const float *a, const float *b, float scale, int64_t M,
                    int64_t N, int64_t K, int64_t R))

/* ---- multi-adapter LoRA: many small tasks in one pass, one adapter per row (the idea of
 * multi-LoRA serving). n_adapters adapters stacked: a (n_adapters,R,K), b (n_adapters,N,R)
 * fp32; adapter (M) backend int32, row m's adapter in [0, n_adapters). Row m gets exactly
 * lora_fwd's product with adapter[m] alone. */
/* y (M,N) += scale * (x a_i^T) b_i^T per row, i = adapter[m]; h (M,R) fp32 kept. */
OP(void, lora_rows_fwd, (void *y, float *h, const void *x, const float *a, const float *b,
                         const int32_t *adapter, int32_t n_adapters, float scale, int64_t M,
                         int64_t N, int64_t K, int64_t R))
/* lora_bwd per row: da_i (R,K) += dh^T x and db_i (N,R) += scale dy^T h over the rows of
 * adapter i, dx (M,K) += dh a_i when dx != NULL; dh (M,R) workspace (scale dy b_i). */
OP(void, lora_rows_bwd, (float *da, float *db, void *dx, float *dh, const void *dy,
                         const void *x, const float *h, const float *a, const float *b,
                         const int32_t *adapter, int32_t n_adapters, float scale, int64_t M,
                         int64_t N, int64_t K, int64_t R))

/* ---- elementwise and normalization */
/* out = x * rsqrt(mean(x^2) + eps) * w over rows of D (HF LlamaRMSNorm); rstd (T)
 * receives the per-row rsqrt for the backward. */
OP(void, rmsnorm_fwd, (void *out, float *rstd, const void *x, const void *w, int64_t T,
                       int64_t D, float eps))
/* dx (T,D) += d(rmsnorm)/dx applied to dout. */
OP(void, rmsnorm_bwd, (void *dx, const void *dout, const void *x, const void *w,
                       const float *rstd, int64_t T, int64_t D))
/* Residual add fused with the RMSNorm that reads it (vLLM's fused_add_rms_norm): res_out
 * (T,D) = res + x, then out = rmsnorm(res_out) * w and rstd (T) as rmsnorm_fwd, in one
 * pass over the rows. Equals add + rmsnorm_fwd. res_out may alias res (the inference
 * residual stream updated in place) and out may alias x (each row is read before it is
 * written); res_out must not alias out or x. */
OP(void, add_rmsnorm_fwd, (void *res_out, void *out, float *rstd, const void *res,
                           const void *x, const void *w, int64_t T, int64_t D, float eps))
/* rmsnorm_bwd into an fp32 residual-stream gradient: dres (T,D) fp32 += d(rmsnorm)/dx
 * applied to dout, then dres_elem (T,D) = dres in the elem type (what the matmuls read).
 * dres_elem may be (void *)dres where elem is fp32 (CPU): then nothing is copied. Keeps
 * the residual gradient summed over all layers in fp32 on a bf16 backend. */
OP(void, rmsnorm_bwd_res, (float *dres, void *dres_elem, const void *dout, const void *x,
                           const void *w, const float *rstd, int64_t T, int64_t D))
/* Rotary embedding in place on x (T, n_heads, HD), HF rotate_half layout (pairs i and
 * i + HD/2). cos/sin (max_pos, HD/2) fp32 tables (llama3 scaling already applied);
 * pos (T) positions. */
OP(void, rope_fwd, (void *x, const int32_t *pos, const float *cos, const float *sin,
                    int64_t T, int64_t n_heads, int64_t HD))
/* The inverse rotation of rope_fwd, in place on a gradient dx (T, n_heads, HD). */
OP(void, rope_bwd, (void *dx, const int32_t *pos, const float *cos, const float *sin,
                    int64_t T, int64_t n_heads, int64_t HD))
/* rope_fwd on q (T, H, HD) and k (T, KVH, HD) in one pass (both rotated by the same
 * cos/sin rows of each token); equals rope_fwd on each. */
OP(void, rope_qk_fwd, (void *q, void *k, const int32_t *pos, const float *cos,
                       const float *sin, int64_t T, int64_t H, int64_t KVH, int64_t HD))
/* rope_bwd on dq (T, H, HD) and dk (T, KVH, HD) in one pass. */
OP(void, rope_qk_bwd, (void *dq, void *dk, const int32_t *pos, const float *cos,
                       const float *sin, int64_t T, int64_t H, int64_t KVH, int64_t HD))
/* out (n) = silu(gate) * up. */
OP(void, swiglu_fwd, (void *out, const void *gate, const void *up, int64_t n))
/* dgate, dup (n) = gradients of swiglu given dout (overwritten, not accumulated). */
OP(void, swiglu_bwd, (void *dgate, void *dup, const void *dout, const void *gate,
                      const void *up, int64_t n))
/* swiglu_fwd on the halves of each row of gu (T, 2F) = [gate | up], what one matmul
 * against gate_proj and up_proj stacked (2F, K) writes (vLLM's silu_and_mul): out (T, F)
 * = silu(gu[:, :F]) * gu[:, F:]. Equals swiglu_fwd on the split halves. */
OP(void, swiglu_gu_fwd, (void *out, const void *gu, int64_t T, int64_t F))
/* swiglu_bwd into one (T, 2F) gradient dgu = [dgate | dup] (overwritten), what one
 * matmul_bwd against the stacked weight reads; dout (T, F), gu as in swiglu_gu_fwd.
 * dgu must not alias gu or dout. */
OP(void, swiglu_gu_bwd, (void *dgu, const void *dout, const void *gu, int64_t T, int64_t F))
/* y (n) += x (n). */
OP(void, add, (void *y, const void *x, int64_t n))
/* x (M,N): row m *= s[m] (s fp32 (M)), in place. The per-token loss weights applied to a
 * gradient formed with unit weights (the chunked lm_head's, worker/model/backward.c). */
OP(void, scale_rows, (void *x, const float *s, int64_t M, int64_t N))
/* dst[idx[i]] = src[i] for rows of row_elems elements (scatter into a KV cache). */
OP(void, rows_scatter, (void *dst, const int32_t *idx, const void *src, int64_t n_rows,
                        int64_t row_elems))
/* dst[i] = src[idx[i]] (gather the last token of each sequence). */
OP(void, rows_gather, (void *dst, const void *src, const int32_t *idx, int64_t n_rows,
                       int64_t row_elems))

/* ---- attention: causal, grouped-query, scale 1/sqrt(HD), over n_spans sequences
 * (spans is a backend copy of the table). q, out (Tq,H,HD); k, v (rows,KVH,HD). */
/* lse (Tq,H) receives log-sum-exp of the scaled scores for the backward (NULL when no
 * backward will follow). */
OP(void, attn_fwd, (void *out, float *lse, const void *q, const void *k, const void *v,
                    const SeqSpan *spans, int32_t n_spans, int64_t Tq, int64_t H,
                    int64_t KVH, int64_t HD))
/* dq (Tq,H,HD) overwritten; dk, dv (rows,KVH,HD) accumulated (caller zeroes them). */
OP(void, attn_bwd, (void *dq, void *dk, void *dv, const void *dout, const void *q,
                    const void *k, const void *v, const void *out, const float *lse,
                    const SeqSpan *spans, int32_t n_spans, int64_t Tq, int64_t H,
                    int64_t KVH, int64_t HD))

/* ---- the vocabulary: embedding, cross-entropy, greedy argmax, over a vocabulary range
 * (DESIGN §3; Megatron-LM's VocabParallelEmbedding and vocab_parallel_cross_entropy).
 * The caller holds rows [v0, v0 + V) of the vocabulary, so table, logits and dlogits
 * have V (the range's) rows or columns, while ids and targets stay global. The whole
 * vocabulary on one rank is v0 = 0 and V = vocab_size; under tp each rank passes its
 * slice and the worker combines the per-rank results (worker/model/model_tp.c). */
/* out (T,D) = table[ids[t] - v0] when v0 <= ids[t] < v0 + V, else 0 (another rank holds
 * that row: a sum over the ranks completes the lookup). table (V,D) in any format
 * weight_bytes supports (a GGUF's embedding kept in its blocks): each looked-up row is
 * decoded as wmatmul_fwd decodes it, so a tied lm_head and the lookup see one matrix. */
OP(void, embed_fwd, (void *out, const int32_t *ids, Weight table, int64_t T, int64_t D,
                     int64_t v0, int64_t V))
/* Cross-entropy statistics per row of logits (T,V): lse[t] = log-sum-exp of the row (of
 * this range only) and tgt[t] = logits[t][targets[t] - v0] when the target lies in the
 * range, else 0. Over the whole vocabulary, row t's loss (torch cross_entropy, as HF's
 * causal-LM loss before reduction) is lse[t] - tgt[t] where targets[t] >= 0. */
OP(void, xent_fwd, (float *lse, float *tgt, const void *logits, const int32_t *targets,
                    int64_t T, int64_t V, int64_t v0))
/* dlogits (T,V) = dloss[t] * (exp(logits[t] - lse[t]) - onehot(targets[t] - v0)), lse
 * (T) the log-sum-exp over the whole vocabulary; the onehot term only where the target
 * lies in the range. Rows with target < 0 or dloss 0 become 0. dlogits may alias logits
 * (computed in place). */
OP(void, xent_bwd, (void *dlogits, const void *logits, const float *lse,
                    const int32_t *targets, const float *dloss, int64_t T, int64_t V,
                    int64_t v0))
/* Per row of logits (T,V): val[t] = the largest logit and ids[t] = v0 + its column, the
 * lowest column on ties (torch.argmax). */
OP(void, argmax, (float *val, int32_t *ids, const void *logits, int64_t T, int64_t V,
                  int64_t v0))

/* ---- entropy of the next-token distributions (the tent / eata / come objectives,
 * worker/methods/method_*.c). Each row of logits (T,V) is extended by one constant logit
 * `extra` (-INFINITY: none) and q = softmax of the extended row; H = -sum q log q over
 * all V + 1 entries. extra = -INFINITY gives the softmax entropy (Tent, Wang et al.
 * 2021, Eqn. 2); extra = log V gives the entropy of COME's Dirichlet opinion
 * (Zhang et al. 2025: evidence e = exp(z), belief e_k / (sum e + V), uncertainty
 * mass V / (sum e + V)), whose beliefs and mass are exactly that extended softmax. */
/* ent[t] = H of row t and lse[t] = log-sum-exp of the extended row (kept for the
 * backward), computed relative to the row max (no overflow, no cancellation of large
 * logits); rows with mask[t] == 0 are skipped and get ent = lse = 0. */
OP(void, entropy_fwd, (float *ent, float *lse, const void *logits, const int32_t *mask,
                       float extra, int64_t T, int64_t V))
/* dlogits (T,V) = dent[t] * dH/dz = -dent[t] q_j (log q_j + H) from the lse and ent of
 * entropy_fwd (same extra). radial != 0 removes the component along z of each row's
 * gradient: the gradient of H(z / |z| * sg(|z|)), COME's conservative constraint
 * (the logit norm cannot change, which bounds the uncertainty mass from below).
 * Rows with dent 0 become 0. dlogits may alias logits (computed in place). */
OP(void, entropy_bwd, (void *dlogits, const void *logits, const float *lse, const float *ent,
                       const float *dent, float extra, int radial, int64_t T, int64_t V))

/* ---- optimizer (fp32) */
/* *out (host) = sum of x[i]^2 over n, accumulated in double; synchronizes. */
OP(void, sumsq, (double *out, const float *x, int64_t n))
/* x (n) *= s. */
OP(void, scale, (float *x, float s, int64_t n))
/* torch.optim.AdamW step t (1-based) on p with gradient g and moments m, v. The
 * hyper-parameters are doubles, as torch's Python floats are: the step factors
 * (1 - beta2, bias corrections) are formed in double and rounded once. */
OP(void, adamw, (float *p, const float *g, float *m, float *v, int64_t n, double lr,
                 double beta1, double beta2, double eps, double weight_decay, int64_t t))
