/* kernels/cpu/vocab_simple.c -- the simple twins of vocab.c's embedding, cross-entropy and
 * argmax (kernels/cpu/cpu_simple.h): a whole table row decoded by plain C, one libm expf
 * per element, the exponentials summed in double, a scalar scan for the argmax. The
 * reference the fast ones are tested against. */
#include "kernels/cpu/cpu_simple.h"

#include <math.h>
#include <string.h>

#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/wpanel.h"

/* The target's column in this range, or -1 when it has none or another rank holds it. */
static int64_t local_col(int32_t target, int64_t V, int64_t v0) {
    const int64_t c = (int64_t)target - v0;
    return target >= 0 && c >= 0 && c < V ? c : -1;
}

void cpu_embed_fwd_simple(void *out, const int32_t *ids, Weight table, int64_t T, int64_t D,
                          int64_t v0, int64_t V) {
    float *o = out;
    const WPanelFn panel_of = cpu_wpanel_fn(table.format, 0);
    const int64_t ld = cpu_wpanel_ld(table.format, D);
    for (int64_t t = 0; t < T; t++) {
        const int64_t r = (int64_t)ids[t] - v0;
        if (r < 0 || r >= V) {
            memset(o + t * D, 0, (size_t)D * sizeof(float));
            continue;
        }
        float row[ld];
        int64_t ldr = 0;
        const float *p = panel_of(table.data, D, r, 1, 0, D, row, &ldr);
        memcpy(o + t * D, p, (size_t)D * sizeof(float));
    }
}

void cpu_xent_fwd_simple(float *lse, float *tgt, const void *logits, const int32_t *targets,
                  int64_t T, int64_t V, int64_t v0) {
    const float *lg = logits;
#pragma omp parallel for schedule(static) if (T * V >= CPU_PAR_MIN)
    for (int64_t t = 0; t < T; t++) {
        const float *row = lg + t * V;
        /* log(sum(exp(row))) with the max subtracted first so no term overflows; an all
         * -inf row has no softmax: report -inf, not NaN */
        float mx = -INFINITY;
        for (int64_t j = 0; j < V; j++)
            mx = row[j] > mx ? row[j] : mx;
        double sum = 0.0;
        if (mx != -INFINITY)
            for (int64_t j = 0; j < V; j++)
                sum += (double)expf(row[j] - mx);
        lse[t] = mx == -INFINITY ? mx : (float)((double)mx + log(sum));
        const int64_t c = local_col(targets[t], V, v0);
        tgt[t] = c >= 0 ? row[c] : 0.0f;
    }
}

/* Reads row[j] before writing dl[j] at the same index, so dlogits may be logits. */
void cpu_xent_bwd_simple(void *dlogits, const void *logits, const float *lse,
                  const int32_t *targets, const float *dloss, int64_t T, int64_t V,
                  int64_t v0) {
    float *dl = dlogits;
    const float *lg = logits;
#pragma omp parallel for schedule(static) if (T * V >= CPU_PAR_MIN)
    for (int64_t t = 0; t < T; t++) {
        float *drow = dl + t * V;
        const float *row = lg + t * V;
        const float g = dloss[t];
        if (targets[t] < 0 || g == 0.0f) {
            memset(drow, 0, (size_t)V * sizeof(float));
            continue;
        }
        const float l = lse[t];
        for (int64_t j = 0; j < V; j++)
            drow[j] = g * expf(row[j] - l);
        const int64_t c = local_col(targets[t], V, v0);
        if (c >= 0)
            drow[c] -= g;
    }
}

void cpu_argmax_simple(float *val, int32_t *ids, const void *logits, int64_t T, int64_t V,
                int64_t v0) {
    const float *lg = logits;
#pragma omp parallel for schedule(static) if (T * V >= CPU_PAR_MIN)
    for (int64_t t = 0; t < T; t++) {
        const float *row = lg + t * V;
        int64_t best = 0;
        /* strict >: the first of equal maxima wins, as torch.argmax documents */
        for (int64_t j = 1; j < V; j++)
            if (row[j] > row[best])
                best = j;
        val[t] = V > 0 ? row[best] : -INFINITY;
        ids[t] = (int32_t)(v0 + best);
    }
}
