/* tests/worker/loop/test_ttl_golden.c -- the TTL loop's update path against the golden 20-step
 * online run of tests/ref/make_golden.py (PyTorch + transformers + PEFT in float64):
 * the 20 samples of ttl.tokens/ttl.seq_lens go through ttl_core_epoch (worker/loop/ttl.h) as
 * ONE stream batch of 20 with batch_size 1 and constant lr, the method table's tlm
 * entry, the adapter from ttl.init.<key>. Checks: identical selections, per-sample ce
 * within 1e-5 absolute, weights within 1e-5 relative, and every tensor of the final
 * adapter within 1e-4 norm-wise relative of ttl.final.<key>. Cases: argv[1..] (default
 * llama_gqa qwen2_bias). Exit status = number of failures. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "tests/testutil.h"
#include "tests/worker/wtest.h"
#include "worker/loop/ttl.h"

static double meta_num(json_t *meta, const char *key, double def) {
    json_t *v = json_object_get(json_object_get(meta, "ttl"), key);
    return json_is_number(v) ? json_number_value(v) : def;
}

static uint32_t meta_targets(json_t *meta) {
    json_t *a = json_object_get(json_object_get(meta, "ttl"), "lora_targets");
    uint32_t bits = 0;
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        const int t = lora_target_parse(json_string_value(v));
        if (t >= 0)
            bits |= LORA_BIT(t);
    }
    return bits != 0 ? bits : LORA_BIT(LORA_Q) | LORA_BIT(LORA_V);
}

static int run_case(const char *name) {
    const char *dir = tu_path(tu_path(tu_source_dir(), "tests/data/golden"), name);
    char meta_path[4096];
    snprintf(meta_path, sizeof meta_path, "%s/golden.json", dir);
    json_error_t jerr;
    json_t *meta = json_load_file(meta_path, 0, &jerr);
    if (meta == NULL)
        return tu_fail("%s: %s", meta_path, jerr.text);
    Err err = {{0}};
    const Ops *ops = ops_cpu();
    Model *m = model_open(dir, ops, NULL, &err);
    tu_check_rc(m == NULL, "model_open", err.msg);
    SafeTensors *st = wt_st_open(tu_path(dir, "golden.safetensors"));
    int64_t n_tok, n;
    int32_t *tok = wt_get_i32(st, "ttl.tokens", -1, &n_tok);
    int32_t *lens = wt_get_i32(st, "ttl.seq_lens", -1, &n);
    float *w_ce = wt_get_f32(st, "ttl.ce", n, NULL);
    float *w_weight = wt_get_f32(st, "ttl.weight", n, NULL);
    int32_t *w_sel = wt_get_i32(st, "ttl.selected", n, NULL);
    int64_t *off = malloc((size_t)n * sizeof *off);
    int32_t max_len = 0;
    for (int64_t i = 0, o = 0; i < n; o += lens[i++]) {
        off[i] = o;
        max_len = lens[i] > max_len ? lens[i] : max_len;
    }

    LoraConfig lc = {.rank = (int32_t)meta_num(meta, "lora_r", 8),
                     .alpha = (float)meta_num(meta, "lora_alpha", 16),
                     .targets = meta_targets(meta)};
    Lora l;
    tu_check_rc(lora_alloc(&l, &lc, model_config(m), ops, &err), "lora_alloc", err.msg);
    tu_check_rc(lora_load(&l, tu_path(dir, "golden.safetensors"), "ttl.init.", &err),
                "lora_load", err.msg);
    const MethodParams mp = {.threshold = meta_num(meta, "threshold", 3.0),
                             .lamb = meta_num(meta, "lamb", 0.1), .offline = 0};
    TtlCoreConfig cc = {.batch_size = 1, .max_len = max_len, .lr = meta_num(meta, "lr", 5e-5),
                        .cosine = 0, .warmup_ratio = 0, .optim = optim_defaults()};
    cc.optim.max_grad_norm = meta_num(meta, "max_grad_norm", 1.0);
    TtlCore core;
    tu_check_rc(ttl_core_init(&core, m, &l, method_find("tlm"), &mp, &cc, NULL, &err),
                "ttl_core_init", err.msg);
    /* one stream batch of n samples: a fresh schedule and AdamW state, as the reference */
    ttl_core_begin(&core, n, 1);
    TtlSamples b = {.n = (int32_t)n, .tokens = tok, .off = off, .lens = lens};
    TtlScore *sc = calloc((size_t)n, sizeof *sc);
    tu_check_rc(ttl_core_epoch(&core, &b, sc, &err), "ttl_core_epoch", err.msg);

    int fails = 0, n_sel = 0;
    double e_ce = 0, e_w = 0;
    for (int64_t i = 0; i < n; i++) {
        if ((sc[i].selected != 0) != (w_sel[i] != 0))
            fails += tu_fail("%s sample %lld: selected %d, golden %d (ce %.7g, golden %.7g)",
                             name, (long long)i, sc[i].selected, w_sel[i], sc[i].ce, w_ce[i]);
        n_sel += sc[i].selected;
        const double d = fabs((double)sc[i].ce - w_ce[i]);
        e_ce = d > e_ce ? d : e_ce;
        if (sc[i].selected) {
            const double r = fabs((double)sc[i].weight - w_weight[i]) / fabs((double)w_weight[i]);
            e_w = r > e_w ? r : e_w;
        }
        if (sc[i].step != i + 1 || sc[i].tokens != lens[i])
            fails += tu_fail("%s sample %lld: step %lld tokens %d, want %lld and %d", name,
                             (long long)i, (long long)sc[i].step, sc[i].tokens,
                             (long long)i + 1, lens[i]);
    }
    if (!(e_ce <= 1e-5) || !(e_w <= 1e-5))
        fails += tu_fail("%s: ce max abs err %.3g, weight max rel err %.3g (limit 1e-5)", name,
                         e_ce, e_w);
    const double e_final = wt_adapter_err(&l, st, "ttl.final");
    if (!(e_final <= 1e-4))
        fails += tu_fail("%s: final adapter norm-wise rel err %.3g > 1e-4", name, e_final);
    if (core.step != n || core.opt.step != n)
        fails += tu_fail("%s: %lld steps and %lld AdamW steps, want %lld each (unselected "
                         "samples still step)", name, (long long)core.step,
                         (long long)core.opt.step, (long long)n);
    if (fails == 0)
        tu_note("%s: %lld samples through ttl_core_epoch, %d selected (identical); max err: "
                "ce %.2e abs, weight %.2e rel; final adapter %.2e norm-wise rel", name,
                (long long)n, n_sel, e_ce, e_w, e_final);
    ttl_core_free(&core);
    lora_free(&l);
    model_close(m);
    st_close(st);
    json_decref(meta);
    free(tok);
    free(lens);
    free(off);
    free(w_ce);
    free(w_weight);
    free(w_sel);
    free(sc);
    return fails;
}

int main(int argc, char **argv) {
    static const char *const k_default[] = {"llama_gqa", "qwen2_bias"};
    int fails = 0;
    if (argc > 1)
        for (int i = 1; i < argc; i++)
            fails += run_case(argv[i]);
    else
        for (int i = 0; i < 2; i++)
            fails += run_case(k_default[i]);
    printf("%s: %d failure(s)\n", argv[0], fails);
    return fails == 0 ? 0 : 1;
}
