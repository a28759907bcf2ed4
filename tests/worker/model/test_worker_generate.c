/* tests/worker/model/test_worker_generate.c -- the KV-cache decoder against the simplest
 * possible one (re-run the whole sequence through model_forward for every new token and
 * take the argmax of its last logits row), on a tiny random model, with and without an
 * adapter. Exercises what the golden test cannot: prompts split across prefill passes
 * (max_tokens smaller than a prompt), more prompts than slots (waves), stop ids and
 * rows retiring at different steps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "tests/testutil.h"
#include "tests/worker/wtest.h"
#include "worker/model/generate.h"
#include "worker/model/model.h"

#define N_PROMPTS 5
#define MAX_NEW 12
static const int32_t PROMPT_LENS[N_PROMPTS] = {3, 11, 1, 6, 9};

/* Greedy continuation of one prompt by full recomputation. */
static void naive(Model *m, const Lora *l, const int32_t *prompt, int32_t len, int32_t max_new,
                  const int32_t *stop, int32_t n_stop, int32_t *out, int32_t *out_len) {
    const Ops *ops = model_ops(m);
    const int64_t V = model_config(m)->vocab_size;
    int32_t seq[64];
    float ce, *row = malloc((size_t)V * sizeof(float));
    memcpy(seq, prompt, (size_t)len * sizeof(int32_t));
    Err err = {{0}};
    *out_len = 0;
    for (int32_t n = len; *out_len < max_new; n++) {
        tu_check_rc(model_forward(m, l, seq, &n, 1, 0, &ce, &err), "naive fwd", err.msg);
        ops->download(row, (const char *)model_logits(m, NULL) +
                               (size_t)((n - 1) * V) * ops->elem_bytes, V);
        int32_t best = 0;
        for (int32_t v = 1; v < V; v++)
            if (row[v] > row[best])
                best = v;
        seq[n] = best;
        out[(*out_len)++] = best;
        int hit = 0;
        for (int32_t i = 0; i < n_stop; i++)
            hit |= stop[i] == best;
        if (hit)
            break;
    }
    free(row);
}

static int compare_run(Model *ref, Generator *g, const Lora *l, const int32_t *prompts,
                       const int32_t *stop, int32_t n_stop, const char *label) {
    int32_t out[N_PROMPTS * MAX_NEW], lens[N_PROMPTS];
    Err err = {{0}};
    tu_check_rc(gen_run(g, l, prompts, PROMPT_LENS, N_PROMPTS, MAX_NEW, stop, n_stop, out,
                        lens, &err), "gen_run", err.msg);
    int fails = 0, off = 0;
    for (int s = 0; s < N_PROMPTS; s++) {
        int32_t want[MAX_NEW], want_len;
        naive(ref, l, prompts + off, PROMPT_LENS[s], MAX_NEW, stop, n_stop, want, &want_len);
        off += PROMPT_LENS[s];
        int same = lens[s] == want_len;
        for (int i = 0; same && i < want_len; i++)
            same = out[s * MAX_NEW + i] == want[i];
        for (int i = lens[s]; i < MAX_NEW; i++)
            same &= out[s * MAX_NEW + i] == -1;
        if (!same) {
            fails += tu_fail("%s: prompt %d: got %d tokens, want %d", label, s, lens[s],
                             want_len);
            for (int i = 0; i < MAX_NEW; i++)
                printf("   [%d] got %d want %d\n", i, out[s * MAX_NEW + i],
                       i < want_len ? want[i] : -1);
        }
    }
    if (fails == 0)
        tu_note("%s: %d prompts token-identical to full recomputation", label, N_PROMPTS);
    return fails;
}

int main(void) {
    TinySpec spec = {.L = 2, .D = 16, .H = 4, .KVH = 2, .HD = 8, .F = 24, .V = 40,
                     .max_pos = 64, .qkv_bias = 0, .tie = 1, .seed = 5};
    const char *dir = tu_path(tu_tmp_dir(), "gen_llama");
    wt_make_tiny_model(dir, &spec);
    const Ops *ops = ops_cpu();
    Err err = {{0}};
    /* max_tokens 8 < the 11-token prompt: prefill must split it across passes */
    ModelOptions mo = {.max_tokens = 8, .max_seqs = 4, .max_train_tokens = -1};
    Model *m = model_open(dir, ops, &mo, &err);
    tu_check_rc(m == NULL, "model_open", err.msg);
    Generator *g = gen_open(m, 3, 32, &err); /* 3 slots < 5 prompts: two waves */
    tu_check_rc(g == NULL, "gen_open", err.msg);
    ModelOptions mo_ref = {.full_logits = 1, .max_tokens = 64, .max_seqs = 1, .max_train_tokens = -1};
    Model *ref = model_open(dir, ops, &mo_ref, &err); /* the naive decoder's model */
    tu_check_rc(ref == NULL, "model_open", err.msg);

    int32_t prompts[64];
    wt_random_prompts(prompts, PROMPT_LENS, N_PROMPTS, 99, 40);

    int fails = compare_run(ref, g, NULL, prompts, NULL, 0, "base");
    LoraConfig lc = {.rank = 4, .alpha = 8, .targets = LORA_ALL_TARGETS};
    Lora l;
    tu_check_rc(lora_alloc(&l, &lc, model_config(m), ops, &err), "lora_alloc", err.msg);
    wt_lora_randomize(&l, 3, 0.3f);
    fails += compare_run(ref, g, &l, prompts, NULL, 0, "lora");

    /* stop ids: take tokens the base run emits so some rows retire early */
    int32_t out[N_PROMPTS * MAX_NEW], lens[N_PROMPTS];
    tu_check_rc(gen_run(g, NULL, prompts, PROMPT_LENS, N_PROMPTS, MAX_NEW, NULL, 0, out, lens,
                        &err), "gen_run", err.msg);
    const int32_t stop[2] = {out[0 * MAX_NEW + 4], out[3 * MAX_NEW + 2]};
    fails += compare_run(ref, g, NULL, prompts, stop, 2, "stop");

    /* errors: a prompt that cannot fit its new tokens */
    const int32_t long_len = 30;
    if (gen_run(g, NULL, prompts, &long_len, 1, 8, NULL, 0, out, lens, &err) == 0)
        fails += tu_fail("a prompt of 30 + 8 new tokens in 32 positions was accepted");
    else
        tu_note("refused as expected: %s", err.msg);

    /* bad inputs name what is wrong */
    const int32_t bad_tok[2] = {3, 40}, two = 2;
    float ce;
    if (model_forward(ref, NULL, bad_tok, &two, 1, 0, &ce, &err) == 0 ||
        strstr(err.msg, "outside the vocabulary") == NULL)
        fails += tu_fail("token 40 of a 40-token vocabulary: %s", err.msg);
    if (model_open(tu_path(tu_tmp_dir(), "no_such_model"), ops, NULL, &err) != NULL ||
        strstr(err.msg, "no_such_model") == NULL)
        fails += tu_fail("opening a missing dir: %s", err.msg);
    else
        tu_note("refused as expected: %s", err.msg);

    lora_free(&l);
    gen_close(g);
    model_close(ref);
    model_close(m);
    return tu_report(fails);
}
