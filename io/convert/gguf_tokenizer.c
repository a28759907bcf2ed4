/* io/convert/gguf_tokenizer.c -- tokenizer.ggml.* metadata written as tokenizer.json and
 * tokenizer_config.json, as transformers' GGUF tokenizer builders do
 * (integrations/gguf/gguf_tokenizer_mapping.py: byte_level_tokenizer, sentencepiece_
 * tokenizer, add_gguf_special_tokens), with two deliberate differences: the pre-tokenizer
 * follows tokenizer.ggml.pre as llama.cpp does (gguf_pretok.c; transformers ignores
 * "smollm" and splits numbers differently from the model), and tokenizer.ggml.add_space_
 * prefix false is honoured (transformers always prepends). Token types: 3 (control)
 * become special added tokens, 4 (user-defined) plain ones; the bos/eos/unk/pad tokens
 * are special too. A byte-level vocabulary keeps tokens already in GPT-2's byte
 * alphabet and respells the others byte by byte. */
#include "io/convert/gguf_convert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/convert/convert_merges.h"
#include "io/convert/convert_util.h"
#include "io/convert/gguf_tokenizer.h"
#include "io/base/strbuf.h"
#include "io/base/strmap.h"
#include "io/base/utf8.h"
#include "io/text/tokenizer.h"

enum { TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4 }; /* llama.cpp's token types */

typedef struct Vocab {
    const Gguf *g;
    int byte_level;          /* tokenizer.ggml.model "gpt2"; else "llama" */
    GgufArr tokens, types, scores, merges;
    int has_types, has_scores, has_merges;
    char **piece;            /* (n) the token as tokenizer.json spells it (owned) */
    float *score;            /* (n) when has_scores */
    int64_t n;
    int64_t bos, eos, unk, pad;
    int add_bos, add_eos, add_space_prefix;
} Vocab;

static void vocab_free(Vocab *v) {
    for (int64_t i = 0; v->piece != NULL && i < v->n; i++)
        free(v->piece[i]);
    free(v->piece);
    free(v->score);
}

/* 1 when every character of s is one of GPT-2's 256 byte characters. */
static int in_byte_alphabet(const char *s, size_t n) {
    for (size_t k = 0; k < n;) {
        int len;
        const int32_t cp = utf8_decode(s + k, n - k, &len);
        if (tok_cp_to_byte(cp) < 0)
            return 0;
        k += (size_t)len;
    }
    return 1;
}

/* Token i as tokenizer.json spells it (owned), or NULL on a bad token (err set). */
static char *spell(const Vocab *v, int64_t i, Err *err) {
    const GgufStr *t = &v->tokens.strs[i];
    if (memchr(t->s, '\0', (size_t)t->n) != NULL || !utf8_valid(t->s, (size_t)t->n)) {
        err_set(err, "%s: key \"tokenizer.ggml.tokens\": token %lld is not valid UTF-8 text",
                gguf_path(v->g), (long long)i);
        return NULL;
    }
    const int keep = !v->byte_level || in_byte_alphabet(t->s, (size_t)t->n);
    char *s = malloc(keep ? (size_t)t->n + 1 : 2 * (size_t)t->n + 1);
    if (s == NULL) {
        err_set(err, "%s: out of memory for the vocabulary", gguf_path(v->g));
        return NULL;
    }
    size_t at = 0;
    if (keep) {
        memcpy(s, t->s, (size_t)t->n);
        at = (size_t)t->n;
    } else {
        for (uint64_t k = 0; k < t->n; k++) {
            char enc[4];
            const int len = utf8_encode(tok_byte_to_cp((unsigned char)t->s[k]), enc);
            memcpy(s + at, enc, (size_t)len);
            at += (size_t)len;
        }
    }
    s[at] = '\0';
    return s;
}

static int opt_arr(const Gguf *g, const char *key, int64_t n, int *has, GgufArr *a, Err *err) {
    *has = gguf_has(g, key);
    if (!*has)
        return 0;
    if (gguf_get_arr(g, key, a, err) != 0)
        return -1;
    if (n >= 0 && a->count != (uint64_t)n)
        return err_set(err, "%s: key \"%s\": %llu entries, expected one per token (%lld)",
                       gguf_path(g), key, (unsigned long long)a->count, (long long)n);
    return 0;
}

