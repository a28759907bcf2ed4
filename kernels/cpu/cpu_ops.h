/* kernels/cpu/cpu_ops.h -- the CPU backend's op functions, one group per file.
 * Private to kernels/cpu: the public way in is ops_cpu() (kernels/ops.h), whose table
 * (cpu/backend.c) points at these. Every op follows the contract comment of the Ops field
 * of the same name in kernels/ops.h; `void *` buffers are fp32 here. Ops run on the
 * calling thread with OpenMP / OpenBLAS threads inside, complete on return, never
 * allocate, and must not be called from inside an OpenMP parallel region. */
#ifndef TLM_KERNELS_CPU_CPU_OPS_H
#define TLM_KERNELS_CPU_CPU_OPS_H

#include "kernels/ops.h"

/* memory.c */
void *cpu_alloc(size_t n_bytes, Err *err);
void cpu_release(void *p);
void cpu_upload(void *dst, const void *src, DType src_type, int64_t n);
void cpu_upload_raw(void *dst, const void *src, size_t n_bytes);
void cpu_download(float *dst, const void *src, int64_t n);
void cpu_download_raw(void *dst, const void *src, size_t n_bytes);
void cpu_zero(void *p, size_t n_bytes);
void cpu_copy(void *dst, const void *src, size_t n_bytes);
void cpu_sync(void);

/* matmul.c */
void cpu_matmul_fwd(void *out, const void *x, const void *w, const void *bias, int64_t M,
                    int64_t N, int64_t K, int accumulate);
void cpu_matmul_bwd(void *dx, const void *dy, const void *w, int64_t M, int64_t N, int64_t K,
                    int accumulate);

/* lora.c */
void cpu_lora_fwd(void *y, float *h, const void *x, const float *a, const float *b,
                  float scale, int64_t M, int64_t N, int64_t K, int64_t R);
void cpu_lora_bwd(float *da, float *db, void *dx, float *dh, const void *dy, const void *x,
                  const float *h, const float *a, const float *b, float scale, int64_t M,
                  int64_t N, int64_t K, int64_t R);

/* rmsnorm.c */
void cpu_rmsnorm_fwd(void *out, float *rstd, const void *x, const void *w, int64_t T,
                     int64_t D, float eps);
void cpu_rmsnorm_bwd(void *dx, const void *dout, const void *x, const void *w,
                     const float *rstd, int64_t T, int64_t D);

/* rope.c */
void cpu_rope_fwd(void *x, const int32_t *pos, const float *cos, const float *sin, int64_t T,
                  int64_t n_heads, int64_t HD);
void cpu_rope_bwd(void *dx, const int32_t *pos, const float *cos, const float *sin, int64_t T,
                  int64_t n_heads, int64_t HD);

/* elementwise.c */
void cpu_swiglu_fwd(void *out, const void *gate, const void *up, int64_t n);
void cpu_swiglu_bwd(void *dgate, void *dup, const void *dout, const void *gate,
                    const void *up, int64_t n);
void cpu_add(void *y, const void *x, int64_t n);
void cpu_embed_fwd(void *out, const int32_t *ids, const void *table, int64_t T, int64_t D);
void cpu_rows_scatter(void *dst, const int32_t *idx, const void *src, int64_t n_rows,
                      int64_t row_elems);
void cpu_rows_gather(void *dst, const void *src, const int32_t *idx, int64_t n_rows,
                     int64_t row_elems);

/* attention.c (head dim at most CPU_ATTN_MAX_HD: tiles live on each thread's stack) */
#define CPU_ATTN_MAX_HD 256
void cpu_attn_fwd(void *out, float *lse, const void *q, const void *k, const void *v,
                  const SeqSpan *spans, int32_t n_spans, int64_t Tq, int64_t H, int64_t KVH,
                  int64_t HD);
void cpu_attn_bwd(void *dq, void *dk, void *dv, const void *dout, const void *q,
                  const void *k, const void *v, const void *out, const float *lse,
                  const SeqSpan *spans, int32_t n_spans, int64_t Tq, int64_t H, int64_t KVH,
                  int64_t HD);

/* xent.c */
void cpu_xent_fwd(float *loss, float *lse, const void *logits, const int32_t *targets,
                  int64_t T, int64_t V);
void cpu_xent_bwd(void *dlogits, const void *logits, const float *lse,
                  const int32_t *targets, const float *dloss, int64_t T, int64_t V);
void cpu_argmax(int32_t *ids, const void *logits, int64_t T, int64_t V);

/* vocab_slice.c: the vocabulary-parallel ops (this rank's rows [v0, v0 + V)) */
void cpu_embed_slice_fwd(void *out, const int32_t *ids, const void *table, int64_t T,
                         int64_t D, int64_t v0, int64_t V);
void cpu_xent_slice_fwd(float *lse, float *tgt, const void *logits, const int32_t *targets,
                        int64_t T, int64_t V, int64_t v0);
void cpu_xent_slice_bwd(void *dlogits, const void *logits, const float *lse,
                        const int32_t *targets, const float *dloss, int64_t T, int64_t V,
                        int64_t v0);
void cpu_argmax_slice(float *val, int32_t *ids, const void *logits, int64_t T, int64_t V,
                      int64_t v0);

/* entropy.c */
void cpu_entropy_fwd(float *ent, float *lse, const void *logits, const int32_t *mask,
                     float extra, int64_t T, int64_t V);
void cpu_entropy_bwd(void *dlogits, const void *logits, const float *lse, const float *ent,
                     const float *dent, float extra, int radial, int64_t T, int64_t V);

/* optim.c */
void cpu_sumsq(double *out, const float *x, int64_t n);
void cpu_scale(float *x, float s, int64_t n);
void cpu_adamw(float *p, const float *g, float *m, float *v, int64_t n, double lr, double beta1,
               double beta2, double eps, double weight_decay, int64_t t);

/* Below this many elements an elementwise op stays on one thread: forking costs more. */
#define CPU_PAR_MIN 16384

#endif
