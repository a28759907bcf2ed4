/* io/convert/llama2c_tokenizer.c -- llama2.c tokenizer.bin -> tokenizer.json (see the header).
 * The merges follow transformers' generate_merges(vocab) without scores, which is what
 * LlamaTokenizerFast uses when it converts a SentencePiece BPE model: every split of
 * every piece into two vocabulary pieces, ordered by the merged piece's id, then by the
 * length of the left part (in characters). Scores are read but, like transformers, not
 * used for the order. */
#include "io/convert/llama2c_tokenizer.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/base/strbuf.h"
#include "io/base/strlist.h"
#include "io/base/strmap.h"
#include "io/base/utf8.h"

/* The longest piece max_token_length may announce: a sanity bound against a wrong or
 * corrupt file (real tokenizers stay under a hundred bytes). */
#define L2C_MAX_TOKEN_BYTES (1 << 20)

/* Undoes llama2.c's export: "\n<s>\n" -> "<s>", "\n</s>\n" -> "</s>", ' ' -> U+2581;
 * the piece goes into b (reset first). */
static int piece_from_bin(const char *raw, size_t n, StrBuf *b, Err *err) {
    if (n >= 2 && raw[0] == '\n' && raw[n - 1] == '\n') {
        raw++;
        n -= 2;
    }
    b->n_bytes = 0;
    if (strbuf_reserve(b, n, err) != 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if ((raw[i] == ' ' ? strbuf_append(b, "\xE2\x96\x81", 3, err)
                           : strbuf_append(b, raw + i, 1, err)) != 0)
            return -1;
    return 0;
}

/* The pieces of tokenizer.bin in id order into p (items: UTF-8, ' ' already replaced). */
static int read_bin(const char *path, StrList *p, Err *err) {
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return err_set(err, "%s: cannot open: %s", path, strerror(errno));
    int32_t max_len;
    int rc = 0;
    char *raw = NULL;
    StrBuf piece = {0};
    if (fread(&max_len, 4, 1, f) != 1 || max_len <= 0 || max_len > L2C_MAX_TOKEN_BYTES) {
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
            rc = err_set(err, "%s: piece %lld: truncated header", path, (long long)p->n_items);
            break;
        }
        if (len < 0 || len > max_len) {
            rc = err_set(err, "%s: piece %lld: length %d outside [0, max_token_length %d]",
                         path, (long long)p->n_items, (int)len, (int)max_len);
            break;
        }
        if (raw == NULL || fread(raw, 1, (size_t)len, f) != (size_t)len) {
            rc = err_set(err, "%s: piece %lld: truncated (%d bytes expected)", path,
                         (long long)p->n_items, (int)len);
            break;
        }
        if (!utf8_valid(raw, (size_t)len)) {
            rc = err_set(err, "%s: piece %lld: not valid UTF-8", path, (long long)p->n_items);
            break;
        }
        if (piece_from_bin(raw, (size_t)len, &piece, err) != 0 ||
            strlist_push(p, piece.data, piece.n_bytes, err) != 0) {
            rc = err_prefix(err, "%s: piece %lld: ", path, (long long)p->n_items);
            break;
        }
    }
    strbuf_free(&piece);
    free(raw);
    fclose(f);
    return rc;
}

static json_t *added_token(int id, const char *content) {
    return json_pack("{s:i, s:s, s:b, s:b, s:b, s:b, s:b}", "id", id, "content", content,
                     "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized", 0, "special", 1);
}

/* vocab in id order (a later duplicate piece wins, as a Python dict does) and merges. */
static int build_model(const StrList *p, json_t *model, Err *err) {
    StrMap map;
    if (strmap_init(&map, p->n_items, err) != 0)
        return -1;
    int rc = 0;
    for (int64_t i = 0; i < p->n_items && rc == 0; i++)
        rc = strmap_put(&map, p->items[i], p->n_item_bytes[i], (int32_t)i, err);
    json_t *vocab = json_object(), *merges = json_array();
    for (int64_t i = 0; i < p->n_items && rc == 0; i++)
        if (strmap_get(&map, p->items[i], p->n_item_bytes[i]) == i)
            rc = json_object_set_new(vocab, p->items[i], json_integer(i));
    for (int64_t i = 0; i < p->n_items && rc == 0; i++) {
        const char *s = p->items[i];
        size_t n = p->n_item_bytes[i];
        if (strmap_get(&map, s, n) != i)
            continue;
        /* Splits at every character boundary, left part shortest first. */
        for (size_t k = (size_t)utf8_len((unsigned char)s[0]); k < n && rc == 0;
             k += (size_t)utf8_len((unsigned char)s[k])) {
            if (strmap_get(&map, s, k) < 0 || strmap_get(&map, s + k, n - k) < 0)
                continue;
            json_t *pair = json_array();
            rc = json_array_append_new(pair, json_stringn(s, k)) ||
                 json_array_append_new(pair, json_stringn(s + k, n - k)) ||
                 json_array_append_new(merges, pair);
        }
    }
    strmap_free(&map);
    rc = rc || json_object_set_new(model, "vocab", vocab) ||
         json_object_set_new(model, "merges", merges);
    return rc ? err_set(err, "out of memory building the vocab") : 0;
}

static json_t *build_tokenizer_json(const StrList *p, Err *err) {
    const char *meta = "\xE2\x96\x81";
    json_t *root = json_object();
    json_object_set_new(root, "version", json_string("1.0"));
    json_object_set_new(root, "truncation", json_null());
    json_object_set_new(root, "padding", json_null());
    json_object_set_new(root, "added_tokens", json_pack("[o, o, o]", added_token(0, p->items[0]),
                                                        added_token(1, p->items[1]),
                                                        added_token(2, p->items[2])));
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
                  "single", "SpecialToken", "id", p->items[1], "type_id", 0,
                  "Sequence", "id", "A", "type_id", 0,
                  "pair", "SpecialToken", "id", p->items[1], "type_id", 0,
                  "Sequence", "id", "A", "type_id", 0,
                  "SpecialToken", "id", p->items[1], "type_id", 1,
                  "Sequence", "id", "B", "type_id", 1,
                  "special_tokens", p->items[1], "id", p->items[1], "ids", 1, "tokens", p->items[1]));
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
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (j == NULL)
        return err_set(err, "%s: could not build the JSON", path);
    if (json_dump_file(j, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
        return err_set(err, "%s: cannot write: %s", path, strerror(errno));
    return 0;
}

int l2c_tokenizer_convert(const char *tok_bin_path, int64_t vocab_size, const char *out_dir,
                          Err *err) {
    StrList p = {0};
    if (read_bin(tok_bin_path, &p, err) != 0) {
        strlist_free(&p);
        return -1;
    }
    int rc = 0;
    if (p.n_items != vocab_size || p.n_items < 3) {
        rc = err_set(err, "%s: holds %lld pieces, but the model's vocab_size is %lld",
                     tok_bin_path, (long long)p.n_items, (long long)vocab_size);
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
            "add_eos_token", 0, "bos_token", p.items[1], "eos_token", p.items[2], "unk_token", p.items[0],
            "pad_token", "clean_up_tokenization_spaces", 0, "legacy", 0,
            "use_default_system_prompt", 0, "tokenizer_class", "LlamaTokenizer", "backend",
            "tokenizers");
        rc = write_json(out_dir, "tokenizer_config.json", cfg, err);
        json_decref(cfg);
    }
    strlist_free(&p);
    return rc;
}
