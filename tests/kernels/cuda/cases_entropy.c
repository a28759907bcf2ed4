/* tests/kernels/cuda/cases_entropy.c -- test_ops_cuda cases for entropy_fwd / entropy_bwd (the
 * tent, eata and come objectives): CUDA against CPU on bf16-representable logits with
 * awkward vocabularies (1, 7, 4097, 32001), masked rows, a row with dent 0, extra = -inf
 * (softmax entropy) and log V (COME's opinion), with and without the radial constraint,
 * and the backward in place over the logits as the worker runs it. ent and lse are fp32
 * statistics of identical inputs (TOL_F32); dlogits are bf16 (TOL_BF16). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/kernels/cuda/harness.h"

int cases_entropy(void) {
    static const int64_t cfg[][4] = {/* T, V, come (extra log V), radial */
                                     {3, 1, 0, 0},    {9, 7, 0, 0},     {9, 7, 1, 1},
                                     {6, 4097, 0, 0}, {6, 4097, 1, 1},  {5, 32001, 0, 1},
                                     {5, 32001, 1, 0}};
    int fails = 0;
    for (int c = 0; c < (int)(sizeof cfg / sizeof cfg[0]); c++) {
        const int64_t T = cfg[c][0], V = cfg[c][1];
        const float extra = cfg[c][2] ? logf((float)V) : -INFINITY;
        const int radial = (int)cfg[c][3];
        float *hz = h_rand(T * V, -6, 6), *hd = malloc((size_t)T * sizeof *hd);
        int32_t *hm = malloc((size_t)T * sizeof *hm);
        for (int64_t t = 0; t < T; t++) {
            hm[t] = t % 4 != 1;
            hd[t] = hm[t] && t != 2 ? h_uniform(0.2f, 1.5f) : 0.0f;
        }
        if (V > 1)
            hz[V + 0] = 30.0f; /* row 1 peaked (masked when T > 1: must stay 0) */
        if (T > 3 && V > 1)
            hz[3 * V + 5] = 25.0f; /* row 3 peaked, scored */
        Dual z = dual_new(BUF_ELEM, T * V, hz), m = dual_new(BUF_I32, T, hm);
        Dual ent = dual_new(BUF_F32, T, NULL), lse = dual_new(BUF_F32, T, NULL);
        Dual dent = dual_new(BUF_F32, T, hd);
        h_cpu->entropy_fwd(ent.c, lse.c, z.c, m.c, extra, T, V);
        h_gpu->entropy_fwd(ent.g, lse.g, z.g, m.g, extra, T, V);
        char label[96];
        snprintf(label, sizeof label, "entropy_fwd T=%lld V=%lld%s ent", (long long)T,
                 (long long)V, cfg[c][2] ? " +logV" : "");
        fails += check(label, &ent, -1, TOL_F32);
        fails += check("entropy_fwd lse", &lse, -1, TOL_F32);
        /* backward from the CPU's statistics on both sides, so only the op differs */
        float *lc = dual_get(&lse, 0), *ec = dual_get(&ent, 0);
        dual_set(&lse, lc);
        dual_set(&ent, ec);
        h_cpu->entropy_bwd(z.c, z.c, lse.c, ent.c, dent.c, extra, radial, T, V);
        h_gpu->entropy_bwd(z.g, z.g, lse.g, ent.g, dent.g, extra, radial, T, V);
        snprintf(label, sizeof label, "entropy_bwd in place%s", radial ? " radial" : "");
        fails += check(label, &z, -1, TOL_BF16);
        free(lc), free(ec), free(hz), free(hd), free(hm);
        dual_free(&z), dual_free(&m), dual_free(&ent), dual_free(&lse), dual_free(&dent);
    }
    return fails;
}
