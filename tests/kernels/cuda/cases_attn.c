/* tests/kernels/cuda/cases_attn.c -- test_ops_cuda cases for attention (packed training spans
 * incl. a length-1 span, decode spans with pos0 > 0 reading KV-cache slots, chunks at
 * pos0 > 0, head dims 16/64/80/128/256 and GQA groups 1-4; run in both kernel families),
 * cross-entropy, argmax and the optimizer ops. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/kernels/cuda/harness.h"

static int attn_case(const char *what, const SeqSpan *spans, int32_t n_spans, int64_t Tq,
                     int64_t rows, int64_t H, int64_t KVH, int64_t HD) {
    float *hq = h_rand(Tq * H * HD, -2, 2), *hk = h_rand(rows * KVH * HD, -2, 2);
    float *hv = h_rand(rows * KVH * HD, -1, 1), *hdo = h_rand(Tq * H * HD, -1, 1);
    Dual q = dual_new(BUF_ELEM, Tq * H * HD, hq), k = dual_new(BUF_ELEM, rows * KVH * HD, hk);
    Dual v = dual_new(BUF_ELEM, rows * KVH * HD, hv), dout = dual_new(BUF_ELEM, Tq * H * HD, hdo);
    Dual out = dual_new(BUF_ELEM, Tq * H * HD, NULL), lse = dual_new(BUF_F32, Tq * H, NULL);
    Dual dq = dual_new(BUF_ELEM, Tq * H * HD, NULL), dk = dual_new(BUF_ELEM, rows * KVH * HD, NULL);
    Dual dv = dual_new(BUF_ELEM, rows * KVH * HD, NULL);
    Dual sp = dual_new(BUF_I32, n_spans * 4, spans); /* SeqSpan = 4 x int32 */
    char label[128];
    int fails = 0;
    dual_poison(&out), dual_poison(&lse), dual_poison(&dq); /* overwritten by the ops */
    h_cpu->zero(dk.c, (size_t)dk.n * h_cpu->elem_bytes); /* accumulated: the caller zeroes */
    h_gpu->zero(dk.g, (size_t)dk.n * h_gpu->elem_bytes);
    h_cpu->zero(dv.c, (size_t)dv.n * h_cpu->elem_bytes);
    h_gpu->zero(dv.g, (size_t)dv.n * h_gpu->elem_bytes);
    h_cpu->attn_fwd(out.c, lse.c, q.c, k.c, v.c, sp.c, n_spans, Tq, H, KVH, HD);
    h_gpu->attn_fwd(out.g, lse.g, q.g, k.g, v.g, sp.g, n_spans, Tq, H, KVH, HD);
    snprintf(label, sizeof label, "attn_fwd %s H=%lld KVH=%lld HD=%lld out", what, (long long)H,
             (long long)KVH, (long long)HD);
    fails += check(label, &out, -1, TOL_BF16);
    fails += check("attn_fwd lse", &lse, -1, TOL_F32);
    h_cpu->attn_bwd(dq.c, dk.c, dv.c, dout.c, q.c, k.c, v.c, out.c, lse.c, sp.c, n_spans, Tq, H,
                    KVH, HD);
    h_gpu->attn_bwd(dq.g, dk.g, dv.g, dout.g, q.g, k.g, v.g, out.g, lse.g, sp.g, n_spans, Tq, H,
                    KVH, HD);
    fails += check("attn_bwd dq", &dq, -1, TOL_BF16_BWD);
    fails += check("attn_bwd dk", &dk, -1, TOL_BF16_BWD);
    fails += check("attn_bwd dv", &dv, -1, TOL_BF16_BWD);
    dual_free(&q), dual_free(&k), dual_free(&v), dual_free(&dout), dual_free(&out);
    dual_free(&lse), dual_free(&dq), dual_free(&dk), dual_free(&dv), dual_free(&sp);
    free(hq), free(hk), free(hv), free(hdo);
    return fails;
}

static int attn_dq_gap_case(void);

