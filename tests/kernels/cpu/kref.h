/* tests/kernels/cpu/kref.h -- naive double-precision references for the kernel tests.
 * Written from the Hugging Face / PyTorch definitions, deliberately as plain loops
 * sharing nothing with kernels/cpu, so a bug in a kernel cannot hide in its reference.
 * Also a small deterministic RNG and the float <-> double helpers the tests share. */
#ifndef TLM_TESTS_KERNELS_KREF_H
#define TLM_TESTS_KERNELS_KREF_H

#include <stdint.h>

#include "kernels/ops.h"

typedef struct KRng {
    uint64_t s;
} KRng;

/* Uniform in [lo, hi) (splitmix64: reproducible on every platform). */
double krng_uniform(KRng *r, double lo, double hi);
void kfill(float *x, int64_t n, KRng *r, double lo, double hi);
/* Fresh malloc'd copies (owned-after-return); abort on out of memory. */
float *kalloc_f(int64_t n);
double *kalloc_d(int64_t n);
double *kto_double(const float *x, int64_t n);
float *kto_float(const double *x, int64_t n);

/* out (M,N) = x (M,K) w (N,K)^T + bias (N, may be NULL); overwrites. */
void ref_matmul(double *out, const double *x, const double *w, const double *bias, int64_t M,
                int64_t N, int64_t K);
/* y (M,N) += scale * (x a^T) b^T: PEFT lora.Linear with dropout 0. */
void ref_lora(double *y, const double *x, const double *a, const double *b, double scale,
              int64_t M, int64_t N, int64_t K, int64_t R);
/* HF LlamaRMSNorm: w * x / sqrt(mean(x^2) + eps) per row of D. */
void ref_rmsnorm(double *out, const double *x, const double *w, int64_t T, int64_t D,
                 double eps);
/* HF apply_rotary_pos_emb (rotate_half) in place on x (T, nh, HD). */
void ref_rope(double *x, const int32_t *pos, const float *cos_t, const float *sin_t, int64_t T,
              int64_t nh, int64_t HD);
/* cos/sin (max_pos, HD/2) of the standard Llama inverse frequencies theta^(-2i/HD). */
void ref_rope_tables(float *cos_t, float *sin_t, int64_t max_pos, int64_t HD, double theta);
/* silu(g) * u. */
void ref_swiglu(double *out, const double *g, const double *u, int64_t n);
/* Causal GQA softmax attention over spans (ops.h SeqSpan), scores / sqrt(HD); lse may be
 * NULL. Rows of out outside every span are left alone. */
void ref_attn(double *out, double *lse, const double *q, const double *k, const double *v,
              const SeqSpan *spans, int32_t n_spans, int64_t H, int64_t KVH, int64_t HD);
/* loss[t] = logsumexp(row) - row[target] (0 when target < 0); lse may be NULL. */
void ref_xent(double *loss, double *lse, const double *logits, const int32_t *targets,
              int64_t T, int64_t V);

#endif
