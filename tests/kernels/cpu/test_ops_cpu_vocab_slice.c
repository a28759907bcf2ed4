/* tests/kernels/cpu/test_ops_cpu_vocab_slice.c -- the vocabulary-range CPU ops (DESIGN §3)
 * on slices against the same ops on the whole vocabulary (v0 = 0, V = all; those are
 * checked against independent references in test_ops_cpu_fwd/_grad): the vocabulary of
 * 37 rows cut into uneven slices {0..12}, {13..36}, each slice's results combined as the
 * worker does over tp (worker/model/model_tp.c), must give
 *   embed_fwd exactly (the slices' partial lookups summed);
 *   the loss lse - tgt and the lse of xent_fwd within 1e-6 relative (lse = logsumexp of
 *   the slices' lse; the target logit from the one slice holding it);
 *   xent_bwd's dlogits within 1e-6 relative (each slice against the whole lse);
 *   argmax exactly, including ties planted across the slice boundary (lowest id wins). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "tests/testutil.h"
#include "tests/worker/wtest.h"

enum { T = 6, V = 37, D = 5, NS = 2 };
static const int64_t SLICE0[NS + 1] = {0, 13, V}; /* slice s = [SLICE0[s], SLICE0[s+1]) */

/* Copies columns [c0, c0 + n) of x (rows, V) into out (rows, n). */
static void cols(float *out, const float *x, int64_t rows, int64_t c0, int64_t n) {
    for (int64_t r = 0; r < rows; r++)
        memcpy(out + r * n, x + r * V + c0, (size_t)n * sizeof(float));
}

int main(void) {
    const Ops *o = ops_cpu();
    uint64_t seed = 11;
    float logits[T * V], table[V * D], dl_want[T * V], dl_got[T * V];
    float loss[T], lse[T], tlog[T], am_val[T], dloss[T];
    float emb_want[T * D], emb_got[T * D] = {0};
    int32_t tgt[T] = {0, 12, 13, 36, -1, 20}, ids[T] = {0, 12, 13, 36, 5, 20}, am_want[T];
    wt_fill(logits, T * V, &seed, -4, 4);
    wt_fill(table, V * D, &seed, -1, 1);
    for (int t = 0; t < T; t++)
        dloss[t] = 0.5f + (float)t;
    dloss[5] = 0.0f;                           /* a row with zero upstream gradient */
    logits[1 * V + 12] = logits[1 * V + 13] = 9.0f; /* tie across the slice boundary */
    logits[2 * V + 30] = logits[2 * V + 14] = 9.0f; /* tie inside the second slice */

    /* the whole vocabulary: one range [0, V) */
    o->embed_fwd(emb_want, ids, (Weight){table, WEIGHT_ELEM}, T, D, 0, V);
    o->xent_fwd(lse, tlog, logits, tgt, T, V, 0);
    for (int t = 0; t < T; t++)
        loss[t] = tgt[t] >= 0 ? lse[t] - tlog[t] : 0.0f;
    memcpy(dl_want, logits, sizeof logits);
    o->xent_bwd(dl_want, dl_want, lse, tgt, dloss, T, V, 0);
    o->argmax(am_val, am_want, logits, T, V, 0);

    double s_lse[NS][T], s_tgt[NS][T], best[T];
    int32_t am_got[T];
    for (int s = 0; s < NS; s++) {
        const int64_t v0 = SLICE0[s], n = SLICE0[s + 1] - v0;
        float part[T * V], part_emb[T * D], l[T], z[T], val[T];
        int32_t id[T];
        o->embed_fwd(part_emb, ids, (Weight){table + v0 * D, WEIGHT_ELEM}, T, D, v0, n);
        for (int i = 0; i < T * D; i++)
            emb_got[i] += part_emb[i];
        cols(part, logits, T, v0, n);
        o->xent_fwd(l, z, part, tgt, T, n, v0);
        o->argmax(val, id, part, T, n, v0);
        for (int t = 0; t < T; t++) {
            s_lse[s][t] = l[t];
            s_tgt[s][t] = z[t];
            if (s == 0 || val[t] > best[t]) { /* slices in order: strict > keeps the lowest */
                best[t] = val[t];
                am_got[t] = id[t];
            }
        }
    }
    int fails = 0;
    float loss_got[T], lse_got[T];
    for (int t = 0; t < T; t++) {
        const double mx = fmax(s_lse[0][t], s_lse[1][t]);
        const double l = mx + log(exp(s_lse[0][t] - mx) + exp(s_lse[1][t] - mx));
        lse_got[t] = (float)l;
        loss_got[t] = tgt[t] >= 0 ? (float)(l - s_tgt[0][t] - s_tgt[1][t]) : 0.0f;
    }
    for (int s = 0; s < NS; s++) { /* backward of each slice against the whole lse */
        const int64_t v0 = SLICE0[s], n = SLICE0[s + 1] - v0;
        float part[T * V];
        cols(part, logits, T, v0, n);
        o->xent_bwd(part, part, lse_got, tgt, dloss, T, n, v0);
        for (int t = 0; t < T; t++)
            memcpy(dl_got + t * V + v0, part + t * n, (size_t)n * sizeof(float));
    }
    fails += tu_compare("embed_fwd slices summed", emb_got, emb_want, T * D, 0, 0) != 0;
    fails += tu_compare("xent_fwd slices: loss", loss_got, loss, T, 1e-6, 1e-6) != 0;
    fails += tu_compare("xent_fwd slices: lse", lse_got, lse, T, 1e-6, 1e-6) != 0;
    fails += tu_compare("xent_bwd slices: dlogits", dl_got, dl_want, T * V, 1e-7, 1e-6) != 0;
    for (int t = 0; t < T; t++)
        if (am_got[t] != am_want[t] || best[t] != am_val[t])
            fails += tu_fail("argmax slices row %d: %d (%g), whole-row argmax %d (%g)", t,
                             am_got[t], best[t], am_want[t], am_val[t]);
    if (am_want[1] != 12 || am_want[2] != 14)
        fails += tu_fail("planted ties: argmax %d and %d, expected 12 and 14", am_want[1],
                         am_want[2]);
    printf("%s: %d failure(s)\n", fails ? "FAILED" : "PASSED", fails);
    return fails != 0;
}
