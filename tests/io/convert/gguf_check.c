/* tests/io/convert/gguf_check.c -- see gguf_check.h. */
#include "tests/io/convert/gguf_check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/model/safetensors.h"
#include "io/text/tokenizer.h"
#include "kernels/ops.h"
#include "worker/model/model.h"

uint64_t gc_wsum64(const void *data, int64_t n, int elem_bytes) {
    const unsigned char *p = data;
    uint64_t h = 0;
    for (int64_t i = 0; i < n; i++) {
        uint64_t bits = 0;
        memcpy(&bits, p + (size_t)i * (size_t)elem_bytes, (size_t)elem_bytes);
        h += bits * (((uint64_t)i * 0x9E3779B97F4A7C15ull) | 1u);
    }
    return h;
}

static int check_one(const StDir *sd, const char *name, const json_t *w, const char *key) {
    const json_t *shape = json_object_get(w, "shape");
    int64_t dims[ST_MAX_DIMS] = {0};
    const int nd = (int)json_array_size(shape);
    for (int d = 0; d < nd; d++)
        dims[d] = json_integer_value(json_array_get(shape, (size_t)d));
    StTensor t;
    Err err = {{0}};
    if (st_dir_get(sd, name, nd, dims, &t, &err) != 0) {
        printf("FAIL: %s\n", err.msg);
        return 1;
    }
    const int eb = strcmp(key, "bf16") == 0 ? 2 : 4;
    if (t.dtype != (eb == 2 ? DTYPE_BF16 : DTYPE_F32)) {
        printf("FAIL: %s: dtype %s\n", name, dtype_name(t.dtype));
        return 1;
    }
    const int64_t n = (int64_t)t.n_bytes / eb;
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)gc_wsum64(t.data, n, eb));
    if (strcmp(hex, json_string_value(json_object_get(w, key))) == 0)
        return 0;
    printf("FAIL: tensor %s: checksum %s, want %s\n", name, hex,
           json_string_value(json_object_get(w, key)));
    const json_t *at = json_object_get(w, "at"), *vals = json_object_get(w, "values");
    for (size_t k = 0; eb == 4 && k < json_array_size(at); k++) {
        float g;
        memcpy(&g, (const char *)t.data + 4 * json_integer_value(json_array_get(at, k)), 4);
        printf("    [%lld] got %.9g want %.9g\n", (long long)json_integer_value(json_array_get(at, k)),
               g, json_real_value(json_array_get(vals, k)));
    }
    return 1;
}

int gc_check_tensors(const char *dir, const json_t *want, const char *key) {
    Err err = {{0}};
    StDir *sd = st_dir_open(dir, &err);
    if (sd == NULL) {
        printf("FAIL: %s\n", err.msg);
        return 1;
    }
    int fails = 0, n = 0;
    const char *name;
    const json_t *w;
    json_object_foreach((json_t *)want, name, w) {
        fails += check_one(sd, name, w, key);
        n++;
    }
    int64_t n_file = 0;
    for (int f = 0; f < st_dir_n_files(sd); f++)
        n_file += st_count(st_dir_file(sd, f));
    if (n_file != n) {
        printf("FAIL: %s holds %lld tensors, the reference %d\n", dir, (long long)n_file, n);
        fails++;
    }
    printf("%s: %d tensors (%s) %s the reference's checksums\n", dir, n, key,
           fails ? "DIFFER from" : "bit-identical to");
    st_dir_close(sd);
    return fails;
}

int gc_check_ce(const char *dir, const json_t *seqs, const json_t *want, double atol,
                double *max_diff) {
    Err err = {{0}};
    ModelOptions mo = {.max_tokens = 1024, .max_seqs = 2, .max_train_tokens = -1};
    Model *m = model_open(dir, ops_cpu(), &mo, &err);
    if (m == NULL) {
        printf("FAIL: model_open: %s\n", err.msg);
        return 1;
    }
    int fails = 0;
    *max_diff = 0;
    for (size_t s = 0; s < json_array_size(seqs); s++) {
        const json_t *ids = json_array_get(seqs, s);
        const int32_t len = (int32_t)json_array_size(ids);
        int32_t *tok = malloc((size_t)len * sizeof *tok);
        for (int32_t i = 0; i < len; i++)
            tok[i] = (int32_t)json_integer_value(json_array_get(ids, (size_t)i));
        float ce = NAN;
        if (model_forward(m, NULL, tok, &len, 1, 0, &ce, &err) != 0) {
            printf("FAIL: model_forward: %s\n", err.msg);
            fails++;
        }
        const double w = json_real_value(json_array_get(want, s)), d = fabs(ce - w);
        *max_diff = d > *max_diff || isnan(d) ? d : *max_diff;
        if (!(d <= atol)) {
            printf("FAIL: sequence %zu (%d tokens): ce %.7f, want %.7f (|d| %.2e > %.0e)\n", s,
                   len, ce, w, d, atol);
            fails++;
        }
        free(tok);
    }
    printf("%s: %zu sequences, ce max |d| %.2e vs float64 (tolerance %.0e)\n", dir,
           json_array_size(seqs), *max_diff, atol);
    model_close(m);
    return fails;
}

int gc_check_tok(const char *dir, const json_t *strings, const json_t *ids) {
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    Err err = {{0}};
    Tokenizer *tok = tok_open(path, &err);
    if (tok == NULL) {
        printf("FAIL: %s\n", err.msg);
        return 1;
    }
    int bad = 0;
    for (size_t i = 0; i < json_array_size(strings); i++) {
        const json_t *s = json_array_get(strings, i), *want = json_array_get(ids, i);
        int32_t *got = NULL;
        int64_t n = 0;
        int same = tok_encode(tok, json_string_value(s), json_string_length(s), 0, &got, &n,
                              &err) == 0 && (size_t)n == json_array_size(want);
        for (int64_t k = 0; same && k < n; k++)
            same = got[k] == json_integer_value(json_array_get(want, (size_t)k));
        if (!same && bad++ < 3)
            printf("FAIL: %s: string %zu tokenizes differently\n", dir, i);
        free(got);
    }
    printf("%s: %zu strings, %d tokenized differently from transformers\n", dir,
           json_array_size(strings), bad);
    tok_close(tok);
    return bad;
}
