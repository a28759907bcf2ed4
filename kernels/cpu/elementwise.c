/* kernels/cpu/elementwise.c -- SwiGLU (also over [gate | up] rows), residual add and row
 * copies.
 * SwiGLU matches HF LlamaMLP: down(act_fn(gate(x)) * up(x)) with act_fn = SiLU
 * (torch.nn.functional.silu: x * sigmoid(x)). The row copies move whole rows of
 * row_elems fp32 values and trust the caller's indices (worker/ builds them). */
#include "kernels/cpu/cpu_ops.h"

#include <math.h>
#include <string.h>

void cpu_swiglu_fwd(void *out, const void *gate, const void *up, int64_t n) {
    float *o = out;
    const float *g = gate, *u = up;
#pragma omp parallel for schedule(static) if (n >= CPU_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        /* g / (1 + e^-g): for g -> -inf, e^-g = inf and the quotient is -0, not NaN. */
        float silu = g[i] / (1.0f + expf(-g[i]));
        o[i] = silu * u[i];
    }
}

/* d silu(g)/dg = sig(g) (1 + g (1 - sig(g))). Each element reads its inputs before
 * writing, so dgate or dup may alias dout. */
void cpu_swiglu_bwd(void *dgate, void *dup, const void *dout, const void *gate,
                    const void *up, int64_t n) {
    float *dg = dgate, *du = dup;
    const float *d = dout, *g = gate, *u = up;
#pragma omp parallel for schedule(static) if (n >= CPU_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i], ui = u[i], di = d[i];
        float sig = 1.0f / (1.0f + expf(-gi));
        float silu = gi * sig;
        dg[i] = di * ui * sig * (1.0f + gi * (1.0f - sig));
        du[i] = di * silu;
    }
}

/* Row by row, the same expressions as swiglu_fwd / swiglu_bwd: bit-equal to them on
 * the split halves. */
void cpu_swiglu_gu_fwd(void *out, const void *gu, int64_t T, int64_t F) {
    float *o = out;
    const float *s = gu;
#pragma omp parallel for schedule(static) if (T * F >= CPU_PAR_MIN)
    for (int64_t t = 0; t < T; t++) {
        const float *g = s + t * 2 * F, *u = g + F;
        float *orow = o + t * F;
        for (int64_t i = 0; i < F; i++)
            orow[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    }
}

void cpu_swiglu_gu_bwd(void *dgu, const void *dout, const void *gu, int64_t T, int64_t F) {
    float *dst = dgu;
    const float *s = gu, *ds = dout;
#pragma omp parallel for schedule(static) if (T * F >= CPU_PAR_MIN)
    for (int64_t t = 0; t < T; t++) {
        const float *g = s + t * 2 * F, *u = g + F, *d = ds + t * F;
        float *dg = dst + t * 2 * F, *du = dg + F;
        for (int64_t i = 0; i < F; i++) {
            float gi = g[i], ui = u[i], di = d[i];
            float sig = 1.0f / (1.0f + expf(-gi));
            float silu = gi * sig;
            dg[i] = di * ui * sig * (1.0f + gi * (1.0f - sig));
            du[i] = di * silu;
        }
    }
}

void cpu_add(void *y, const void *x, int64_t n) {
    float *ys = y;
    const float *xs = x;
#pragma omp parallel for schedule(static) if (n >= CPU_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        ys[i] += xs[i];
}

void cpu_scale_rows(void *x, const float *s, int64_t M, int64_t N) {
    float *xs = x;
#pragma omp parallel for schedule(static) if (M * N >= CPU_PAR_MIN)
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++)
            xs[m * N + n] *= s[m];
}

void cpu_rows_scatter(void *dst, const int32_t *idx, const void *src, int64_t n_rows,
                      int64_t row_elems) {
    float *d = dst;
    const float *s = src;
#pragma omp parallel for schedule(static) if (n_rows * row_elems >= CPU_PAR_MIN)
    for (int64_t i = 0; i < n_rows; i++)
        memcpy(d + (int64_t)idx[i] * row_elems, s + i * row_elems,
               (size_t)row_elems * sizeof(float));
}

void cpu_rows_gather(void *dst, const void *src, const int32_t *idx, int64_t n_rows,
                     int64_t row_elems) {
    float *d = dst;
    const float *s = src;
#pragma omp parallel for schedule(static) if (n_rows * row_elems >= CPU_PAR_MIN)
    for (int64_t i = 0; i < n_rows; i++)
        memcpy(d + i * row_elems, s + (int64_t)idx[i] * row_elems,
               (size_t)row_elems * sizeof(float));
}