int cases_attention(void) {
    int fails = 0;
    /* training: packed, kv rows = query rows, one span of length 1 */
    const SeqSpan packed[3] = {{0, 33, 0, 0}, {33, 1, 0, 33}, {34, 70, 0, 34}};
    fails += attn_case("packed 33+1+70", packed, 3, 104, 104, 4, 2, 16);
    fails += attn_case("packed 33+1+70", packed, 3, 104, 104, 6, 3, 64);
    fails += attn_case("packed 33+1+70", packed, 3, 104, 104, 2, 1, 80);
    const SeqSpan two[2] = {{0, 40, 0, 0}, {40, 9, 0, 40}};
    fails += attn_case("packed 40+9", two, 2, 49, 49, 2, 1, 256); /* largest head dim */
    const SeqSpan one[1] = {{0, 300, 0, 0}};
    fails += attn_case("single T=300", one, 1, 300, 300, 8, 2, 128);
    const SeqSpan tiny[1] = {{0, 1, 0, 0}};
    fails += attn_case("single T=1", tiny, 1, 1, 1, 1, 1, 16);
    /* several query and key tiles of the tensor-core kernels, GQA group 4 at head dim 64 */
    const SeqSpan three[3] = {{0, 130, 0, 0}, {130, 257, 0, 130}, {387, 1, 0, 387}};
    fails += attn_case("packed 130+257+1", three, 3, 388, 388, 16, 4, 64);
    /* a 100-row chunk at pos0 70 and a 3-row one at pos0 500 (more keys than Tq: the
     * backward's key-major kernel loops over further key tiles) */
    const SeqSpan chunks[2] = {{0, 100, 70, 0}, {100, 3, 500, 256}};
    fails += attn_case("chunks at pos0 70/500", chunks, 2, 103, 1024, 8, 2, 128);
    /* decoding from a KV cache of 3 slots x 40 rows: one token at pos 37, one at pos 0,
     * and a 5-token chunk at pos 11 */
    const SeqSpan decode[3] = {{0, 1, 37, 0}, {1, 1, 0, 40}, {2, 5, 11, 80}};
    fails += attn_case("decode pos0>0", decode, 3, 7, 120, 8, 2, 128);
    fails += attn_case("decode pos0>0", decode, 3, 7, 120, 4, 4, 64);
    /* decoding proper, one query per span (flash-decoding in the fast family): long and
     * empty caches in slots of 4096 rows, Llama-3-8B's GQA (4 heads per kv head), then
     * an odd head dim without GQA */
    const SeqSpan dec_long[4] = {{0, 1, 999, 0}, {1, 1, 4095, 4096}, {2, 1, 0, 8192},
                                 {3, 1, 2047, 12288}};
    fails += attn_case("decode 1 token, ctx 1000/4096/1/2048", dec_long, 4, 4, 16384, 32, 8, 128);
    const SeqSpan dec_odd[2] = {{0, 1, 300, 0}, {1, 1, 37, 512}};
    fails += attn_case("decode 1 token, ctx 301/38", dec_odd, 2, 2, 1024, 2, 2, 80);
    fails += attn_dq_gap_case();
    return fails;
}

/* dq is overwritten on every row (ops_list.h), also rows no span covers: rows 10..19 of
 * 30 belong to no sequence and must come back 0 on both backends, not the poison. */
