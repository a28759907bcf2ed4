/* tests/worker/model/test_worker_graph_key.c -- the promise behind the decode step graphs,
 * checked on the CPU (kernels/ops.h graph_begin; CUDA captures a key's ops once and
 * replays them): every step the generator runs under one key enqueues the same ops with
 * the same arguments (pointers and sizes; buffer contents may change), and none of them
 * uploads, downloads or synchronizes. A recording op table wraps the CPU backend: inside
 * a step each op's name and arguments go into a hash, compared across the steps of a key
 * until graph_reset (which gen_run calls: CUDA drops its graphs there). Runs the
 * generator as test_worker_generate does (waves, split prefills, stop ids retiring rows
 * at different steps, with and without an adapter) and checks its tokens equal the plain
 * CPU table's, so the wrapper changes nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "tests/testutil.h"
#include "tests/worker/wtest.h"
#include "worker/model/generate.h"
#include "worker/model/model.h"

#define MAX_KEYS 64

/* The recorder: op calls carry no context, so the wrappers find it here. */
static struct {
    const Ops *in;
    Ops table;
    int in_step;
    uint64_t key, hash;
    uint64_t keys[MAX_KEYS], hashes[MAX_KEYS];
    int n_keys;
    int steps, repeats, mismatches, syncs_in_step;
} g_rec;

static void mix(const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        g_rec.hash = (g_rec.hash ^ b[i]) * 1099511628211ull; /* FNV-1a */
}
#define MIX(x) mix(&(x), sizeof(x))
#define NAME(s) mix(s, sizeof(s) - 1)

static int r_graph_begin(uint64_t key) {
    g_rec.in_step = 1;
    g_rec.key = key;
    g_rec.hash = 14695981039346656037ull;
    return g_rec.in->graph_begin(key);
}

static void r_graph_end(void) {
    g_rec.in->graph_end();
    g_rec.in_step = 0;
    if (g_rec.key == 0)
        return;
    g_rec.steps++;
    for (int i = 0; i < g_rec.n_keys; i++)
        if (g_rec.keys[i] == g_rec.key) {
            g_rec.repeats++;
            if (g_rec.hashes[i] != g_rec.hash) {
                g_rec.mismatches++;
                printf("   key %llu: a step with other ops or arguments than its first\n",
                       (unsigned long long)g_rec.key);
            }
            return;
        }
    if (g_rec.n_keys < MAX_KEYS) {
        g_rec.keys[g_rec.n_keys] = g_rec.key;
        g_rec.hashes[g_rec.n_keys++] = g_rec.hash;
    }
}

static void r_graph_reset(void) {
    g_rec.in->graph_reset();
    g_rec.n_keys = 0;
}

/* what a step must not do: wait for the device or copy to or from the host */
static void no_sync(const char *what) {
    if (g_rec.in_step && g_rec.key != 0) {
        g_rec.syncs_in_step++;
        printf("   key %llu: %s inside the step\n", (unsigned long long)g_rec.key, what);
    }
}
static void r_sync(void) { no_sync("sync"), g_rec.in->sync(); }
static void r_download(float *d, const void *s, int64_t n) {
    no_sync("download"), g_rec.in->download(d, s, n);
}
static void r_download_raw(void *d, const void *s, size_t n) {
    no_sync("download_raw"), g_rec.in->download_raw(d, s, n);
}
static void r_download_async(void *d, const void *s, size_t n) {
    no_sync("download_async"), g_rec.in->download_async(d, s, n);
}
static void r_upload_raw(void *d, const void *s, size_t n) {
    no_sync("upload_raw"), g_rec.in->upload_raw(d, s, n);
}
static void r_upload_async(void *d, const void *s, size_t n) {
    no_sync("upload_async"), g_rec.in->upload_async(d, s, n);
}

