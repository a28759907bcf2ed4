/* tests/worker/methods/mtest.c -- the method tests' fixture and reference (see mtest.h). The
 * reference shares nothing with worker/methods/method_entropy.c or the entropy ops: it packs the
 * sequences itself, reads the logits of an ordinary forward and takes the entropy in
 * double from its definition. */
#include "tests/worker/methods/mtest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/model/safetensors.h"
#include "tests/testutil.h"
#include "tests/worker/wtest.h"

/* Rewrites dir/model.safetensors with model.norm.weight multiplied by s: every logit is
 * s times the unscaled model's, so s sets how peaked the next-token distributions are. */
static void scale_final_norm(const char *dir, double s) {
    const char *path = tu_path(dir, "model.safetensors");
    SafeTensors *st = wt_st_open(path);
    const int n = st_count(st);
    StOut *outs = calloc((size_t)n, sizeof *outs);
    float **bufs = calloc((size_t)n, sizeof *bufs);
    for (int i = 0; i < n; i++) {
        const StTensor t = st_at(st, i);
        int64_t count = 1;
        for (int d = 0; d < t.ndim; d++)
            count *= t.shape[d];
        bufs[i] = wt_get_f32(st, t.name, count, NULL);
        if (strcmp(t.name, "model.norm.weight") == 0)
            for (int64_t k = 0; k < count; k++)
                bufs[i][k] *= (float)s;
        outs[i] = (StOut){.name = strdup(t.name), .dtype = DTYPE_F32, .ndim = t.ndim,
                          .data = bufs[i]};
        memcpy(outs[i].shape, t.shape, sizeof t.shape);
    }
    st_close(st);
    Err err = {{0}};
    tu_check_rc(st_write(path, outs, n, NULL, 0, &err), "rewriting the tiny model", err.msg);
    for (int i = 0; i < n; i++) {
        free((void *)outs[i].name);
        free(bufs[i]);
    }
    free(outs);
    free(bufs);
}

void mt_open(MtFixture *f, const char *name, double norm_scale) {
    memset(f, 0, sizeof *f);
    const TinySpec spec = {.L = 2, .D = 16, .H = 4, .KVH = 2, .HD = 4, .F = 24, .V = 40,
                           .max_pos = 128, .tie = 1, .seed = 5};
    const char *dir = tu_path(tu_tmp_dir(), name);
    wt_make_tiny_model(dir, &spec);
    scale_final_norm(dir, norm_scale);
    const int64_t T = MT_N * (MT_MAX_LEN + 80);
    ModelOptions mo = {.full_logits = 1, .max_tokens = T, .max_train_tokens = T, .max_seqs = MT_N,
                       .max_pos = 128, .max_lora_rank = 4};
    Err err = {{0}};
    f->m = model_open(dir, ops_cpu(), &mo, &err);
    tu_check_rc(f->m == NULL, "model_open", err.msg);
    f->V = spec.V;
    static const int32_t lens[MT_N] = {6, 9, 4, 12, 7, 5};
    static const int32_t gens[MT_N] = {5, 1, 0, 7, 3, 2}; /* one empty, one of 1 */
    uint64_t s = 99;
    float r[MT_N * MT_MAX_LEN + MT_N * MT_GEN_STRIDE];
    wt_fill(r, sizeof r / sizeof r[0], &s, 3, (double)spec.V);
    int k = 0, t = 0;
    for (int i = 0; i < MT_N; i++) {
        f->lens[i] = lens[i];
        f->gen_lens[i] = gens[i];
        for (int j = 0; j < lens[i]; j++)
            f->tokens[t++] = (int32_t)r[k++];
        for (int j = 0; j < MT_GEN_STRIDE; j++)
            f->gen[i * MT_GEN_STRIDE + j] = j < gens[i] ? (int32_t)r[k++] : -1;
    }
}

void mt_close(MtFixture *f) { model_close(f->m); }

MethodStep mt_step(MtFixture *f, Lora *lora, const MethodParams *p, void *state, int dp_rank) {
    return (MethodStep){.m = f->m, .lora = lora, .p = p, .n = MT_N, .tokens = f->tokens,
                        .lens = f->lens, .gen = f->gen, .gen_lens = f->gen_lens,
                        .gen_stride = MT_GEN_STRIDE, .ce = f->ce, .selected = f->selected,
                        .weight = f->weight, .dce = f->dce, .state = state,
                        .dp_rank = dp_rank};
}

static double row_entropy(const float *z, int64_t V, double extra, double norm0) {
    double nz = 0, mx = extra, s = 0, h = 0;
    for (int64_t j = 0; j < V; j++)
        nz += (double)z[j] * z[j];
    const double sc = norm0 > 0 ? norm0 / sqrt(nz) : 1.0;
    for (int64_t j = 0; j < V; j++)
        mx = fmax(mx, z[j] * sc);
    for (int64_t j = 0; j <= V; j++)
        if (j < V || !isinf(extra))
            s += exp((j < V ? z[j] * sc : extra) - mx);
    for (int64_t j = 0; j <= V; j++)
        if (j < V || !isinf(extra)) {
            const double q = exp((j < V ? z[j] * sc : extra) - mx) / s;
            h -= q > 0 ? q * log(q) : 0.0;
        }
    return h;
}

void mt_ref_entropy(MtFixture *f, const Lora *lora, double extra, const double *norm0,
                    double *norm_out, double *mean, int32_t *n_rows) {
    int32_t seq[MT_N * (MT_MAX_LEN + MT_GEN_STRIDE)], slen[MT_N];
    int t = 0, in = 0;
    for (int i = 0; i < MT_N; i++) {
        const int g = f->gen_lens[i];
        for (int j = 0; j < f->lens[i]; j++)
            seq[t++] = f->tokens[in + j];
        for (int j = 0; j + 1 < g; j++) /* the last answer token is predicted, not fed */
            seq[t++] = f->gen[i * MT_GEN_STRIDE + j];
        slen[i] = f->lens[i] + (g > 1 ? g - 1 : 0);
        in += f->lens[i];
    }
    float ce[MT_N];
    Err err = {{0}};
    tu_check_rc(model_forward(f->m, lora, seq, slen, MT_N, 0, ce, &err), "ref fwd", err.msg);
    const int64_t V = f->V;
    float *lg = malloc((size_t)(t * V) * sizeof *lg);
    model_ops(f->m)->download(lg, model_logits(f->m, NULL), t * V);
    int row = 0;
    for (int i = 0; i < MT_N; i++) {
        const int g = f->gen_lens[i], r0 = row + f->lens[i] - 1;
        double sum = 0;
        for (int j = 0; j < g; j++) {
            const float *z = lg + (int64_t)(r0 + j) * V;
            if (norm_out != NULL) {
                double nz = 0;
                for (int64_t k = 0; k < V; k++)
                    nz += (double)z[k] * z[k];
                norm_out[r0 + j] = sqrt(nz);
            }
            sum += row_entropy(z, V, extra, norm0 != NULL ? norm0[r0 + j] : 0.0);
        }
        mean[i] = g > 0 ? sum / g : 0.0;
        n_rows[i] = g;
        row += slen[i];
    }
    free(lg);
}
