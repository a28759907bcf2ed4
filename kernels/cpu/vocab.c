/* kernels/cpu/vocab.c -- the ops over a vocabulary range [v0, v0 + V) (DESIGN §3):
 * embedding lookup, cross-entropy statistics and their backward, greedy argmax, with
 * global token ids. The whole vocabulary is the range [0, vocab_size); under tp the
 * worker combines the ranks' results (Megatron-LM VocabParallelEmbedding /
 * vocab_parallel_cross_entropy, worker/model/model_tp.c), so the full (T, vocabulary)
 * logits never exist on one rank. The cross-entropy matches
 * torch.nn.functional.cross_entropy on fp32 logits per row (HF LlamaForCausalLM's loss
 * before any reduction): loss = logsumexp(row) - row[target]. The exponentials are
 * summed in double over fp32 blocks: a 128K vocabulary of terms <= 1 would otherwise lose
 * ~1e-4 relative. The embedding's rows are decoded by the frozen matmuls' panel decoders
 * (wpanel.h), so a quantized table gives the floats a tied lm_head multiplies. Rows split
 * across threads; each row's loops are vectorized with vexp.h's
 * expf and built per x86-64 level. The plain loops they replaced are vocab_simple.c. */
#include "kernels/cpu/cpu_ops.h"

#include <math.h>
#include <string.h>

#include "kernels/cpu/matmul_avx512.h"
#include "kernels/cpu/vexp.h"
#include "kernels/cpu/wpanel.h"

/* Row r of table (D columns, in its format) into dst: the whole blocks straight into
 * dst through the panel decoder, a padded tail block through a block-sized scratch. */
static void embed_row(float *dst, Weight table, int64_t D, int64_t r, WPanelFn panel_of) {
    const int64_t be = weight_block_elems(table.format) > 0 ? weight_block_elems(table.format)
                                                            : 1;
    const int64_t whole = D / be * be;
    int64_t ld = 0;
    if (whole > 0) {
        const float *p = panel_of(table.data, D, r, 1, 0, whole, dst, &ld);
        if (p != dst) /* fp32: the row itself */
            memcpy(dst, p, (size_t)whole * sizeof(float));
    }
    if (whole < D) {
        float tail[256]; /* the largest block (Q4_K, Q6_K) */
        const float *p = panel_of(table.data, D, r, 1, whole, D - whole, tail, &ld);
        memcpy(dst + whole, p, (size_t)(D - whole) * sizeof(float));
    }
}

void cpu_embed_fwd(void *out, const int32_t *ids, Weight table, int64_t T, int64_t D,
                   int64_t v0, int64_t V) {
    float *o = out;
    const WPanelFn panel_of = cpu_wpanel_fn(table.format, cpu_avx512_usable());
#pragma omp parallel for schedule(static) if (T * D >= CPU_PAR_MIN)
    for (int64_t t = 0; t < T; t++) {
        const int64_t r = (int64_t)ids[t] - v0;
        if (r >= 0 && r < V)
            embed_row(o + t * D, table, D, r, panel_of);
        else
            memset(o + t * D, 0, (size_t)D * sizeof(float));
    }
}

/* The target's column in this range, or -1 when it has none or another rank holds it. */
static int64_t local_col(int32_t target, int64_t V, int64_t v0) {
    const int64_t c = (int64_t)target - v0;
    return target >= 0 && c >= 0 && c < V ? c : -1;
}

/* Max and log-sum-exp of one row, vectorized (vexp.h); the exponentials are summed in
 * fp32 over blocks of 512 (each block sum carries < 512 ulp of its own size) and the
 * blocks in double, as accurate as the simple twin's all-double sum to fp32 output. */
CPU_MULTIVERSION static float row_lse(const float *row, int64_t V) {
    float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
    for (int64_t j = 0; j < V; j++)
        mx = row[j] > mx ? row[j] : mx;
    if (mx == -INFINITY)
        return mx; /* an all -inf row has no softmax: -inf, not NaN */
    double sum = 0.0;
    for (int64_t j0 = 0; j0 < V; j0 += 512) {
        const int64_t j1 = V - j0 < 512 ? V : j0 + 512;
        float block = 0.0f;
#pragma omp simd reduction(+ : block)
        for (int64_t j = j0; j < j1; j++)
            block += vexp(row[j] - mx);
        sum += block;
    }
    return (float)((double)mx + log(sum));
}

void cpu_xent_fwd(float *lse, float *tgt, const void *logits, const int32_t *targets,
                  int64_t T, int64_t V, int64_t v0) {
    const float *lg = logits;
#pragma omp parallel for schedule(static) if (T * V >= CPU_PAR_MIN)
    for (int64_t t = 0; t < T; t++) {
        const float *row = lg + t * V;
        lse[t] = row_lse(row, V);
        const int64_t c = local_col(targets[t], V, v0);
        tgt[t] = c >= 0 ? row[c] : 0.0f;
    }
}

/* drow = g * softmax(row) given the row's lse; may run in place (drow == row). */
CPU_MULTIVERSION static void row_softmax_scaled(float *drow, const float *row, float l,
                                                float g, int64_t V) {
#pragma omp simd
    for (int64_t j = 0; j < V; j++)
        drow[j] = g * vexp(row[j] - l);
}

/* Reads row[j] before writing dl[j] at the same index, so dlogits may be logits. */
void cpu_xent_bwd(void *dlogits, const void *logits, const float *lse,
                  const int32_t *targets, const float *dloss, int64_t T, int64_t V,
                  int64_t v0) {
    float *dl = dlogits;
    const float *lg = logits;
#pragma omp parallel for schedule(static) if (T * V >= CPU_PAR_MIN)
    for (int64_t t = 0; t < T; t++) {
        float *drow = dl + t * V;
        const float g = dloss[t];
        if (targets[t] < 0 || g == 0.0f) {
            memset(drow, 0, (size_t)V * sizeof(float));
            continue;
        }
        row_softmax_scaled(drow, lg + t * V, lse[t], g, V);
        const int64_t c = local_col(targets[t], V, v0);
        if (c >= 0)
            drow[c] -= g;
    }
}

/* The row's largest value (vectorized), then the first column holding it: torch.argmax's
 * lowest index on ties. A NaN is never larger, so a leading NaN stays the answer, as in
 * the simple twin's scan. */
CPU_MULTIVERSION static int64_t row_argmax(const float *row, int64_t V) {
    float mx = row[0];
#pragma omp simd reduction(max : mx)
    for (int64_t j = 1; j < V; j++)
        mx = row[j] > mx ? row[j] : mx;
    for (int64_t j = 0; j < V; j++)
        if (row[j] == mx)
            return j;
    return 0;
}

void cpu_argmax(float *val, int32_t *ids, const void *logits, int64_t T, int64_t V,
                int64_t v0) {
    const float *lg = logits;
#pragma omp parallel for schedule(static) if (T * V >= CPU_PAR_MIN)
    for (int64_t t = 0; t < T; t++) {
        const float *row = lg + t * V;
        const int64_t best = V > 0 ? row_argmax(row, V) : 0;
        val[t] = V > 0 ? row[best] : -INFINITY;
        ids[t] = (int32_t)(v0 + best);
    }
}
