/* tests/io/text/test_tok_golden.c -- encodes every string of tests/data/tok/strings.jsonl and
 * compares the ids with the Hugging Face goldens of tests/ref/make_tok_golden.py; checks
 * decode(encode(s)) == s wherever HF's decode gives s back, and equals HF's decode
 * elsewhere (with and without skip_special for the add_special subset). One program, three tokenizers:
 *   test_tok_golden bytelevel   the committed tests/data/tok/bytelevel.tokenizer.json
 *   test_tok_golden tok512      ../shared stories260K tok512.bin, converted here
 *   test_tok_golden llama2      ../shared Llama 2 tokenizer.bin, converted here
 *   test_tok_golden smollm2     ../shared SmolLM2-135M-Instruct GGUF's vocabulary, converted
 *                               here by gguf_write_tokenizer (goldens: make_gguf_golden.py)
 * The last three exit 77 (skipped) without ../shared. The converted directories stay in the
 * test tmp dir as tok_golden_<name>/ (make_tok_golden.py --tlm-convert-dir can read them). */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/base/vec.h"
#include "io/convert/convert_util.h"
#include "io/convert/gguf_convert.h"
#include "io/convert/llama2c_tokenizer.h"
#include "io/text/tokenizer.h"
#include "tests/testutil.h"

/* snprintf into a 4096-byte path buffer (vsnprintf: paths are bounded by the test dirs). */
static void pathf(char *buf, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, 4096, fmt, ap);
    va_end(ap);
}

typedef struct Golden {
    json_t **items; /* (n) parsed lines */
    int64_t n, cap;
} Golden;

