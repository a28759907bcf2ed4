/* kernels/cpu/rmsnorm.c -- RMS normalization over rows, fp32, one row per thread step.
 * Forward matches HF LlamaRMSNorm.forward (modeling_llama.py): variance = mean(x^2) in
 * fp32, x * rsqrt(variance + eps), then weight * (that). The sum of squares is taken in
 * double so a D = 8192 row does not lose digits; the result is rounded once to fp32. */
#include "kernels/cpu/cpu_ops.h"

#include <math.h>
#include <string.h>

/* One row: orow = w * (xr * r), r = rsqrt(mean(xr^2) + eps), returned. */
static float norm_row(float *orow, const float *xr, const float *ws, int64_t D, float eps) {
    double ss = 0.0;
    for (int64_t i = 0; i < D; i++)
        ss += (double)xr[i] * (double)xr[i];
    const float r = (float)(1.0 / sqrt(ss / (double)D + (double)eps));
    /* HF order: (x * rstd) rounded, then times the weight. */
    for (int64_t i = 0; i < D; i++)
        orow[i] = ws[i] * (xr[i] * r);
    return r;
}

void cpu_rmsnorm_fwd(void *out, float *rstd, const void *x, const void *w, int64_t T,
                     int64_t D, float eps) {
    float *o = out;
    const float *xs = x, *ws = w;
#pragma omp parallel for schedule(static) if (T * D >= CPU_PAR_MIN)
    for (int64_t t = 0; t < T; t++)
        rstd[t] = norm_row(o + t * D, xs + t * D, ws, D, eps);
}

/* The add rounds exactly as cpu_add does, so this equals add + rmsnorm_fwd bit for bit;
 * the row is summed before out (which may alias x) is written. */
void cpu_add_rmsnorm_fwd(void *res_out, void *out, float *rstd, const void *res,
                         const void *x, const void *w, int64_t T, int64_t D, float eps) {
    float *ro = res_out, *o = out;
    const float *rs = res, *xs = x, *ws = w;
#pragma omp parallel for schedule(static) if (T * D >= CPU_PAR_MIN)
    for (int64_t t = 0; t < T; t++) {
        float *rrow = ro + t * D;
        const float *rin = rs + t * D, *xr = xs + t * D;
        for (int64_t i = 0; i < D; i++)
            rrow[i] = rin[i] + xr[i];
        rstd[t] = norm_row(o + t * D, rrow, ws, D, eps);
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

/* Here elem is fp32, so the fp32 residual gradient is the elem one: the same update as
 * rmsnorm_bwd, plus a copy only when the caller keeps a separate elem buffer. */
void cpu_rmsnorm_bwd_res(float *dres, void *dres_elem, const void *dout, const void *x,
                         const void *w, const float *rstd, int64_t T, int64_t D) {
    cpu_rmsnorm_bwd(dres, dout, x, w, rstd, T, D);
    if (dres_elem != NULL && dres_elem != (void *)dres)
        memcpy(dres_elem, dres, (size_t)(T * D) * sizeof(float));
}
