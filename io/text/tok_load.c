/* io/text/tok_load.c -- parses the pipeline parts of a tokenizer.json: the normalizer,
 * pre-tokenizer and decoder (each possibly a Sequence, flattened here into a step
 * list). Anything this tokenizer does not implement is an error naming the file and the
 * key, never silently ignored. The model, added tokens and post-processor are read by
 * io/text/tok_model.c. */
#include "io/text/tok_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/base/vec.h"

/* GPT-2's pre-tokenization regex, used by ByteLevel when use_regex is true. */
static const char k_gpt2_regex[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static int json_flag(const json_t *obj, const char *key, int dflt) {
    const json_t *v = json_object_get(obj, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

/* Compiles a pattern (PCRE2 with UTF and Unicode properties, as HF's onig regexes). */
static pcre2_code *compile(const Tokenizer *tok, const char *key, const char *pat, size_t n,
                           int literal, Err *err) {
    int code;
    PCRE2_SIZE at;
    /* PCRE2_LITERAL admits UTF but not UCP (nothing to classify in a literal). */
    uint32_t opt = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, n, opt, &code, &at, NULL);
    if (re == NULL) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof msg);
        err_set(err, "%s: %s: cannot compile regex at offset %zu: %s", tok->path, key,
                (size_t)at, (const char *)msg);
        return NULL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* optional speed-up; falls back silently */
    return re;
}

/* pattern: {"String": s} or {"Regex": r}; *literal tells which. */
static int get_pattern(const Tokenizer *tok, const char *key, const json_t *obj,
                       const char **pat, size_t *n, int *literal, Err *err) {
    const json_t *p = json_object_get(obj, "pattern");
    const json_t *s = json_object_get(p, "String"), *r = json_object_get(p, "Regex");
    if (!json_is_string(s) && !json_is_string(r))
        return err_set(err, "%s: %s.pattern: expected {\"String\": ...} or {\"Regex\": ...}",
                       tok->path, key);
    *literal = json_is_string(s);
    *pat = json_string_value(*literal ? s : r);
    *n = json_string_length(*literal ? s : r);
    return 0;
}

static char *dup_bytes(const char *s, size_t n) {
    char *c = malloc(n + 1);
    if (c != NULL) {
        memcpy(c, s, n);
        c[n] = '\0';
    }
    return c;
}

static int parse_prepend_scheme(const Tokenizer *tok, const char *key, const json_t *obj,
                                TokPrepend *out, Err *err) {
    const char *s = json_string_value(json_object_get(obj, "prepend_scheme"));
    if (s == NULL) /* old files: add_prefix_space true means "always" */
        *out = json_flag(obj, "add_prefix_space", 1) ? TOK_PREPEND_ALWAYS : TOK_PREPEND_NEVER;
    else if (strcmp(s, "first") == 0)
        *out = TOK_PREPEND_FIRST;
    else if (strcmp(s, "always") == 0)
        *out = TOK_PREPEND_ALWAYS;
    else if (strcmp(s, "never") == 0)
        *out = TOK_PREPEND_NEVER;
    else
        return err_set(err, "%s: %s.prepend_scheme: unknown value \"%s\"", tok->path, key, s);
    return 0;
}

static int get_replacement(const Tokenizer *tok, const char *key, const json_t *obj,
                           char out[8], Err *err) {
    const char *r = json_string_value(json_object_get(obj, "replacement"));
    if (r == NULL)
        r = "\xE2\x96\x81"; /* U+2581, HF's default */
    if (strlen(r) == 0 || strlen(r) > 4)
        return err_set(err, "%s: %s.replacement: expected one character", tok->path, key);
    strcpy(out, r);
    return 0;
}

static int add_norm(Tokenizer *tok, const char *key, const json_t *obj, Err *err) {
    const char *type = json_string_value(json_object_get(obj, "type"));
    if (type == NULL)
        return err_set(err, "%s: %s.type: missing", tok->path, key);
    if (strcmp(type, "Sequence") == 0) {
        const json_t *list = json_object_get(obj, "normalizers");
        if (!json_is_array(list))
            return err_set(err, "%s: %s.normalizers: expected an array", tok->path, key);
        for (size_t i = 0; i < json_array_size(list); i++) {
            char sub[96];
            snprintf(sub, sizeof sub, "%s.normalizers[%zu]", key, i);
            if (add_norm(tok, sub, json_array_get(list, i), err) != 0)
                return -1;
        }
        return 0;
    }
    TokNorm st = {0};
    if (strcmp(type, "NFC") == 0) st.kind = TOK_NORM_NFC;
    else if (strcmp(type, "NFD") == 0) st.kind = TOK_NORM_NFD;
    else if (strcmp(type, "NFKC") == 0) st.kind = TOK_NORM_NFKC;
    else if (strcmp(type, "NFKD") == 0) st.kind = TOK_NORM_NFKD;
    else if (strcmp(type, "Lowercase") == 0) st.kind = TOK_NORM_LOWERCASE;
    else if (strcmp(type, "Strip") == 0) {
        st.kind = TOK_NORM_STRIP;
        st.left = json_flag(obj, "strip_left", 1);
        st.right = json_flag(obj, "strip_right", 1);
    } else if (strcmp(type, "Prepend") == 0) {
        const json_t *p = json_object_get(obj, "prepend");
        if (!json_is_string(p))
            return err_set(err, "%s: %s.prepend: expected a string", tok->path, key);
        st.kind = TOK_NORM_PREPEND;
        st.str_bytes = json_string_length(p);
        st.str = dup_bytes(json_string_value(p), st.str_bytes);
    } else if (strcmp(type, "Replace") == 0) {
        const char *pat;
        size_t n;
        int literal;
        const json_t *c = json_object_get(obj, "content");
        if (get_pattern(tok, key, obj, &pat, &n, &literal, err) != 0)
            return -1;
        if (!json_is_string(c))
            return err_set(err, "%s: %s.content: expected a string", tok->path, key);
        st.kind = TOK_NORM_REPLACE;
        if (literal) {
            st.str_bytes = n;
            st.str = dup_bytes(pat, n);
        } else if ((st.re = compile(tok, key, pat, n, 0, err)) == NULL) {
            return -1;
        }
        st.content_bytes = json_string_length(c);
        st.content = dup_bytes(json_string_value(c), st.content_bytes);
    } else {
        return err_set(err, "%s: %s.type: normalizer \"%s\" is not supported", tok->path, key,
                       type);
    }
    if ((st.kind == TOK_NORM_PREPEND && st.str == NULL) ||
        (st.kind == TOK_NORM_REPLACE && (st.content == NULL || (st.re == NULL && st.str == NULL))))
        err_set(err, "out of memory");
    else if (VEC_PUSH(tok->norm, tok->n_norm, tok->cap_norm, st, err) == 0)
        return 0;
    free(st.str);
    free(st.content);
    pcre2_code_free(st.re);
    return -1;
}

static int parse_behavior(const Tokenizer *tok, const char *key, const json_t *obj,
                          TokSplitBehavior *out, Err *err) {
    static const char *const names[] = {"Removed", "Isolated", "MergedWithPrevious",
                                        "MergedWithNext", "Contiguous"};
    const char *b = json_string_value(json_object_get(obj, "behavior"));
    for (int i = 0; b != NULL && i < 5; i++)
        if (strcmp(b, names[i]) == 0) {
            *out = (TokSplitBehavior)i;
            return 0;
        }
    return err_set(err, "%s: %s.behavior: expected Removed, Isolated, MergedWithPrevious, "
                   "MergedWithNext or Contiguous", tok->path, key);
}

static int add_pre(Tokenizer *tok, const char *key, const json_t *obj, Err *err) {
    const char *type = json_string_value(json_object_get(obj, "type"));
    if (type == NULL)
        return err_set(err, "%s: %s.type: missing", tok->path, key);
    if (strcmp(type, "Sequence") == 0) {
        const json_t *list = json_object_get(obj, "pretokenizers");
        if (!json_is_array(list))
            return err_set(err, "%s: %s.pretokenizers: expected an array", tok->path, key);
        for (size_t i = 0; i < json_array_size(list); i++) {
            char sub[96];
            snprintf(sub, sizeof sub, "%s.pretokenizers[%zu]", key, i);
            if (add_pre(tok, sub, json_array_get(list, i), err) != 0)
                return -1;
        }
        return 0;
    }
    TokPre st = {0};
    if (strcmp(type, "ByteLevel") == 0) {
        st.kind = TOK_PRE_BYTELEVEL;
        st.add_prefix_space = json_flag(obj, "add_prefix_space", 1);
        if (json_flag(obj, "use_regex", 1) &&
            (st.re = compile(tok, key, k_gpt2_regex, strlen(k_gpt2_regex), 0, err)) == NULL)
            return -1;
    } else if (strcmp(type, "Split") == 0) {
        const char *pat;
        size_t n;
        int literal;
        st.kind = TOK_PRE_SPLIT;
        st.invert = json_flag(obj, "invert", 0);
        if (get_pattern(tok, key, obj, &pat, &n, &literal, err) != 0 ||
            parse_behavior(tok, key, obj, &st.behavior, err) != 0)
            return -1;
        if ((st.re = compile(tok, key, pat, n, literal, err)) == NULL)
            return -1;
    } else if (strcmp(type, "Digits") == 0) {
        /* HF's Digits: split around every char::is_numeric character (general categories
         * Nd, Nl, No = PCRE2's \p{N}), each one a piece (individual_digits) or runs of
         * them together (Contiguous). */
        st.kind = TOK_PRE_SPLIT;
        st.behavior = json_flag(obj, "individual_digits", 0) ? TOK_SPLIT_ISOLATED
                                                             : TOK_SPLIT_CONTIGUOUS;
        if ((st.re = compile(tok, key, "\\p{N}", 5, 0, err)) == NULL)
            return -1;
    } else if (strcmp(type, "Metaspace") == 0) {
        st.kind = TOK_PRE_METASPACE;
        st.split = json_flag(obj, "split", 1);
        if (get_replacement(tok, key, obj, st.replacement, err) != 0 ||
            parse_prepend_scheme(tok, key, obj, &st.prepend, err) != 0)
            return -1;
    } else {
        return err_set(err, "%s: %s.type: pre_tokenizer \"%s\" is not supported", tok->path,
                       key, type);
    }
    if (VEC_PUSH(tok->pre, tok->n_pre, tok->cap_pre, st, err) != 0) {
        pcre2_code_free(st.re);
        return -1;
    }
    return 0;
}

static int add_dec(Tokenizer *tok, const char *key, const json_t *obj, Err *err) {
    const char *type = json_string_value(json_object_get(obj, "type"));
    if (type == NULL)
        return err_set(err, "%s: %s.type: missing", tok->path, key);
    if (strcmp(type, "Sequence") == 0) {
        const json_t *list = json_object_get(obj, "decoders");
        if (!json_is_array(list))
            return err_set(err, "%s: %s.decoders: expected an array", tok->path, key);
        for (size_t i = 0; i < json_array_size(list); i++) {
            char sub[96];
            snprintf(sub, sizeof sub, "%s.decoders[%zu]", key, i);
            if (add_dec(tok, sub, json_array_get(list, i), err) != 0)
                return -1;
        }
        return 0;
    }
    TokDec st = {0};
    if (strcmp(type, "ByteLevel") == 0) st.kind = TOK_DEC_BYTELEVEL;
    else if (strcmp(type, "ByteFallback") == 0) st.kind = TOK_DEC_BYTEFALLBACK;
    else if (strcmp(type, "Fuse") == 0) st.kind = TOK_DEC_FUSE;
    else if (strcmp(type, "Replace") == 0) {
        const char *pat;
        size_t n;
        int literal;
        const char *c = json_string_value(json_object_get(obj, "content"));
        if (get_pattern(tok, key, obj, &pat, &n, &literal, err) != 0)
            return -1;
        if (!literal || c == NULL)
            return err_set(err, "%s: %s: only a String pattern with a string content is "
                           "supported in a Replace decoder", tok->path, key);
        st.kind = TOK_DEC_REPLACE;
        st.pattern = dup_bytes(pat, n);
        st.content = dup_bytes(c, strlen(c));
    } else if (strcmp(type, "Strip") == 0) {
        const char *c = json_string_value(json_object_get(obj, "content"));
        int len;
        if (c == NULL || c[0] == '\0')
            return err_set(err, "%s: %s.content: expected one character", tok->path, key);
        st.kind = TOK_DEC_STRIP;
        st.strip_cp = utf8_decode(c, strlen(c), &len);
        st.start = (int)json_integer_value(json_object_get(obj, "start"));
        st.stop = (int)json_integer_value(json_object_get(obj, "stop"));
    } else if (strcmp(type, "Metaspace") == 0) {
        st.kind = TOK_DEC_METASPACE;
        if (get_replacement(tok, key, obj, st.replacement, err) != 0 ||
            parse_prepend_scheme(tok, key, obj, &st.prepend, err) != 0)
            return -1;
    } else {
        return err_set(err, "%s: %s.type: decoder \"%s\" is not supported", tok->path, key,
                       type);
    }
    if (st.kind == TOK_DEC_REPLACE && (st.pattern == NULL || st.content == NULL))
        err_set(err, "out of memory");
    else if (VEC_PUSH(tok->dec, tok->n_dec, tok->cap_dec, st, err) == 0)
        return 0;
    free(st.pattern);
    free(st.content);
    return -1;
}

int tok_load_json(Tokenizer *tok, const json_t *root, Err *err) {
    const json_t *n = json_object_get(root, "normalizer");
    const json_t *p = json_object_get(root, "pre_tokenizer");
    const json_t *d = json_object_get(root, "decoder");
    if (n != NULL && !json_is_null(n) && add_norm(tok, "normalizer", n, err) != 0)
        return -1;
    if (p != NULL && !json_is_null(p) && add_pre(tok, "pre_tokenizer", p, err) != 0)
        return -1;
    tok->has_decoder = d != NULL && !json_is_null(d);
    if (tok->has_decoder && add_dec(tok, "decoder", d, err) != 0)
        return -1;
    return 0;
}

void tok_free_parts(Tokenizer *tok) {
    for (int64_t i = 0; i < tok->n_norm; i++) {
        free(tok->norm[i].str);
        free(tok->norm[i].content);
        pcre2_code_free(tok->norm[i].re);
    }
    for (int64_t i = 0; i < tok->n_pre; i++)
        pcre2_code_free(tok->pre[i].re);
    for (int64_t i = 0; i < tok->n_dec; i++) {
        free(tok->dec[i].pattern);
        free(tok->dec[i].content);
    }
    vec_free(&tok->norm, &tok->n_norm, &tok->cap_norm);
    vec_free(&tok->pre, &tok->n_pre, &tok->cap_pre);
    vec_free(&tok->dec, &tok->n_dec, &tok->cap_dec);
}
