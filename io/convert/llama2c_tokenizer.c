/* io/convert/llama2c_tokenizer.c -- llama2.c tokenizer.bin -> tokenizer.json (see the header).
 * The merges follow transformers' generate_merges(vocab) without scores, which is what
 * LlamaTokenizerFast uses when it converts a SentencePiece BPE model: every split of
 * every piece into two vocabulary pieces, ordered by the merged piece's id, then by the
 * length of the left part (in characters). Scores are read but, like transformers, not
 * used for the order. */
#include "io/convert/llama2c_tokenizer.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/text/tok_internal.h"

typedef struct Pieces {
    char **s;       /* (n) UTF-8, NUL-terminated, ' ' already replaced by U+2581 */
    size_t *bytes;  /* (n) */
    int64_t n;
} Pieces;

static void pieces_free(Pieces *p) {
    for (int64_t i = 0; i < p->n; i++)
        free(p->s[i]);
    free(p->s);
    free(p->bytes);
    memset(p, 0, sizeof *p);
}

/* Undoes llama2.c's export: "\n<s>\n" -> "<s>", "\n</s>\n" -> "</s>", ' ' -> U+2581. */
static char *piece_from_bin(const char *raw, size_t n, size_t *out_bytes) {
    if (n >= 2 && raw[0] == '\n' && raw[n - 1] == '\n') {
        raw++;
        n -= 2;
    }
    TokBuf b = {0};
    for (size_t i = 0; i < n; i++)
        if ((raw[i] == ' ' ? tok_buf_add(&b, "\xE2\x96\x81", 3, NULL)
                           : tok_buf_add(&b, raw + i, 1, NULL)) != 0) {
            tok_buf_free(&b);
            return NULL;
        }
    if (tok_buf_reserve(&b, 0, NULL) != 0)
        return NULL;
    b.data[b.len] = '\0';
    *out_bytes = b.len;
    return b.data;
}

static int read_bin(const char *path, Pieces *p, Err *err) {
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return err_set(err, "%s: cannot open: %s", path, strerror(errno));
    int32_t max_len;
    int rc = 0;
    char *raw = NULL;
    int64_t cap = 0;
    if (fread(&max_len, 4, 1, f) != 1 || max_len <= 0 || max_len > (1 << 20)) {
        fclose(f);
        return err_set(err, "%s: header: missing or bad max_token_length", path);
    }
    raw = malloc((size_t)max_len + 1);
    for (;;) {
        float score;
        int32_t len;
        size_t got = fread(&score, 1, 4, f);
        if (got == 0 && feof(f))
            break;
        if (got != 4 || fread(&len, 4, 1, f) != 1) {
            rc = err_set(err, "%s: piece %lld: truncated header", path, (long long)p->n);
            break;
        }
        if (len < 0 || len > max_len) {
            rc = err_set(err, "%s: piece %lld: length %d outside [0, max_token_length %d]",
                         path, (long long)p->n, (int)len, (int)max_len);
            break;
        }
        if (raw == NULL || fread(raw, 1, (size_t)len, f) != (size_t)len) {
            rc = err_set(err, "%s: piece %lld: truncated (%d bytes expected)", path,
                         (long long)p->n, (int)len);
            break;
        }
        if (!tok_utf8_valid(raw, (size_t)len)) {
            rc = err_set(err, "%s: piece %lld: not valid UTF-8", path, (long long)p->n);
            break;
        }
        if (p->n == cap) {
            cap = cap ? cap * 2 : 1024;
            char **s = realloc(p->s, (size_t)cap * sizeof *s);
            if (s != NULL)
                p->s = s;
            size_t *b = realloc(p->bytes, (size_t)cap * sizeof *b);
            if (b != NULL)
                p->bytes = b;
            if (s == NULL || b == NULL) {
                rc = err_set(err, "out of memory");
                break;
            }
        }
        if ((p->s[p->n] = piece_from_bin(raw, (size_t)len, &p->bytes[p->n])) == NULL) {
            rc = err_set(err, "out of memory");
            break;
        }
        p->n++;
    }
    free(raw);
    fclose(f);
    return rc;
}

static json_t *added_token(int id, const char *content) {
    return json_pack("{s:i, s:s, s:b, s:b, s:b, s:b, s:b}", "id", id, "content", content,
                     "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized", 0, "special", 1);
}

/* vocab in id order (a later duplicate piece wins, as a Python dict does) and merges. */
static int build_model(const Pieces *p, json_t *model, Err *err) {
    TokMap map;
    if (tok_map_init(&map, p->n, err) != 0)
        return -1;
    int rc = 0;
    for (int64_t i = 0; i < p->n && rc == 0; i++)
        rc = tok_map_put(&map, p->s[i], p->bytes[i], (int32_t)i, err);
    json_t *vocab = json_object(), *merges = json_array();
    for (int64_t i = 0; i < p->n && rc == 0; i++)
        if (tok_map_get(&map, p->s[i], p->bytes[i]) == i)
            rc = json_object_set_new(vocab, p->s[i], json_integer(i));
    for (int64_t i = 0; i < p->n && rc == 0; i++) {
        const char *s = p->s[i];
        size_t n = p->bytes[i];
        if (tok_map_get(&map, s, n) != i)
            continue;
        /* Splits at every character boundary, left part shortest first. */
        for (size_t k = (size_t)tok_utf8_len((unsigned char)s[0]); k < n && rc == 0;
             k += (size_t)tok_utf8_len((unsigned char)s[k])) {
            if (tok_map_get(&map, s, k) < 0 || tok_map_get(&map, s + k, n - k) < 0)
                continue;
            json_t *pair = json_array();
            rc = json_array_append_new(pair, json_stringn(s, k)) ||
                 json_array_append_new(pair, json_stringn(s + k, n - k)) ||
                 json_array_append_new(merges, pair);
        }
    }
    tok_map_free(&map);
    rc = rc || json_object_set_new(model, "vocab", vocab) ||
         json_object_set_new(model, "merges", merges);
    return rc ? err_set(err, "out of memory building the vocab") : 0;
}