static int read_ids(Vocab *v, Err *err) {
    static const char *const keys[4] = {"tokenizer.ggml.bos_token_id",
                                        "tokenizer.ggml.eos_token_id",
                                        "tokenizer.ggml.unknown_token_id",
                                        "tokenizer.ggml.padding_token_id"};
    int64_t *ids[4] = {&v->bos, &v->eos, &v->unk, &v->pad};
    for (int k = 0; k < 4; k++) {
        if (gguf_opt_int(v->g, keys[k], -1, ids[k], err) != 0)
            return -1;
        if (*ids[k] < -1 || *ids[k] >= v->n)
            return err_set(err, "%s: key \"%s\": %lld is not a token id (0..%lld)",
                           gguf_path(v->g), keys[k], (long long)*ids[k], (long long)v->n - 1);
    }
    return gguf_opt_bool(v->g, "tokenizer.ggml.add_bos_token", !v->byte_level, &v->add_bos,
                         err) ||
           gguf_opt_bool(v->g, "tokenizer.ggml.add_eos_token", 0, &v->add_eos, err) ||
           gguf_opt_bool(v->g, "tokenizer.ggml.add_space_prefix", 1, &v->add_space_prefix, err);
}

static int read_vocab(const Gguf *g, Vocab *v, Err *err) {
    char *model = NULL;
    memset(v, 0, sizeof *v);
    v->g = g;
    if (gguf_get_str(g, "tokenizer.ggml.model", &model, err) != 0)
        return -1;
    const int gpt2 = strcmp(model, "gpt2") == 0, llama = strcmp(model, "llama") == 0;
    if (!gpt2 && !llama) {
        err_set(err, "%s: key \"tokenizer.ggml.model\": \"%s\" is not supported (gpt2: "
                "byte-level BPE; llama: SentencePiece-style BPE)", gguf_path(g), model);
        free(model);
        return -1;
    }
    free(model);
    v->byte_level = gpt2;
    if (gguf_get_arr(g, "tokenizer.ggml.tokens", &v->tokens, err) != 0)
        return -1;
    if (v->tokens.elem_type != GGUF_STRING || v->tokens.count < 1 ||
        v->tokens.count > INT32_MAX)
        return err_set(err, "%s: key \"tokenizer.ggml.tokens\": expected 1 to 2^31 strings",
                       gguf_path(g));
    v->n = (int64_t)v->tokens.count;
    if (opt_arr(g, "tokenizer.ggml.token_type", v->n, &v->has_types, &v->types, err) ||
        opt_arr(g, "tokenizer.ggml.scores", v->n, &v->has_scores, &v->scores, err) ||
        opt_arr(g, "tokenizer.ggml.merges", -1, &v->has_merges, &v->merges, err))
        return -1;
    const GgufType tt = v->types.elem_type;
    if ((v->has_types && (tt == GGUF_FLOAT32 || tt == GGUF_FLOAT64 || tt == GGUF_BOOL)) ||
        (v->has_scores && v->scores.elem_type != GGUF_FLOAT32) ||
        (v->has_merges && v->merges.elem_type != GGUF_STRING))
        return err_set(err, "%s: tokenizer.ggml.token_type must hold integers, .scores "
                       "FLOAT32 and .merges strings", gguf_path(g));
    if (read_ids(v, err) != 0)
        return -1;
    v->piece = calloc((size_t)v->n, sizeof *v->piece);
    v->score = v->has_scores ? malloc((size_t)v->n * sizeof *v->score) : NULL;
    if (v->piece == NULL || (v->has_scores && v->score == NULL))
        return err_set(err, "%s: out of memory for %lld tokens", gguf_path(g), (long long)v->n);
    for (int64_t i = 0; i < v->n; i++) {
        if ((v->piece[i] = spell(v, i, err)) == NULL)
            return -1;
        if (v->has_scores)
            v->score[i] = gguf_arr_f32(&v->scores, (uint64_t)i);
    }
    return 0;
}

static int token_type(const Vocab *v, int64_t i) {
    return v->has_types ? (int)gguf_arr_int(&v->types, (uint64_t)i) : 1;
}

/* added_tokens, in id order: control tokens (in the byte alphabet for byte-level), the
 * bos/eos/unk/pad tokens, user-defined tokens (not special). */
static json_t *added_tokens(const Vocab *v) {
    json_t *list = json_array();
    for (int64_t i = 0; list != NULL && i < v->n; i++) {
        const GgufStr *t = &v->tokens.strs[i];
        const int type = token_type(v, i);
        const int named = i == v->bos || i == v->eos || i == v->unk || i == v->pad;
        const int spelled = !v->byte_level || in_byte_alphabet(t->s, (size_t)t->n);
        const int special = spelled && (type == TT_CONTROL || (named && type != TT_USER));
        const int user = type == TT_USER && strlen(v->piece[i]) == t->n &&
                         memcmp(v->piece[i], t->s, (size_t)t->n) == 0;
        if (!special && !user)
            continue;
        json_array_append_new(list, json_pack("{s:I, s:s, s:b, s:b, s:b, s:b, s:b}", "id",
                                              (json_int_t)i, "content", v->piece[i],
                                              "single_word", 0, "lstrip", 0, "rstrip", 0,
                                              "normalized", 0, "special", special));
    }
    return list;
}

