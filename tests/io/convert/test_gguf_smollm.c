/* tests/io/convert/test_gguf_smollm.c -- the real instruction-tuned model of ../shared,
 * SmolLM2-135M-Instruct as llama.cpp's Q4_1 GGUF, through `tlm convert gguf` and the
 * engine, against tests/data/gguf/smollm2.json (tests/ref/make_gguf_golden.py: the gguf
 * package's dequantization with transformers' q/k un-permutation, and transformers' GGUF
 * model in float64): every tensor bit-identical (checksum; 16 sampled values reported on
 * a mismatch), the per-sample CE of 16 chat-templated medical prompts within 1e-4, and
 * greedy generation of 8 prompts x 32 tokens identical. The tokenizer has its own golden
 * (test_tok_golden_smollm2). Exits 77 without ../shared. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/base/vec.h"
#include "io/convert/gguf_convert.h"
#include "kernels/ops.h"
#include "tests/io/convert/gguf_check.h"
#include "tests/testutil.h"
#include "worker/model/generate.h"
#include "worker/model/model.h"

#define N_NEW 32

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int check_greedy(const char *dir, const json_t *cases) {
    const int32_t n = (int32_t)json_array_size(cases);
    int32_t *lens = calloc((size_t)n, sizeof *lens), *out = malloc((size_t)n * N_NEW * 4);
    int32_t *out_lens = calloc((size_t)n, sizeof *out_lens), *prompts = NULL;
    int64_t total = 0, cap = 0;
    for (int32_t s = 0; s < n; s++) {
        const json_t *ids = json_object_get(json_array_get(cases, (size_t)s), "ids");
        lens[s] = (int32_t)json_array_size(ids);
        if (VEC_RESERVE(prompts, cap, total + lens[s], NULL) != 0)
            return tu_fail("out of memory");
        for (int32_t i = 0; i < lens[s]; i++)
            prompts[total++] = (int32_t)json_integer_value(json_array_get(ids, (size_t)i));
    }
    Err err = {{0}};
    ModelOptions mo = {.max_tokens = 1024, .max_seqs = n, .max_train_tokens = -1,
                       .max_pos = 512};
    Model *m = model_open(dir, ops_cpu(), &mo, &err);
    Generator *g = m != NULL ? gen_open(m, n, 256, &err) : NULL;
    int fails = 0, n_same = 0;
    if (g == NULL || gen_run(g, NULL, prompts, lens, n, N_NEW, NULL, 0, out, out_lens, &err)) {
        printf("FAIL: generation: %s\n", err.msg);
        fails++;
    }
    for (int32_t s = 0; s < n && fails == 0; s++) {
        const json_t *want = json_object_get(json_array_get(cases, (size_t)s), "output");
        int same = out_lens[s] == N_NEW;
        for (int k = 0; same && k < N_NEW; k++)
            same = out[s * N_NEW + k] == json_integer_value(json_array_get(want, (size_t)k));
        n_same += same;
        if (!same) {
            printf("FAIL: greedy prompt %d:", s);
            for (int k = 0; k < out_lens[s]; k++)
                printf(" %d/%lld", out[s * N_NEW + k],
                       (long long)json_integer_value(json_array_get(want, (size_t)k)));
            printf("\n");
            fails++;
        }
    }
    printf("greedy: %d of %d prompts x %d tokens identical to transformers (float64)\n", n_same,
           n, N_NEW);
    gen_close(g);
    model_close(m);
    free(lens);
    free(out);
    free(out_lens);
    free(prompts);
    return fails;
}

int main(void) {
    const char *shared = tu_shared_dir();
    if (shared == NULL)
        tu_skip("../shared is absent (SmolLM2-135M-Instruct lives there)");
    const char *gguf =
        tu_path(shared, "models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf");
    json_error_t jerr;
    json_t *doc = json_load_file(tu_path(tu_source_dir(), "tests/data/gguf/smollm2.json"), 0,
                                 &jerr);
    if (doc == NULL) {
        printf("FAIL: smollm2.json: %s\n", jerr.text);
        return 1;
    }
    const char *dir = tu_path(tu_tmp_dir(), "gguf_smollm2");
    Err err = {{0}};
    GgufModel m;
    const double t0 = now_s();
    if (gguf_convert(gguf, dir, DTYPE_F32, &m, NULL, &err) != 0) {
        printf("FAIL: %s\n", err.msg);
        return 1;
    }
    printf("converted %s in %.2f s\n", gguf, now_s() - t0);
    int fails = gc_check_tensors(dir, json_object_get(doc, "tensors"), "f32");
    const json_t *ce = json_object_get(doc, "ce");
    double d;
    fails += gc_check_ce(dir, json_object_get(ce, "ids"), json_object_get(ce, "ce"), 1e-4, &d);
    fails += check_greedy(dir, json_object_get(json_object_get(doc, "gen"), "cases"));
    json_decref(doc);
    printf("%s: %d failure(s)\n", fails ? "FAILED" : "PASSED", fails);
    return fails != 0;
}