static json_t *build_tokenizer_json(const Pieces *p, Err *err) {
    const char *meta = "\xE2\x96\x81";
    json_t *root = json_object();
    json_object_set_new(root, "version", json_string("1.0"));
    json_object_set_new(root, "truncation", json_null());
    json_object_set_new(root, "padding", json_null());
    json_object_set_new(root, "added_tokens", json_pack("[o, o, o]", added_token(0, p->s[0]),
                                                        added_token(1, p->s[1]),
                                                        added_token(2, p->s[2])));
    json_object_set_new(root, "normalizer", json_null());
    json_object_set_new(root, "pre_tokenizer",
                        json_pack("{s:s, s:s, s:s, s:b}", "type", "Metaspace", "replacement",
                                  meta, "prepend_scheme", "first", "split", 0));
    json_object_set_new(
        root, "post_processor",
        json_pack("{s:s, s:[{s:{s:s, s:i}}, {s:{s:s, s:i}}],"
                  " s:[{s:{s:s, s:i}}, {s:{s:s, s:i}}, {s:{s:s, s:i}}, {s:{s:s, s:i}}],"
                  " s:{s:{s:s, s:[i], s:[s]}}}",
                  "type", "TemplateProcessing",
                  "single", "SpecialToken", "id", p->s[1], "type_id", 0,
                  "Sequence", "id", "A", "type_id", 0,
                  "pair", "SpecialToken", "id", p->s[1], "type_id", 0,
                  "Sequence", "id", "A", "type_id", 0,
                  "SpecialToken", "id", p->s[1], "type_id", 1,
                  "Sequence", "id", "B", "type_id", 1,
                  "special_tokens", p->s[1], "id", p->s[1], "ids", 1, "tokens", p->s[1]));
    json_object_set_new(
        root, "decoder",
        json_pack("{s:s, s:[{s:s, s:{s:s}, s:s}, {s:s}, {s:s}, {s:s, s:s, s:i, s:i}]}",
                  "type", "Sequence", "decoders",
                  "type", "Replace", "pattern", "String", meta, "content", " ",
                  "type", "ByteFallback", "type", "Fuse",
                  "type", "Strip", "content", " ", "start", 1, "stop", 0));
    json_t *model = json_pack("{s:s, s:n, s:n, s:n, s:n, s:b, s:b, s:b}", "type", "BPE",
                              "dropout", "unk_token", "continuing_subword_prefix",
                              "end_of_word_suffix", "fuse_unk", 1, "byte_fallback", 1,
                              "ignore_merges", 0);
    if (model == NULL || build_model(p, model, err) != 0) {
        json_decref(model);
        json_decref(root);
        return NULL;
    }
    json_object_set_new(root, "model", model);
    return root;
}

static int write_json(const char *dir, const char *name, json_t *j, Err *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (j == NULL)
        return err_set(err, "%s: could not build the JSON", path);
    if (json_dump_file(j, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
        return err_set(err, "%s: cannot write: %s", path, strerror(errno));
    return 0;
}

int l2c_tokenizer_convert(const char *tok_bin_path, int64_t vocab_size, const char *out_dir,
                          Err *err) {
    Pieces p = {0};
    if (read_bin(tok_bin_path, &p, err) != 0) {
        pieces_free(&p);
        return -1;
    }
    int rc = 0;
    if (p.n != vocab_size || p.n < 3) {
        rc = err_set(err, "%s: holds %lld pieces, but the model's vocab_size is %lld",
                     tok_bin_path, (long long)p.n, (long long)vocab_size);
    } else if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
        rc = err_set(err, "%s: cannot create directory: %s", out_dir, strerror(errno));
    }
    json_t *tj = rc == 0 ? build_tokenizer_json(&p, err) : NULL;
    if (rc == 0 && tj == NULL)
        rc = -1;
    if (rc == 0)
        rc = write_json(out_dir, "tokenizer.json", tj, err);
    json_decref(tj);
    if (rc == 0) {
        /* add_bos_token given explicitly so transformers keeps the BOS template too. */
        json_t *cfg = json_pack(
            "{s:b, s:b, s:s, s:s, s:s, s:n, s:b, s:b, s:b, s:s, s:s}", "add_bos_token", 1,
            "add_eos_token", 0, "bos_token", p.s[1], "eos_token", p.s[2], "unk_token", p.s[0],
            "pad_token", "clean_up_tokenization_spaces", 0, "legacy", 0,
            "use_default_system_prompt", 0, "tokenizer_class", "LlamaTokenizer", "backend",
            "tokenizers");
        rc = write_json(out_dir, "tokenizer_config.json", cfg, err);
        json_decref(cfg);
    }
    pieces_free(&p);
    return rc;
}