/* TemplateProcessing adding bos/eos as the file's add_bos_token/add_eos_token say. */
static json_t *post_processor(const Vocab *v) {
    const int bos = v->add_bos && v->bos >= 0, eos = v->add_eos && v->eos >= 0;
    json_t *single = json_array(), *pair = json_array(), *specials = json_object();
    for (int part = 0; part < 2; part++) {
        const char *seq = part == 0 ? "A" : "B";
        for (int with_pair = part; with_pair < 2; with_pair++) {
            json_t *dst = with_pair ? pair : single;
            if (bos)
                json_array_append_new(dst, json_pack("{s:{s:s, s:i}}", "SpecialToken", "id",
                                                     v->piece[v->bos], "type_id", part));
            json_array_append_new(dst, json_pack("{s:{s:s, s:i}}", "Sequence", "id", seq,
                                                 "type_id", part));
            if (eos)
                json_array_append_new(dst, json_pack("{s:{s:s, s:i}}", "SpecialToken", "id",
                                                     v->piece[v->eos], "type_id", part));
        }
    }
    const int64_t used[2] = {bos ? v->bos : -1, eos ? v->eos : -1};
    for (int k = 0; k < 2; k++)
        if (used[k] >= 0)
            json_object_set_new(specials, v->piece[used[k]],
                                json_pack("{s:s, s:[I], s:[s]}", "id", v->piece[used[k]],
                                          "ids", (json_int_t)used[k], "tokens",
                                          v->piece[used[k]]));
    return json_pack("{s:s, s:o, s:o, s:o}", "type", "TemplateProcessing", "single", single,
                     "pair", pair, "special_tokens", specials);
}

static int file_merges(const Vocab *v, json_t *merges, Err *err) {
    for (uint64_t i = 0; i < v->merges.count; i++) {
        const GgufStr *m = &v->merges.strs[i];
        const char *sp = memchr(m->s, ' ', (size_t)m->n);
        if (sp == NULL || memchr(sp + 1, ' ', (size_t)(m->n - (uint64_t)(sp - m->s) - 1)) ||
            !utf8_valid(m->s, (size_t)m->n) || memchr(m->s, '\0', (size_t)m->n))
            return err_set(err, "%s: key \"tokenizer.ggml.merges\": merge %llu is not \"left "
                           "right\" text", gguf_path(v->g), (unsigned long long)i);
        json_t *pair = json_array();
        json_array_append_new(pair, json_stringn(m->s, (size_t)(sp - m->s)));
        json_array_append_new(pair, json_stringn(sp + 1, (size_t)(m->n - (uint64_t)(sp - m->s) - 1)));
        if (json_array_append_new(merges, pair) != 0)
            return err_set(err, "%s: out of memory building the merges", gguf_path(v->g));
    }
    return 0;
}

static json_t *bpe_model(const Vocab *v, Err *err) {
    json_t *vocab = json_object(), *merges = json_array();
    for (int64_t i = 0; vocab != NULL && i < v->n; i++)
        json_object_set_new(vocab, v->piece[i], json_integer(i));
    int rc = vocab == NULL || merges == NULL ? err_set(err, "out of memory") : 0;
    if (rc == 0)
        rc = v->has_merges ? file_merges(v, merges, err)
                           : conv_generate_merges((const char *const *)v->piece, v->n,
                                                  v->score, merges, err);
    json_t *m = json_pack("{s:s, s:n, s:n, s:s, s:s, s:b, s:b, s:b}", "type", "BPE", "dropout",
                          "unk_token", "continuing_subword_prefix", "", "end_of_word_suffix",
                          "", "fuse_unk", !v->byte_level, "byte_fallback", !v->byte_level,
                          "ignore_merges", 0);
    if (rc != 0 || m == NULL) {
        json_decref(vocab);
        json_decref(merges);
        json_decref(m);
        return NULL;
    }
    json_object_set_new(m, "vocab", vocab);
    json_object_set_new(m, "merges", merges);
    return m;
}

