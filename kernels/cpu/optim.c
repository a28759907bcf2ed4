/* kernels/cpu/optim.c -- fp32 optimizer primitives: squared norm, scaling, AdamW.
 * sumsq + scale give torch.nn.utils.clip_grad_norm_ (the caller computes the global norm,
 * across ranks when distributed, and the clip coefficient). adamw is one step of
 * torch.optim.AdamW's single-tensor path (torch/optim/adamw.py, _single_tensor_adamw). */
#include "kernels/cpu/cpu_ops.h"

#include <math.h>

void cpu_sumsq(double *out, const float *x, int64_t n) {
    double s = 0.0;
    /* static schedule and simd lanes: the same thread count and build give the same
     * summation order, so a rerun reproduces the norm bit for bit. The lanes keep it at
     * the memory's read speed (a serial double chain runs at a third of it), which also
     * makes it the streaming-read reference of `tlm bench`. */
#pragma omp parallel for simd schedule(static) reduction(+ : s) if (n >= CPU_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        s += (double)x[i] * (double)x[i];
    *out = s;
}

void cpu_scale(float *x, float s, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= CPU_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        x[i] *= s;
}

/* torch computes the scalar factors as Python floats (double) and each tensor op rounds
 * them to fp32; we do the same so the step agrees to the last bit or two:
 *   p *= 1 - lr wd
 *   m.lerp_(g, 1 - b1)                 (m + w (g - m), torch's lerp for w < 0.5)
 *   v = v b2 + (1 - b2) g^2
 *   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps) */
void cpu_adamw(float *p, const float *g, float *m, float *v, int64_t n, double lr_d,
               double b1, double b2, double eps_d, double wd, int64_t t) {
    double bc1 = 1.0 - pow(b1, (double)t);
    double bc2 = 1.0 - pow(b2, (double)t);
    float decay = (float)(1.0 - lr_d * wd);
    float w1 = (float)(1.0 - b1);
    float w2 = (float)(1.0 - b2);
    float step_size = (float)(lr_d / bc1);
    float bc2_sqrt = (float)sqrt(bc2);
    float beta2 = (float)b2, eps = (float)eps_d;
#pragma omp parallel for schedule(static) if (n >= CPU_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i];
        float pi = p[i] * decay;
        float mi = w1 < 0.5f ? m[i] + w1 * (gi - m[i]) : gi - (gi - m[i]) * (1.0f - w1);
        float vi = v[i] * beta2 + w2 * gi * gi;
        float denom = sqrtf(vi) / bc2_sqrt + eps;
        p[i] = pi - step_size * (mi / denom);
        m[i] = mi;
        v[i] = vi;
    }
}
