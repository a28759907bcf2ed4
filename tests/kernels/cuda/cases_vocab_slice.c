/* tests/kernels/cuda/cases_vocab_slice.c -- the vocabulary-range ops (DESIGN §3) on CUDA
 * against the CPU backend on a slice [v0, v0 + V) of a larger vocabulary (the whole
 * vocabulary, v0 = 0, is cases_xent_argmax and cases_elementwise): awkward V (1, 7,
 * 4097), targets inside and outside the slice and ignored rows (-1), ids outside the
 * slice for the embedding, and argmax ties planted inside the slice. */
#include <stdio.h>
#include <stdlib.h>

#include "tests/kernels/cuda/harness.h"

static int slice_case(int64_t T, int64_t V, int64_t v0) {
    int fails = 0;
    char label[96];
    float *hl = h_rand(T * V, -8, 8), *hdl = malloc((size_t)T * sizeof(float));
    /* targets over the whole vocabulary [0, v0 + V + 50): some fall in the slice */
    int32_t *ht = h_rand_ids(T, 0, (int32_t)(v0 + V + 50));
    for (int64_t t = 0; t < T; t++) {
        hdl[t] = 0.25f + 0.5f * (float)t;
        if (t % 3 == 0)
            ht[t] = (int32_t)(v0 + (t * 7) % V); /* inside the slice */
    }
    if (T > 2)
        ht[1] = -1; /* ignored row */
    Dual lg = dual_new(BUF_ELEM, T * V, hl), tg = dual_new(BUF_I32, T, ht);
    Dual lse = dual_new(BUF_F32, T, NULL), z = dual_new(BUF_F32, T, NULL);
    Dual dl = dual_new(BUF_F32, T, hdl);
    h_cpu->xent_fwd(lse.c, z.c, lg.c, tg.c, T, V, v0);
    h_gpu->xent_fwd(lse.g, z.g, lg.g, tg.g, T, V, v0);
    snprintf(label, sizeof label, "xent_fwd T=%lld V=%lld v0=%lld lse", (long long)T,
             (long long)V, (long long)v0);
    fails += check(label, &lse, -1, TOL_F32);
    fails += check("xent_fwd slice target logit", &z, -1, TOL_EXACT);
    /* the backward against a "whole vocabulary" lse: this slice's lse + 1 */
    float *l = dual_get(&lse, 0);
    for (int64_t t = 0; t < T; t++)
        l[t] += 1.0f;
    dual_set(&lse, l);
    free(l);
    h_cpu->xent_bwd(lg.c, lg.c, lse.c, tg.c, dl.c, T, V, v0); /* in place */
    h_gpu->xent_bwd(lg.g, lg.g, lse.g, tg.g, dl.g, T, V, v0);
    fails += check("xent_bwd slice dlogits (in place)", &lg, -1, TOL_BF16);
    dual_free(&lg), dual_free(&tg), dual_free(&lse), dual_free(&z), dual_free(&dl);
    free(hdl), free(ht);

    /* argmax with a planted tie in row 0 (the lower column wins), then ids are global */
    if (V >= 4)
        hl[2] = hl[V - 1] = 20.0f;
    Dual lg2 = dual_new(BUF_ELEM, T * V, hl), val = dual_new(BUF_F32, T, NULL);
    Dual ids = dual_new(BUF_I32, T, NULL);
    h_cpu->argmax(val.c, ids.c, lg2.c, T, V, v0);
    h_gpu->argmax(val.g, ids.g, lg2.g, T, V, v0);
    fails += check("argmax slice ids (global)", &ids, -1, TOL_EXACT);
    fails += check("argmax slice values", &val, -1, TOL_EXACT);
    dual_free(&lg2), dual_free(&val), dual_free(&ids);
    free(hl);

    /* embedding: ids inside and outside [v0, v0 + V) -> rows or zeros */
    const int64_t D = 67;
    float *tab = h_rand(V * D, -1, 1);
    int32_t *hid = h_rand_ids(T, 0, (int32_t)(v0 + V + 50));
    Dual tb = dual_new(BUF_ELEM, V * D, tab), id = dual_new(BUF_I32, T, hid);
    Dual out = dual_new(BUF_ELEM, T * D, NULL);
    h_cpu->embed_fwd(out.c, id.c, (Weight){tb.c, WEIGHT_ELEM}, T, D, v0, V);
    h_gpu->embed_fwd(out.g, id.g, (Weight){tb.g, WEIGHT_ELEM}, T, D, v0, V);
    fails += check("embed_fwd slice", &out, -1, TOL_EXACT);
    dual_free(&tb), dual_free(&id), dual_free(&out);
    free(tab), free(hid);
    return fails;
}

int cases_vocab_slice(void) {
    int fails = 0;
    fails += slice_case(7, 4097, 4097);
    fails += slice_case(3, 7, 0);
    fails += slice_case(5, 1, 3);
    fails += slice_case(2, 50000, 100000);
    return fails;
}
