/* kernels/cpu/xent.c -- cross-entropy over the vocabulary and greedy argmax.
 * Matches torch.nn.functional.cross_entropy on fp32 logits per row (as HF
 * LlamaForCausalLM's loss computes it, before any reduction): loss = logsumexp(row) -
 * row[target]. The exponentials are summed in double: a 128K vocabulary of terms <= 1
 * would otherwise lose ~1e-4 relative. Rows split across threads. */
#include "kernels/cpu/cpu_ops.h"

#include <math.h>

/* log(sum(exp(row))) with the max subtracted first so no term overflows. */
static float row_lse(const float *row, int64_t V) {
    float mx = -INFINITY;
    for (int64_t j = 0; j < V; j++)
        mx = row[j] > mx ? row[j] : mx;
    if (mx == -INFINITY) /* an all -inf row: softmax undefined; report -inf, not NaN */
        return mx;
    double sum = 0.0;
    for (int64_t j = 0; j < V; j++)
        sum += (double)expf(row[j] - mx);
    return (float)((double)mx + log(sum));
}

void cpu_xent_fwd(float *loss, float *lse, const void *logits, const int32_t *targets,
                  int64_t T, int64_t V) {
    const float *lg = logits;
#pragma omp parallel for schedule(static) if (T * V >= CPU_PAR_MIN)
    for (int64_t t = 0; t < T; t++) {
        const float *row = lg + t * V;
        float l = row_lse(row, V);
        lse[t] = l;
        loss[t] = targets[t] >= 0 ? l - row[targets[t]] : 0.0f;
    }
}

/* Reads row[j] before writing dl[j] at the same index, so dlogits may be logits. */
void cpu_xent_bwd(void *dlogits, const void *logits, const float *lse,
                  const int32_t *targets, const float *dloss, int64_t T, int64_t V) {
    float *dl = dlogits;
    const float *lg = logits;
#pragma omp parallel for schedule(static) if (T * V >= CPU_PAR_MIN)
    for (int64_t t = 0; t < T; t++) {
        float *drow = dl + t * V;
        const float *row = lg + t * V;
        int32_t tgt = targets[t];
        float g = dloss[t];
        if (tgt < 0 || g == 0.0f) {
            for (int64_t j = 0; j < V; j++)
                drow[j] = 0.0f;
            continue;
        }
        float l = lse[t];
        for (int64_t j = 0; j < V; j++)
            drow[j] = g * expf(row[j] - l);
        drow[tgt] -= g;
    }
}

void cpu_argmax(int32_t *ids, const void *logits, int64_t T, int64_t V) {
    const float *lg = logits;
#pragma omp parallel for schedule(static) if (T * V >= CPU_PAR_MIN)
    for (int64_t t = 0; t < T; t++) {
        const float *row = lg + t * V;
        int64_t best = 0;
        /* strict >: the first of equal maxima wins, as torch.argmax documents. */
        for (int64_t j = 1; j < V; j++)
            if (row[j] > row[best])
                best = j;
        ids[t] = (int32_t)best;
    }
}