/* the ops of a decode step: name and every argument into the step's hash */
static void r_embed_fwd(void *out, const int32_t *ids, Weight t, int64_t T, int64_t D,
                        int64_t v0, int64_t V) {
    NAME("embed_fwd"), MIX(out), MIX(ids), MIX(t.data), MIX(t.format), MIX(T), MIX(D), MIX(v0);
    MIX(V);
    g_rec.in->embed_fwd(out, ids, t, T, D, v0, V);
}
static void r_rmsnorm_fwd(void *out, float *rstd, const void *x, const void *w, int64_t T,
                          int64_t D, float eps) {
    NAME("rmsnorm_fwd"), MIX(out), MIX(rstd), MIX(x), MIX(w), MIX(T), MIX(D), MIX(eps);
    g_rec.in->rmsnorm_fwd(out, rstd, x, w, T, D, eps);
}
static void r_add_rmsnorm_fwd(void *ro, void *out, float *rstd, const void *res,
                              const void *x, const void *w, int64_t T, int64_t D, float eps) {
    NAME("add_rmsnorm_fwd"), MIX(ro), MIX(out), MIX(rstd), MIX(res), MIX(x), MIX(w), MIX(T);
    MIX(D), MIX(eps);
    g_rec.in->add_rmsnorm_fwd(ro, out, rstd, res, x, w, T, D, eps);
}
static void r_wmatmul_fwd(void *out, const void *x, Weight w, const void *bias, int64_t M,
                          int64_t N, int64_t K, int acc) {
    NAME("wmatmul_fwd"), MIX(out), MIX(x), MIX(w.data), MIX(w.format), MIX(bias), MIX(M);
    MIX(N), MIX(K), MIX(acc);
    g_rec.in->wmatmul_fwd(out, x, w, bias, M, N, K, acc);
}
static void r_lora_fwd(void *y, float *h, const void *x, const float *a, const float *b,
                       float scale, int64_t M, int64_t N, int64_t K, int64_t R) {
    NAME("lora_fwd"), MIX(y), MIX(h), MIX(x), MIX(a), MIX(b), MIX(scale), MIX(M), MIX(N);
    MIX(K), MIX(R);
    g_rec.in->lora_fwd(y, h, x, a, b, scale, M, N, K, R);
}
static void r_rope_qk_fwd(void *q, void *k, const int32_t *pos, const float *c,
                          const float *s, int64_t T, int64_t H, int64_t KVH, int64_t HD) {
    NAME("rope_qk_fwd"), MIX(q), MIX(k), MIX(pos), MIX(c), MIX(s), MIX(T), MIX(H), MIX(KVH);
    MIX(HD);
    g_rec.in->rope_qk_fwd(q, k, pos, c, s, T, H, KVH, HD);
}
static void r_rows_scatter(void *d, const int32_t *idx, const void *s, int64_t n, int64_t e) {
    NAME("rows_scatter"), MIX(d), MIX(idx), MIX(s), MIX(n), MIX(e);
    g_rec.in->rows_scatter(d, idx, s, n, e);
}
static void r_rows_gather(void *d, const void *s, const int32_t *idx, int64_t n, int64_t e) {
    NAME("rows_gather"), MIX(d), MIX(s), MIX(idx), MIX(n), MIX(e);
    g_rec.in->rows_gather(d, s, idx, n, e);
}
static void r_attn_fwd(void *out, float *lse, const void *q, const void *k, const void *v,
                       const SeqSpan *sp, int32_t n, int64_t Tq, int64_t H, int64_t KVH,
                       int64_t HD) {
    NAME("attn_fwd"), MIX(out), MIX(lse), MIX(q), MIX(k), MIX(v), MIX(sp), MIX(n), MIX(Tq);
    MIX(H), MIX(KVH), MIX(HD);
    g_rec.in->attn_fwd(out, lse, q, k, v, sp, n, Tq, H, KVH, HD);
}
static void r_swiglu_gu_fwd(void *out, const void *gu, int64_t T, int64_t F) {
    NAME("swiglu_gu_fwd"), MIX(out), MIX(gu), MIX(T), MIX(F);
    g_rec.in->swiglu_gu_fwd(out, gu, T, F);
}
static void r_swiglu_fwd(void *out, const void *g, const void *u, int64_t n) {
    NAME("swiglu_fwd"), MIX(out), MIX(g), MIX(u), MIX(n);
    g_rec.in->swiglu_fwd(out, g, u, n);
}
static void r_argmax(float *val, int32_t *ids, const void *lg, int64_t T, int64_t V,
                     int64_t v0) {
    NAME("argmax"), MIX(val), MIX(ids), MIX(lg), MIX(T), MIX(V), MIX(v0);
    g_rec.in->argmax(val, ids, lg, T, V, v0);
}
static void r_copy(void *d, const void *s, size_t n) {
    NAME("copy"), MIX(d), MIX(s), MIX(n);
    g_rec.in->copy(d, s, n);
}
static void r_zero(void *p, size_t n) {
    NAME("zero"), MIX(p), MIX(n);
    g_rec.in->zero(p, n);
}

static const Ops *recorder(const Ops *in) {
    g_rec.in = in;
    g_rec.table = *in;
    Ops *o = &g_rec.table;
    o->graph_begin = r_graph_begin, o->graph_end = r_graph_end, o->graph_reset = r_graph_reset;
    o->sync = r_sync, o->download = r_download, o->download_raw = r_download_raw;
    o->download_async = r_download_async, o->upload_raw = r_upload_raw;
    o->upload_async = r_upload_async;
    o->embed_fwd = r_embed_fwd, o->rmsnorm_fwd = r_rmsnorm_fwd;
    o->add_rmsnorm_fwd = r_add_rmsnorm_fwd, o->wmatmul_fwd = r_wmatmul_fwd;
    o->lora_fwd = r_lora_fwd, o->rope_qk_fwd = r_rope_qk_fwd, o->rows_scatter = r_rows_scatter;
    o->rows_gather = r_rows_gather, o->attn_fwd = r_attn_fwd;
    o->swiglu_gu_fwd = r_swiglu_gu_fwd, o->swiglu_fwd = r_swiglu_fwd, o->argmax = r_argmax;
    o->copy = r_copy, o->zero = r_zero;
    return o;
}