static int attn_dq_gap_case(void) {
    const SeqSpan gap[2] = {{0, 10, 0, 0}, {20, 10, 0, 20}};
    const int64_t Tq = 30, H = 4, KVH = 2, HD = 64;
    float *hq = h_rand(Tq * H * HD, -2, 2), *hk = h_rand(Tq * KVH * HD, -2, 2);
    float *hv = h_rand(Tq * KVH * HD, -1, 1), *hdo = h_rand(Tq * H * HD, -1, 1);
    Dual q = dual_new(BUF_ELEM, Tq * H * HD, hq), k = dual_new(BUF_ELEM, Tq * KVH * HD, hk);
    Dual v = dual_new(BUF_ELEM, Tq * KVH * HD, hv), dout = dual_new(BUF_ELEM, Tq * H * HD, hdo);
    Dual out = dual_new(BUF_ELEM, Tq * H * HD, NULL), lse = dual_new(BUF_F32, Tq * H, NULL);
    Dual dq = dual_new(BUF_ELEM, Tq * H * HD, NULL), dk = dual_new(BUF_ELEM, Tq * KVH * HD, NULL);
    Dual dv = dual_new(BUF_ELEM, Tq * KVH * HD, NULL), sp = dual_new(BUF_I32, 8, gap);
    const Dual *outs[3] = {&out, &dk, &dv};
    for (int i = 0; i < 3; i++) { /* defined inputs for the uncovered rows too */
        h_cpu->zero(outs[i]->c, (size_t)outs[i]->n * h_cpu->elem_bytes);
        h_gpu->zero(outs[i]->g, (size_t)outs[i]->n * h_gpu->elem_bytes);
    }
    h_cpu->zero(lse.c, (size_t)lse.n * 4), h_gpu->zero(lse.g, (size_t)lse.n * 4);
    h_cpu->attn_fwd(out.c, lse.c, q.c, k.c, v.c, sp.c, 2, Tq, H, KVH, HD);
    h_gpu->attn_fwd(out.g, lse.g, q.g, k.g, v.g, sp.g, 2, Tq, H, KVH, HD);
    dual_poison(&dq);
    h_cpu->attn_bwd(dq.c, dk.c, dv.c, dout.c, q.c, k.c, v.c, out.c, lse.c, sp.c, 2, Tq, H, KVH, HD);
    h_gpu->attn_bwd(dq.g, dk.g, dv.g, dout.g, q.g, k.g, v.g, out.g, lse.g, sp.g, 2, Tq, H, KVH, HD);
    int fails = check("attn_bwd dq, rows 10..19 in no span", &dq, -1, TOL_BF16_BWD);
    float *got = dual_get(&dq, 1);
    int n_bad = 0;
    for (int64_t i = 10 * H * HD; i < 20 * H * HD; i++)
        n_bad += got[i] != 0.0f;
    printf("%-4s attn_bwd dq rows outside every span are 0 (%d nonzero)\n", n_bad ? "FAIL" : "ok",
           n_bad);
    fails += n_bad != 0;
    free(got);
    dual_free(&q), dual_free(&k), dual_free(&v), dual_free(&dout), dual_free(&out);
    dual_free(&lse), dual_free(&dq), dual_free(&dk), dual_free(&dv), dual_free(&sp);
    free(hq), free(hk), free(hv), free(hdo);
    return fails;
}

int cases_attention_llama(void) {
    const char *sizes = getenv("TLM_OPS_TEST_SIZES");
    if (sizes != NULL && strcmp(sizes, "small") == 0) {
        printf("skip attention at Llama-3-8B sizes (TLM_OPS_TEST_SIZES=small)\n");
        return 0;
    }
    /* two packed sequences, 2048 tokens in all, the second not a multiple of any tile */
    const SeqSpan llama[2] = {{0, 1459, 0, 0}, {1459, 589, 0, 1459}};
    return attn_case("Llama-3-8B packed 1459+589", llama, 2, 2048, 2048, 32, 8, 128);
}

/* The loss the statistics give, lse - target logit on rows with a target (ops_list.h),
 * of one side of the two Duals, host (n), owned-after-return. */
static float *xent_loss(const Dual *lse, const Dual *tgt, const int32_t *targets, int gpu) {
    float *l = dual_get(lse, gpu), *z = dual_get(tgt, gpu);
    for (int64_t t = 0; t < lse->n; t++)
        l[t] = targets[t] >= 0 ? l[t] - z[t] : 0.0f;
    free(z);
    return l;
}

