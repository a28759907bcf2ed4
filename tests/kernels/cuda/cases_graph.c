/* tests/kernels/cuda/cases_graph.c -- test_ops_cuda cases for the step graph
 * (graph_begin / graph_end / graph_reset) and the pinned asynchronous copies, CUDA
 * against CPU. A decode-shaped step (flash-decoding over a KV cache, whose spans are
 * uploaded each step with upload_async from host_alloc memory, then a cuBLAS matmul and
 * swiglu_gu_fwd) runs 5 times under one key, new q and spans each time: run as is,
 * captured, replayed 3 times; then graph_reset and 2 more (as is, captured again). Every
 * step's output is compared with the CPU's (a replay reading stale inputs fails), and
 * the output downloaded with download_async into pinned memory must equal the ordinary
 * download bit for bit. Under TLM_CUDA_GRAPHS=0 or TLM_CUDA_SYNC=1 no step may replay. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/kernels/cuda/harness.h"

enum { G_B = 3, G_H = 8, G_KVH = 2, G_HD = 64, G_CTX = 40, G_F = 96 };

typedef struct GraphBufs {
    Dual q, kc, vc, att, w, y, out, spans;
    SeqSpan *h_spans;  /* pinned (host_alloc): what upload_async reads */
    uint16_t *h_out;   /* pinned: what download_async writes */
} GraphBufs;

/* One step on one backend; on CUDA between graph_begin and graph_end. */
static void step_ops(const Ops *o, void *att, const void *q, const void *kc, const void *vc,
                     const SeqSpan *spans, const void *w, void *y, void *out) {
    o->attn_fwd(att, NULL, q, kc, vc, spans, G_B, G_B, G_H, G_KVH, G_HD);
    o->matmul_fwd(y, att, w, NULL, G_B, 2 * G_F, G_H * G_HD, 0);
    o->swiglu_gu_fwd(out, y, G_B, G_F);
}

static int graph_step(GraphBufs *b, int step, int want_replay) {
    float *hq = h_rand(G_B * G_H * G_HD, -1, 1);
    dual_set(&b->q, hq);
    for (int s = 0; s < G_B; s++) /* one new token a row, one more cached each step */
        b->h_spans[s] = (SeqSpan){.q_start = s, .q_len = 1, .pos0 = 10 + step + s,
                                  .kv_start = s * G_CTX};
    h_cpu->upload_raw(b->spans.c, b->h_spans, G_B * sizeof(SeqSpan));
    dual_poison(&b->out); /* both sides: a replay that skipped swiglu_gu would show */
    step_ops(h_cpu, b->att.c, b->q.c, b->kc.c, b->vc.c, b->spans.c, b->w.c, b->y.c, b->out.c);

    h_gpu->upload_async(b->spans.g, b->h_spans, G_B * sizeof(SeqSpan));
    const int replay = h_gpu->graph_begin(7);
    if (!replay)
        step_ops(h_gpu, b->att.g, b->q.g, b->kc.g, b->vc.g, b->spans.g, b->w.g, b->y.g,
                 b->out.g);
    h_gpu->graph_end();
    h_gpu->download_async(b->h_out, b->out.g, G_B * G_F * sizeof(uint16_t));
    h_gpu->sync();

    char label[96];
    snprintf(label, sizeof label, "graph step %d (%s) swiglu_gu out", step,
             replay ? "replayed" : "enqueued");
    int fails = check(label, &b->out, -1, TOL_BF16);
    if (replay != want_replay) {
        printf("FAIL graph step %d: graph_begin returned %d, expected %d\n", step, replay,
               want_replay);
        fails++;
    }
    float *got = dual_get(&b->out, 1);
    int differ = 0;
    for (int i = 0; i < G_B * G_F; i++) {
        uint32_t bits = (uint32_t)b->h_out[i] << 16;
        float f;
        memcpy(&f, &bits, sizeof f);
        differ += memcmp(&f, &got[i], sizeof f) != 0;
    }
    if (differ) {
        printf("FAIL graph step %d: download_async differs from download in %d values\n",
               step, differ);
        fails++;
    }
    free(got);
    free(hq);
    return fails;
}

int cases_graph(void) {
    const int64_t kv_n = (int64_t)G_B * G_CTX * G_KVH * G_HD, QD = G_H * G_HD;
    float *hk = h_rand(kv_n, -1, 1), *hv = h_rand(kv_n, -1, 1);
    float *hw = h_rand(2 * G_F * QD, -0.1f, 0.1f);
    GraphBufs b = {
        .q = dual_new(BUF_ELEM, G_B * QD, NULL),
        .kc = dual_new(BUF_ELEM, kv_n, hk),
        .vc = dual_new(BUF_ELEM, kv_n, hv),
        .att = dual_new(BUF_ELEM, G_B * QD, NULL),
        .w = dual_new(BUF_ELEM, 2 * G_F * QD, hw),
        .y = dual_new(BUF_ELEM, G_B * 2 * G_F, NULL),
        .out = dual_new(BUF_ELEM, G_B * G_F, NULL),
        .spans = dual_new(BUF_I32, G_B * 4, NULL),
    };
    Err err;
    b.h_spans = h_gpu->host_alloc(G_B * sizeof(SeqSpan), &err);
    b.h_out = h_gpu->host_alloc(G_B * G_F * sizeof(uint16_t), &err);
    int fails = 0;
    /* graphs off (TLM_CUDA_GRAPHS=0, TLM_CUDA_SYNC=1): every step runs as is */
    const char *g_env = getenv("TLM_CUDA_GRAPHS"), *s_env = getenv("TLM_CUDA_SYNC");
    const int off = (g_env != NULL && strcmp(g_env, "0") == 0) ||
                    (s_env != NULL && strcmp(s_env, "1") == 0);
    if (b.h_spans == NULL || b.h_out == NULL) {
        printf("FAIL host_alloc: %s\n", err.msg);
        fails++;
    } else {
        h_gpu->graph_reset();
        static const int replayed[7] = {0, 0, 1, 1, 1, 0, 0};
        for (int s = 0; s < 7; s++) {
            if (s == 5)
                h_gpu->graph_reset();
            fails += graph_step(&b, s, off ? 0 : replayed[s]);
        }
        h_gpu->graph_reset();
    }
    h_gpu->host_release(b.h_spans);
    h_gpu->host_release(b.h_out);
    Dual *all[] = {&b.q, &b.kc, &b.vc, &b.att, &b.w, &b.y, &b.out, &b.spans};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        dual_free(all[i]);
    free(hk), free(hv), free(hw);
    return fails;
}
