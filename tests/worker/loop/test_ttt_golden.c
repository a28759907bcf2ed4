/* tests/worker/loop/test_ttt_golden.c -- one task's training (ttt_train, worker/loop/ttt.h)
 * against tests/ref/make_golden_ttt.py (PyTorch + transformers + PEFT in float64) on the
 * tiny random Llama of tests/data/golden/llama_gqa: the golden file's leave-one-out
 * examples with their output masks, its initial adapter (rank 8 on all seven projections),
 * batch size 2, 3 epochs at a constant lr. Checks every step's loss (1e-4 relative) and
 * every tensor of the trained adapter (1e-4 norm-wise relative). Exit status = failures. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "tests/testutil.h"
#include "tests/worker/wtest.h"
#include "worker/loop/ttt.h"

#define MAX_STEPS 64

typedef struct Losses {
    double v[MAX_STEPS];
    int n;
} Losses;

static void on_step(void *ctx, const TtlStepStats *st) {
    Losses *l = ctx;
    if (l->n < MAX_STEPS)
        l->v[l->n++] = st->loss;
}

static uint32_t meta_targets(json_t *meta) {
    uint32_t bits = 0;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(meta, "lora_targets"), i, v) {
        const int t = lora_target_parse(json_string_value(v));
        bits |= t >= 0 ? LORA_BIT(t) : 0;
    }
    return bits;
}

int main(void) {
    const char *golden = tu_path(tu_source_dir(), "tests/data/golden");
    const char *dir = tu_path(golden, "ttt");
    json_error_t jerr;
    json_t *meta = json_load_file(tu_path(dir, "golden.json"), 0, &jerr);
    if (meta == NULL)
        return tu_report(tu_fail("%s/golden.json: %s", dir, jerr.text));
    Err err = {{0}};
    const Ops *ops = ops_cpu();
    Model *m = model_open(tu_path(golden, "llama_gqa"), ops, NULL, &err);
    tu_check_rc(m == NULL, "model_open", err.msg);
    SafeTensors *st = wt_st_open(tu_path(dir, "golden.safetensors"));
    int64_t n_tok, n, n_steps;
    int32_t *tok = wt_get_i32(st, "ttt.tokens", -1, &n_tok);
    int32_t *lens = wt_get_i32(st, "ttt.seq_lens", -1, &n);
    int32_t *mask32 = wt_get_i32(st, "ttt.mask", n_tok, NULL);
    float *w_loss = wt_get_f32(st, "ttt.loss", -1, &n_steps);
    uint8_t *mask = malloc((size_t)n_tok);
    int64_t *off = malloc((size_t)n * sizeof *off);
    int32_t max_len = 0;
    for (int64_t i = 0; i < n_tok; i++)
        mask[i] = (uint8_t)(mask32[i] != 0);
    for (int64_t i = 0, o = 0; i < n; o += lens[i++]) {
        off[i] = o;
        max_len = lens[i] > max_len ? lens[i] : max_len;
    }
    const double lr = json_number_value(json_object_get(meta, "lr"));
    const int64_t bs = json_integer_value(json_object_get(meta, "batch_size"));
    const int64_t epochs = json_integer_value(json_object_get(meta, "epochs"));
    LoraConfig lc = {.rank = (int32_t)json_integer_value(json_object_get(meta, "lora_r")),
                     .alpha = (float)json_number_value(json_object_get(meta, "lora_alpha")),
                     .targets = meta_targets(meta)};
    Lora l;
    tu_check_rc(lora_alloc(&l, &lc, model_config(m), ops, &err), "lora_alloc", err.msg);
    tu_check_rc(lora_load(&l, tu_path(dir, "golden.safetensors"), "ttt.init.", &err),
                "lora_load", err.msg);
    TtlCoreConfig cc = {.batch_size = bs, .max_len = max_len, .lr = lr,
                        .optim = optim_defaults()};
    const MethodParams mp = {0};
    TtlCore core;
    tu_check_rc(ttl_core_init(&core, m, &l, method_find("ttt"), &mp, &cc, NULL, &err),
                "ttl_core_init", err.msg);
    Losses losses = {.n = 0};
    core.on_step = on_step;
    core.hook_ctx = &losses;
    const TtlSamples s = {.n = (int32_t)n, .tokens = tok, .off = off, .lens = lens,
                          .mask = mask, .content_loss = 1};
    tu_check_rc(ttt_train(&core, &s, epochs, &err), "ttt_train", err.msg);

    int fails = 0;
    double e_loss = 0;
    if (losses.n != n_steps)
        fails += tu_fail("%d steps, golden %lld", losses.n, (long long)n_steps);
    for (int i = 0; i < losses.n && i < n_steps; i++) {
        const double r = fabs(losses.v[i] - w_loss[i]) / fabs((double)w_loss[i]);
        e_loss = r > e_loss || isnan(r) ? r : e_loss;
    }
    const double e_final = wt_adapter_err(&l, st, "ttt.final");
    if (!(e_loss <= 1e-4))
        fails += tu_fail("step loss max rel err %.3g > 1e-4", e_loss);
    if (!(e_final <= 1e-4))
        fails += tu_fail("trained adapter norm-wise rel err %.3g > 1e-4", e_final);
    if (fails == 0)
        tu_note("%lld examples x %lld epochs, batch %lld: %d steps, loss %.4f -> %.4f; max "
                "rel err: step loss %.2e, adapter %.2e", (long long)n, (long long)epochs,
                (long long)bs, losses.n, losses.v[0], losses.v[losses.n - 1], e_loss, e_final);
    ttl_core_free(&core);
    lora_free(&l);
    model_close(m);
    st_close(st);
    json_decref(meta);
    free(tok);
    free(lens);
    free(mask32);
    free(mask);
    free(w_loss);
    free(off);
    return tu_report(fails);
}