int cases_xent_argmax(void) {
    int fails = 0;
    static const int64_t cfg[][2] = {{7, 4097}, {3, 50000}, {1, 1}}; /* T, V */
    for (int c = 0; c < 3; c++) {
        const int64_t T = cfg[c][0], V = cfg[c][1];
        float *hl = h_rand(T * V, -8, 8), *hdl = malloc((size_t)T * sizeof(float));
        int32_t *ht = h_rand_ids(T, 0, (int32_t)V);
        for (int64_t t = 0; t < T; t++)
            hdl[t] = 0.25f + 0.5f * (float)t;
        if (T > 2) {
            ht[1] = -1;    /* ignored row */
            hdl[2] = 0.0f; /* row with zero upstream gradient */
        }
        Dual lg = dual_new(BUF_ELEM, T * V, hl), tg = dual_new(BUF_I32, T, ht);
        Dual tl = dual_new(BUF_F32, T, NULL), lse = dual_new(BUF_F32, T, NULL);
        Dual dl = dual_new(BUF_F32, T, hdl);
        char label[96];
        /* the whole vocabulary: the range [0, V) */
        h_cpu->xent_fwd(lse.c, tl.c, lg.c, tg.c, T, V, 0);
        h_gpu->xent_fwd(lse.g, tl.g, lg.g, tg.g, T, V, 0);
        float *loss_gpu = xent_loss(&lse, &tl, ht, 1), *loss_cpu = xent_loss(&lse, &tl, ht, 0);
        snprintf(label, sizeof label, "xent_fwd T=%lld V=%lld loss", (long long)T, (long long)V);
        fails += check_host(label, loss_gpu, loss_cpu, T, TOL_F32);
        free(loss_gpu), free(loss_cpu);
        fails += check("xent_fwd lse", &lse, -1, TOL_F32);
        fails += check("xent_fwd target logit", &tl, -1, TOL_EXACT);
        h_cpu->xent_bwd(lg.c, lg.c, lse.c, tg.c, dl.c, T, V, 0); /* in place, as documented */
        h_gpu->xent_bwd(lg.g, lg.g, lse.g, tg.g, dl.g, T, V, 0);
        fails += check("xent_bwd dlogits (in place)", &lg, -1, TOL_BF16);
        dual_free(&lg), dual_free(&tg), dual_free(&tl), dual_free(&lse), dual_free(&dl);
        free(hl), free(hdl), free(ht);
    }
    /* argmax: planted ties (lowest index wins), a maximum at the last index, a flat row;
     * checked against the CPU op and against the planted answers. */
    const int64_t T = 5, V = 4097;
    float *hl = h_rand(T * V, -4, 4);
    hl[1 * V + 100] = hl[1 * V + 3000] = 10.0f;
    hl[2 * V + V - 1] = 10.0f;
    for (int64_t i = 0; i < V; i++)
        hl[3 * V + i] = 1.0f;
    Dual lg = dual_new(BUF_ELEM, T * V, hl), ids = dual_new(BUF_I32, T, NULL);
    Dual val = dual_new(BUF_F32, T, NULL);
    h_cpu->argmax(val.c, ids.c, lg.c, T, V, 0);
    h_gpu->argmax(val.g, ids.g, lg.g, T, V, 0);
    fails += check("argmax T=5 V=4097 vs cpu", &ids, -1, TOL_EXACT);
    fails += check("argmax T=5 V=4097 values vs cpu", &val, -1, TOL_EXACT);
    float *got = dual_get(&ids, 1);
    const float planted[3] = {100.0f, (float)(V - 1), 0.0f};
    fails += check_host("argmax planted ties/last/flat", got + 1, planted, 3, TOL_EXACT);
    free(got);
    dual_free(&lg), dual_free(&ids), dual_free(&val);
    free(hl);
    return fails;
}

int cases_optim(void) {
    int fails = 0;
    const int64_t sizes[] = {1, 3 * 4097 + 5, (1 << 20) + 3};
    for (int s = 0; s < 3; s++) {
        const int64_t n = sizes[s];
        float *hx = h_rand(n, -1, 1);
        Dual x = dual_new(BUF_F32, n, hx);
        double got = 0, want = 0;
        h_gpu->sumsq(&got, x.g, n);
        h_cpu->sumsq(&want, x.c, n);
        const double rel = fabs(got - want) / (fabs(want) + 1e-300);
        const int ok = rel <= 1e-12;
        printf("%-4s sumsq n=%lld got %.17g want %.17g rel %.3g (tol 1e-12)\n",
               ok ? "ok" : "FAIL", (long long)n, got, want, rel);
        fails += !ok;
        h_cpu->scale(x.c, 0.37f, n);
        h_gpu->scale(x.g, 0.37f, n);
        fails += check("scale", &x, -1, TOL_EXACT);
        dual_free(&x);
        free(hx);
    }
    /* five AdamW steps with fresh gradients, weight decay on */
    const int64_t n = 4097;
    float *hp = h_rand(n, -1, 1);
    Dual p = dual_new(BUF_F32, n, hp), g = dual_new(BUF_F32, n, NULL);
    Dual m = dual_new(BUF_F32, n, NULL), v = dual_new(BUF_F32, n, NULL);
    for (int64_t t = 1; t <= 5; t++) {
        float *hg = h_rand(n, -1e-2f, 1e-2f);
        dual_set(&g, hg);
        h_cpu->adamw(p.c, g.c, m.c, v.c, n, 1e-2, 0.9, 0.999, 1e-8, 0.01, t);
        h_gpu->adamw(p.g, g.g, m.g, v.g, n, 1e-2, 0.9, 0.999, 1e-8, 0.01, t);
        free(hg);
    }
    fails += check("adamw 5 steps p", &p, -1, TOL_OPT);
    fails += check("adamw 5 steps m", &m, -1, TOL_OPT);
    fails += check("adamw 5 steps v", &v, -1, TOL_OPT);
    dual_free(&p), dual_free(&g), dual_free(&m), dual_free(&v);
    free(hp);
    return fails;
}
