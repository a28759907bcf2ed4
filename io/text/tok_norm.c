/* io/text/tok_norm.c -- the normalizer chain of a tokenizer.json (NFC/NFD/NFKC/NFKD through
 * utf8proc, Prepend, Replace, Lowercase, Strip), applied to one piece of text at a time
 * as HF applies it to each piece left between added tokens. Offsets are not tracked:
 * the encoder only needs the ids. */
#include "io/text/tok_internal.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* Unicode White_Space, which Rust's char::is_whitespace (HF's Strip) uses. */
int tok_is_white(int32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

int tok_is_word(int32_t c) {
    if (c == 0x200C || c == 0x200D)
        return 1;
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_PC:
        return 1;
    default:
        return 0;
    }
}

static int run_utf8proc(const char *src, size_t n, utf8proc_option_t opt, StrBuf *out,
                        Err *err) {
    utf8proc_uint8_t *res = NULL;
    utf8proc_ssize_t m =
        utf8proc_map((const utf8proc_uint8_t *)src, (utf8proc_ssize_t)n, &res, opt);
    if (m < 0)
        return err_set(err, "unicode normalization failed: %s", utf8proc_errmsg(m));
    int rc = strbuf_append(out, (const char *)res, (size_t)m, err);
    free(res);
    return rc;
}

static int replace_literal(const TokNorm *st, const char *s, size_t n, StrBuf *out,
                           Err *err) {
    size_t i = 0;
    while (i < n) {
        if (st->str_bytes > 0 && i + st->str_bytes <= n &&
            memcmp(s + i, st->str, st->str_bytes) == 0) {
            if (strbuf_append(out, st->content, st->content_bytes, err) != 0)
                return -1;
            i += st->str_bytes;
        } else {
            if (strbuf_append(out, s + i, 1, err) != 0)
                return -1;
            i++;
        }
    }
    return 0;
}

static int replace_regex(const TokNorm *st, const char *s, size_t n, StrBuf *out, Err *err) {
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(st->re, NULL);
    if (md == NULL)
        return err_set(err, "out of memory (regex match data)");
    size_t pos = 0, done = 0;
    int rc = 0;
    while (pos <= n) {
        int r = pcre2_match(st->re, (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK, md, NULL);
        if (r == PCRE2_ERROR_NOMATCH)
            break;
        if (r < 0) {
            rc = err_set(err, "Replace normalizer: regex match failed (%d)", r);
            break;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if (strbuf_append(out, s + done, ov[0] - done, err) != 0 ||
            strbuf_append(out, st->content, st->content_bytes, err) != 0) {
            rc = -1;
            break;
        }
        done = ov[1];
        pos = ov[1] > ov[0] ? ov[1] : ov[1] + (ov[1] < n ? (size_t)utf8_len((unsigned char)s[ov[1]]) : 1);
    }
    pcre2_match_data_free(md);
    if (rc == 0 && done < n)
        rc = strbuf_append(out, s + done, n - done, err);
    return rc;
}

static int lowercase(const char *s, size_t n, StrBuf *out, Err *err) {
    size_t i = 0;
    while (i < n) {
        int len;
        int32_t cp = utf8_decode(s + i, n - i, &len);
        char enc[4];
        int k = utf8_encode(utf8proc_tolower(cp), enc);
        if (strbuf_append(out, enc, (size_t)k, err) != 0)
            return -1;
        i += (size_t)len;
    }
    return 0;
}

static int strip(const TokNorm *st, const char *s, size_t n, StrBuf *out, Err *err) {
    size_t a = 0, b = n;
    while (st->left && a < b) {
        int len;
        if (!tok_is_white(utf8_decode(s + a, b - a, &len)))
            break;
        a += (size_t)len;
    }
    while (st->right && b > a) {
        size_t p = b - 1;
        while (p > a && ((unsigned char)s[p] & 0xC0) == 0x80)
            p--;
        int len;
        if (!tok_is_white(utf8_decode(s + p, b - p, &len)))
            break;
        b = p;
    }
    return strbuf_append(out, s + a, b - a, err);
}

static int apply_one(const TokNorm *st, const char *s, size_t n, StrBuf *out, Err *err) {
    switch (st->kind) {
    case TOK_NORM_NFC: return run_utf8proc(s, n, UTF8PROC_STABLE | UTF8PROC_COMPOSE, out, err);
    case TOK_NORM_NFD: return run_utf8proc(s, n, UTF8PROC_STABLE | UTF8PROC_DECOMPOSE, out, err);
    case TOK_NORM_NFKC:
        return run_utf8proc(s, n, UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT, out, err);
    case TOK_NORM_NFKD:
        return run_utf8proc(s, n, UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT, out,
                            err);
    case TOK_NORM_PREPEND:
        /* HF's Prepend leaves an empty string empty. */
        if (n > 0 && strbuf_append(out, st->str, st->str_bytes, err) != 0)
            return -1;
        return strbuf_append(out, s, n, err);
    case TOK_NORM_REPLACE:
        return st->re != NULL ? replace_regex(st, s, n, out, err)
                              : replace_literal(st, s, n, out, err);
    case TOK_NORM_LOWERCASE: return lowercase(s, n, out, err);
    case TOK_NORM_STRIP: return strip(st, s, n, out, err);
    }
    return err_set(err, "unknown normalizer kind %d", (int)st->kind);
}

int tok_normalize(const Tokenizer *tok, const char *src, size_t n, StrBuf *out, Err *err) {
    if (tok->n_norm == 0)
        return strbuf_append(out, src, n, err);
    StrBuf a = {0}, b = {0};
    const char *cur = src;
    size_t cur_n = n;
    int rc = 0;
    for (int64_t i = 0; i < tok->n_norm && rc == 0; i++) {
        StrBuf *dst = (i % 2 == 0) ? &a : &b;
        dst->n_bytes = 0;
        if (strbuf_reserve(dst, cur_n, err) != 0) {
            rc = -1;
            break;
        }
        rc = apply_one(&tok->norm[i], cur, cur_n, dst, err);
        cur = dst->data;
        cur_n = dst->n_bytes;
    }
    if (rc == 0)
        rc = strbuf_append(out, cur, cur_n, err);
    strbuf_free(&a);
    strbuf_free(&b);
    return rc;
}
