/* kernels/cpu/rmsnorm.c -- RMS normalization over rows, fp32, one row per thread step.
 * Forward matches HF LlamaRMSNorm.forward (modeling_llama.py): variance = mean(x^2) in
 * fp32, x * rsqrt(variance + eps), then weight * (that). The sum of squares is taken in
 * double so a D = 8192 row does not lose digits; the result is rounded once to fp32. */
#include "kernels/cpu/cpu_ops.h"

#include <math.h>

void cpu_rmsnorm_fwd(void *out, float *rstd, const void *x, const void *w, int64_t T,
                     int64_t D, float eps) {
    float *o = out;
    const float *xs = x, *ws = w;
#pragma omp parallel for schedule(static) if (T * D >= CPU_PAR_MIN)
    for (int64_t t = 0; t < T; t++) {
        const float *xr = xs + t * D;
        float *orow = o + t * D;
        double ss = 0.0;
        for (int64_t i = 0; i < D; i++)
            ss += (double)xr[i] * (double)xr[i];
        float r = (float)(1.0 / sqrt(ss / (double)D + (double)eps));
        rstd[t] = r;
        /* HF order: (x * rstd) rounded, then times the weight. */
        for (int64_t i = 0; i < D; i++)
            orow[i] = ws[i] * (xr[i] * r);
    }
}

/* y_i = w_i x_i r with r = (mean(x^2) + eps)^(-1/2), so dr/dx_j = -r^3 x_j / D and
 *   dx_j = r w_j g_j - (r^3 / D) x_j sum_i(g_i w_i x_i).
 * The saved rstd makes this one pass for the dot product and one for the update. */
void cpu_rmsnorm_bwd(void *dx, const void *dout, const void *x, const void *w,
                     const float *rstd, int64_t T, int64_t D) {
    float *dxs = dx;
    const float *gs = dout, *xs = x, *ws = w;
#pragma omp parallel for schedule(static) if (T * D >= CPU_PAR_MIN)
    for (int64_t t = 0; t < T; t++) {
        const float *g = gs + t * D, *xr = xs + t * D;
        float *d = dxs + t * D;
        double dot = 0.0;
        for (int64_t i = 0; i < D; i++)
            dot += (double)g[i] * (double)ws[i] * (double)xr[i];
        float r = rstd[t];
        float c = (float)((double)r * r * r * dot / (double)D);
        for (int64_t i = 0; i < D; i++)
            d[i] += r * ws[i] * g[i] - c * xr[i];
    }
}