/* The pre-tokenizer, decoder and normalizer of the vocabulary's family. */
static int pipeline(const Vocab *v, json_t *root, Err *err) {
    char *pre = NULL;
    if (gguf_has(v->g, "tokenizer.ggml.pre") && gguf_get_str(v->g, "tokenizer.ggml.pre", &pre, err))
        return -1;
    json_t *pt = NULL, *dec = NULL;
    int rc = 0;
    if (v->byte_level) {
        pt = gguf_pretok_json(gguf_path(v->g), pre != NULL ? pre : "(absent)", err);
        rc = pt == NULL ? -1 : 0;
        dec = json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 1,
                        "trim_offsets", 1, "use_regex", 1);
    } else if (pre != NULL && strcmp(pre, "default") != 0) {
        rc = err_set(err, "%s: key \"tokenizer.ggml.pre\": \"%s\" with tokenizer.ggml.model "
                     "\"llama\": a SentencePiece vocabulary splits on spaces only "
                     "(\"default\")", gguf_path(v->g), pre);
    } else {
        /* LlamaTokenizer (transformers 5): Metaspace, no split, prefix on the first piece. */
        const char *meta = "\xE2\x96\x81";
        pt = json_pack("{s:s, s:s, s:s, s:b}", "type", "Metaspace", "replacement", meta,
                       "prepend_scheme", v->add_space_prefix ? "first" : "never", "split", 0);
        dec = json_pack("{s:s, s:[{s:s, s:{s:s}, s:s}, {s:s}, {s:s}]}", "type", "Sequence",
                        "decoders", "type", "Replace", "pattern", "String", meta, "content",
                        " ", "type", "ByteFallback", "type", "Fuse");
        if (dec != NULL && v->add_space_prefix)
            json_array_append_new(json_object_get(dec, "decoders"),
                                  json_pack("{s:s, s:s, s:i, s:i}", "type", "Strip", "content",
                                            " ", "start", 1, "stop", 0));
    }
    free(pre);
    if (rc == 0 && (pt == NULL || dec == NULL))
        rc = err_set(err, "out of memory building the pre-tokenizer and decoder");
    if (rc != 0) {
        json_decref(pt);
        json_decref(dec);
        return -1;
    }
    json_object_set_new(root, "normalizer", json_null());
    json_object_set_new(root, "pre_tokenizer", pt);
    json_object_set_new(root, "post_processor", post_processor(v));
    json_object_set_new(root, "decoder", dec);
    return 0;
}

static json_t *token_or_null(const Vocab *v, int64_t id) {
    return id >= 0 ? json_string(v->piece[id]) : json_null();
}

static json_t *tokenizer_config(const Vocab *v, Err *err) {
    json_t *c = json_pack("{s:b, s:b, s:o, s:o, s:o, s:o, s:b, s:s}", "add_bos_token",
                          v->add_bos, "add_eos_token", v->add_eos, "bos_token",
                          token_or_null(v, v->bos), "eos_token", token_or_null(v, v->eos),
                          "unk_token", token_or_null(v, v->unk), "pad_token",
                          token_or_null(v, v->pad), "clean_up_tokenization_spaces", 0,
                          "tokenizer_class", "PreTrainedTokenizerFast");
    if (c != NULL && gguf_has(v->g, "tokenizer.chat_template")) {
        char *tmpl = NULL;
        if (gguf_get_str(v->g, "tokenizer.chat_template", &tmpl, err) != 0) {
            json_decref(c);
            return NULL;
        }
        json_t *s = json_string(tmpl);
        free(tmpl);
        if (s == NULL) {
            json_decref(c);
            err_set(err, "%s: key \"tokenizer.chat_template\": not valid UTF-8",
                    gguf_path(v->g));
            return NULL;
        }
        json_object_set_new(c, "chat_template", s);
    }
    if (c == NULL)
        err_set(err, "out of memory building tokenizer_config.json");
    return c;
}

int gguf_tokenizer_json(const Gguf *g, json_t **tokenizer, json_t **config, Err *err) {
    *tokenizer = *config = NULL;
    Vocab v;
    int rc = read_vocab(g, &v, err);
    json_t *root = rc == 0 ? json_object() : NULL, *model = NULL, *cfg = NULL;
    if (rc == 0) {
        json_object_set_new(root, "version", json_string("1.0"));
        json_object_set_new(root, "truncation", json_null());
        json_object_set_new(root, "padding", json_null());
        json_object_set_new(root, "added_tokens", added_tokens(&v));
        rc = pipeline(&v, root, err);
    }
    if (rc == 0 && (model = bpe_model(&v, err)) == NULL)
        rc = -1;
    if (rc == 0)
        json_object_set_new(root, "model", model);
    if (rc == 0 && (cfg = tokenizer_config(&v, err)) == NULL)
        rc = -1;
    vocab_free(&v);
    if (rc != 0) {
        json_decref(root);
        return -1;
    }
    *tokenizer = root;
    *config = cfg;
    return 0;
}

int gguf_write_tokenizer(const Gguf *g, const char *out_dir, Err *err) {
    json_t *root, *cfg;
    if (gguf_tokenizer_json(g, &root, &cfg, err) != 0)
        return -1;
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", out_dir);
    int rc = conv_write_json(path, root, err); /* releases root */
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/tokenizer_config.json", out_dir);
        rc = conv_write_json(path, cfg, err);
        cfg = NULL;
    }
    json_decref(cfg);
    return rc;
}
