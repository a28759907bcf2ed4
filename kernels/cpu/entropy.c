/* kernels/cpu/entropy.c -- entropy of each row's (extended) softmax and its gradient, for
 * the entropy objectives (tent, eata, come; see the Ops contract in kernels/ops.h).
 * Statistics relative to the larger of the row max and the extra logit, sums in double
 * (as vocab.c: a 128K vocabulary of terms <= 1 would lose ~1e-4 relative in fp32):
 *   s = sum_j exp(w_j - M),  u = sum_j exp(w_j - M) (w_j - M),  lse = M + log s,
 *   H = log s - u / s,       (w = the row and, when finite, the extra logit)
 * which never forms lse - sum q z, a difference of two large numbers for peaked rows.
 * Backward: dH/dz_j = -q_j (log q_j + H), q_j = exp(z_j - lse). Rows split across
 * threads. */
#include "kernels/cpu/cpu_ops.h"

#include <math.h>

static void row_entropy(const float *row, int64_t V, float extra, float *ent, float *lse) {
    float mx = extra;
    for (int64_t j = 0; j < V; j++)
        mx = row[j] > mx ? row[j] : mx;
    if (mx == -INFINITY) { /* an all -inf row: no distribution; report 0, not NaN */
        *ent = 0.0f;
        *lse = -INFINITY;
        return;
    }
    double s = 0.0, u = 0.0;
    for (int64_t j = 0; j < V; j++) {
        const double d = (double)row[j] - mx, e = exp(d);
        s += e;
        u += e > 0 ? e * d : 0.0; /* exp(-inf) * -inf would be NaN */
    }
    if (extra != -INFINITY) {
        const double d = (double)extra - mx, e = exp(d);
        s += e;
        u += e > 0 ? e * d : 0.0;
    }
    *lse = (float)((double)mx + log(s));
    *ent = (float)(log(s) - u / s);
}

void cpu_entropy_fwd(float *ent, float *lse, const void *logits, const int32_t *mask,
                     float extra, int64_t T, int64_t V) {
    const float *lg = logits;
#pragma omp parallel for schedule(static) if (T * V >= CPU_PAR_MIN)
    for (int64_t t = 0; t < T; t++) {
        if (mask[t] == 0) {
            ent[t] = 0.0f;
            lse[t] = 0.0f;
            continue;
        }
        row_entropy(lg + t * V, V, extra, &ent[t], &lse[t]);
    }
}

/* g_j = -d q_j (log q_j + H) for one element. */
static inline float ent_grad(float z, float l, float h, float d) {
    const float lq = z - l;
    return -d * expf(lq) * (lq + h);
}

/* Reads row[j] before writing dl[j] at the same index, so dlogits may be logits. */
void cpu_entropy_bwd(void *dlogits, const void *logits, const float *lse, const float *ent,
                     const float *dent, float extra, int radial, int64_t T, int64_t V) {
    (void)extra; /* the extra logit enters through lse and ent; it has no gradient */
    float *dl = dlogits;
    const float *lg = logits;
#pragma omp parallel for schedule(static) if (T * V >= CPU_PAR_MIN)
    for (int64_t t = 0; t < T; t++) {
        float *drow = dl + t * V;
        const float *row = lg + t * V;
        const float d = dent[t], l = lse[t], h = ent[t];
        if (d == 0.0f || l == -INFINITY) {
            for (int64_t j = 0; j < V; j++)
                drow[j] = 0.0f;
            continue;
        }
        float coef = 0.0f;
        if (radial) { /* remove the projection of g on z: (g . z / |z|^2) z */
            double gz = 0.0, zz = 0.0;
            for (int64_t j = 0; j < V; j++) {
                gz += (double)ent_grad(row[j], l, h, d) * row[j];
                zz += (double)row[j] * row[j];
            }
            coef = zz > 0 ? (float)(gz / zz) : 0.0f;
        }
        for (int64_t j = 0; j < V; j++) {
            const float z = row[j];
            drow[j] = ent_grad(z, l, h, d) - coef * z;
        }
    }
}