static int read_jsonl(const char *path, Golden *g) {
    size_t n_bytes;
    char *text = tu_read_file(path, &n_bytes);
    if (text == NULL)
        return -tu_fail("cannot read %s", path);
    long line = 0;
    for (char *p = text; *p != '\0';) {
        char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        json_error_t jerr;
        line++;
        json_t *j = json_loadb(p, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (j == NULL) {
            free(text);
            return -tu_fail("%s:%ld: %s", path, line, jerr.text);
        }
        Err err;
        if (VEC_PUSH(g->items, g->n, g->cap, j, &err) != 0) {
            json_decref(j);
            free(text);
            return -tu_fail("%s: %s", path, err.msg);
        }
        p += len + (nl != NULL);
    }
    free(text);
    return 0;
}

static void golden_free(Golden *g) {
    for (int64_t i = 0; i < g->n; i++)
        json_decref(g->items[i]);
    free(g->items);
}

static void print_ids(const char *label, const int32_t *ids, int64_t n, const json_t *want) {
    printf("    %s [", label);
    for (int64_t i = 0; ids != NULL && i < n && i < 40; i++)
        printf("%s%d", i ? "," : "", (int)ids[i]);
    for (size_t i = 0; want != NULL && i < json_array_size(want) && i < 40; i++)
        printf("%s%lld", i ? "," : "", (long long)json_integer_value(json_array_get(want, i)));
    printf("%s]\n", (ids ? n : (int64_t)json_array_size(want)) > 40 ? ",..." : "");
}

/* Checks decode(ids, skip) against the golden row: the string itself when "rt" ("rts"
 * for skip) is true, else the "dec" ("decs") string HF gave. Returns -1 when the row has
 * no such check, 0 when it passes, 1 when it fails (printing the first few). */
static int check_decode(const Tokenizer *tok, const int32_t *ids, int64_t n, int skip,
                        const json_t *s, const json_t *row, long long line, int64_t n_bad) {
    const json_t *rt = json_object_get(row, skip ? "rts" : "rt");
    const json_t *want = json_is_true(rt) ? s : json_object_get(row, skip ? "decs" : "dec");
    if (!json_is_boolean(rt) || !json_is_string(want))
        return -1;
    char *text = NULL;
    Err err = {{0}};
    /* memcmp, not strcmp: some strings hold U+0000, which decode keeps. */
    size_t want_bytes = json_string_length(want);
    int ok = tok_decode(tok, ids, n, skip, &text, &err) == 0 &&
             memcmp(text, json_string_value(want), want_bytes) == 0 && text[want_bytes] == '\0';
    if (!ok && n_bad < 5) {
        char *q = json_dumps(want, JSON_ENCODE_ANY);
        json_t *g = text ? json_string(text) : NULL;
        char *gq = g ? json_dumps(g, JSON_ENCODE_ANY) : NULL;
        printf("  DECODE MISMATCH line %lld (skip_special=%d): want %s got %s %s\n", line, skip,
               q, gq ? gq : "(invalid)", err.msg);
        free(q);
        free(gq);
        json_decref(g);
    }
    free(text);
    return !ok;
}

/* Compares one golden file; returns the number of failures. */
static int64_t check_file(const Tokenizer *tok, const Golden *strings, const char *path,
                          int special, double *seconds, int64_t *n_bytes) {
    Golden gold = {0};
    if (read_jsonl(path, &gold) != 0)
        return 1;
    int64_t bad = 0, bad_rt = 0, n_rt = 0, n_ids = 0;
    for (int64_t i = 0; i < gold.n && i < strings->n; i++) {
        const json_t *s = strings->items[i];
        const json_t *want = json_object_get(gold.items[i], "ids");
        int32_t *ids = NULL;
        int64_t n = 0;
        Err err = {{0}};
        clock_t t0 = clock();
        int rc = tok_encode(tok, json_string_value(s), json_string_length(s), special, &ids, &n,
                            &err);
        *seconds += (double)(clock() - t0) / CLOCKS_PER_SEC;
        *n_bytes += (int64_t)json_string_length(s);
        int same = rc == 0 && (size_t)n == json_array_size(want);
        for (int64_t k = 0; same && k < n; k++)
            same = ids[k] == json_integer_value(json_array_get(want, (size_t)k));
        n_ids += n;
        if (!same) {
            if (bad < 5) {
                char *q = json_dumps(s, JSON_ENCODE_ANY);
                printf("  MISMATCH %s line %lld: %s\n", path, (long long)i + 1, q);
                if (rc != 0)
                    printf("    error: %s\n", err.msg);
                print_ids("got ", ids, n, NULL);
                print_ids("want", NULL, 0, want);
                free(q);
            }
            bad++;
        } else {
            for (int skip = 0; skip <= 1; skip++) {
                int r = check_decode(tok, ids, n, skip, s, gold.items[i], (long long)i + 1,
                                     bad_rt);
                n_rt += r >= 0;
                bad_rt += r > 0;
            }
        }
        free(ids);
    }
    printf("%s: %lld strings, %lld ids, %lld mismatches; %lld decodes checked, %lld "
           "wrong\n", path, (long long)gold.n, (long long)n_ids, (long long)bad,
           (long long)n_rt, (long long)bad_rt);
    if (!special)
        bad += tu_check(gold.n == strings->n, "%s has %lld lines, strings.jsonl %lld", path,
                        (long long)gold.n, (long long)strings->n);
    golden_free(&gold);
    return bad + bad_rt;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_tok_golden bytelevel|tok512|llama2|smollm2\n");
        return 2;
    }
    const char *name = argv[1];
    const char *data = tu_path(tu_source_dir(), "tests/data/tok");
    char data_dir[4096], tok_path[4096], path[4096];
    pathf(data_dir, "%s", data);
    Err err = {{0}};
    if (strcmp(name, "bytelevel") == 0) {
        pathf(tok_path, "%s/bytelevel.tokenizer.json", data_dir);
    } else if (strcmp(name, "smollm2") == 0) {
        const char *shared = tu_shared_dir();
        if (shared == NULL)
            tu_skip("../shared is absent (TLM_SHARED_DIR)");
        char gguf[4096], out_dir[4096];
        pathf(gguf, "%s/models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf", shared);
        pathf(out_dir, "%s/tok_golden_smollm2", tu_tmp_dir());
        Gguf *g = gguf_open(gguf, &err);
        if (g == NULL || conv_make_dirs(out_dir, &err) != 0 ||
            gguf_write_tokenizer(g, out_dir, &err) != 0) {
            printf("FAIL: gguf_write_tokenizer: %s\n", err.msg);
            gguf_close(g);
            return 1;
        }
        gguf_close(g);
        pathf(tok_path, "%s/tokenizer.json", out_dir);
    } else {
        const char *shared = tu_shared_dir();
        if (shared == NULL)
            tu_skip("../shared is absent (TLM_SHARED_DIR)");
        int is512 = strcmp(name, "tok512") == 0;
        char bin[4096], out_dir[4096];
        pathf(bin, "%s/%s", shared,
                 is512 ? "models/stories260K/tok512.bin" : "tokenizers/llama2/tokenizer.bin");
        pathf(out_dir, "%s/tok_golden_%s", tu_tmp_dir(), name);
        tu_check_rc(l2c_tokenizer_convert(bin, is512 ? 512 : 32000, out_dir, &err),
                    "l2c_tokenizer_convert", err.msg);
        pathf(tok_path, "%s/tokenizer.json", out_dir);
    }
    Tokenizer *tok = tok_open(tok_path, &err);
    tu_check_rc(tok == NULL, "tok_open", err.msg);
    Golden strings = {0};
    pathf(path, "%s/strings.jsonl", data_dir);
    if (read_jsonl(path, &strings) != 0)
        return 1;
    double seconds = 0;
    int64_t n_bytes = 0, bad = 0;
    pathf(path, "%s/%s.ids.jsonl", data_dir, name);
    bad += check_file(tok, &strings, path, 0, &seconds, &n_bytes);
    pathf(path, "%s/%s.special.ids.jsonl", data_dir, name);
    bad += check_file(tok, &strings, path, 1, &seconds, &n_bytes);
    printf("%s: encoded %lld bytes in %.3f s (informational)\n", name, (long long)n_bytes,
           seconds);
    golden_free(&strings);
    tok_close(tok);
    return tu_report(bad);
}