#define N_PROMPTS 5
#define MAX_NEW 12
static const int32_t PROMPT_LENS[N_PROMPTS] = {3, 11, 1, 6, 9};

/* gen_run on both tables (rec: recorded; plain: the CPU backend itself): same tokens. */
static int run_both(Generator *rec, Generator *plain, const Lora *l, const int32_t *prompts,
                    const int32_t *stop, int32_t n_stop, const char *label) {
    int32_t out[2][N_PROMPTS * MAX_NEW], lens[2][N_PROMPTS];
    Err err = {{0}};
    tu_check_rc(gen_run(rec, l, prompts, PROMPT_LENS, N_PROMPTS, MAX_NEW, stop, n_stop, out[0],
                        lens[0], &err), "gen_run (recorded)", err.msg);
    tu_check_rc(gen_run(plain, l, prompts, PROMPT_LENS, N_PROMPTS, MAX_NEW, stop, n_stop,
                        out[1], lens[1], &err), "gen_run", err.msg);
    if (memcmp(out[0], out[1], sizeof out[0]) != 0 || memcmp(lens[0], lens[1], sizeof lens[0]))
        return tu_fail("%s: the recorded table's tokens differ from the CPU backend's", label);
    return 0;
}

int main(void) {
    TinySpec spec = {.L = 2, .D = 16, .H = 4, .KVH = 2, .HD = 8, .F = 24, .V = 40,
                     .max_pos = 64, .qkv_bias = 0, .tie = 1, .seed = 5};
    const char *dir = tu_path(tu_tmp_dir(), "graph_key_llama");
    wt_make_tiny_model(dir, &spec);
    const Ops *cpu = ops_cpu(), *rec = recorder(cpu);
    Err err = {{0}};
    ModelOptions mo = {.max_tokens = 8, .max_seqs = 4, .max_train_tokens = -1};
    Model *m = model_open(dir, rec, &mo, &err), *mp = model_open(dir, cpu, &mo, &err);
    tu_check_rc(m == NULL || mp == NULL, "model_open", err.msg);
    Generator *g = gen_open(m, 3, 32, &err), *gp = gen_open(mp, 3, 32, &err);
    tu_check_rc(g == NULL || gp == NULL, "gen_open", err.msg);

    int32_t prompts[64];
    wt_random_prompts(prompts, PROMPT_LENS, N_PROMPTS, 99, 40);

    int fails = run_both(g, gp, NULL, prompts, NULL, 0, "base");
    LoraConfig lc = {.rank = 4, .alpha = 8, .targets = LORA_ALL_TARGETS};
    Lora l, lp;
    tu_check_rc(lora_alloc(&l, &lc, model_config(m), rec, &err), "lora_alloc", err.msg);
    tu_check_rc(lora_alloc(&lp, &lc, model_config(mp), cpu, &err), "lora_alloc", err.msg);
    wt_lora_randomize(&l, 3, 0.3f);
    wt_lora_randomize(&lp, 3, 0.3f);
    fails += run_both(g, gp, &l, prompts, NULL, 0, "lora");
    int32_t out[N_PROMPTS * MAX_NEW], lens[N_PROMPTS];
    tu_check_rc(gen_run(gp, NULL, prompts, PROMPT_LENS, N_PROMPTS, MAX_NEW, NULL, 0, out, lens,
                        &err), "gen_run", err.msg);
    const int32_t stop[2] = {out[0 * MAX_NEW + 4], out[3 * MAX_NEW + 2]};
    fails += run_both(g, gp, NULL, prompts, stop, 2, "stop");

    tu_note("%d keyed steps, %d of them repeating a key (replays on CUDA), %d mismatched, "
            "%d syncs or copies inside a step", g_rec.steps, g_rec.repeats, g_rec.mismatches,
            g_rec.syncs_in_step);
    if (g_rec.repeats < 10)
        fails += tu_fail("only %d steps repeated a key: the decode steps are not keyed",
                         g_rec.repeats);
    if (g_rec.mismatches != 0)
        fails += tu_fail("%d steps differ from their key's first (a graph would replay "
                         "stale arguments)", g_rec.mismatches);
    if (g_rec.syncs_in_step != 0)
        fails += tu_fail("%d syncs or host copies inside keyed steps", g_rec.syncs_in_step);
    lora_free(&l);
    lora_free(&lp);
    gen_close(g);
    gen_close(gp);
    model_close(m);
    model_close(mp);
    return tu_report(fails);
}
