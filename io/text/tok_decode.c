/* io/text/tok_decode.c -- the decoder chain of a tokenizer.json: ByteLevel, Replace,
 * ByteFallback, Fuse, Strip, Metaspace, each mapping a list of token strings to a new
 * list as HF's decode_chain does; the results are concatenated. Invalid UTF-8 becomes
 * U+FFFD the way HF does it (per byte for ByteFallback, per maximal invalid subpart for
 * ByteLevel's from_utf8_lossy). */
#include "io/text/tok_internal.h"

#include <stdlib.h>
#include <string.h>

#include "io/base/strlist.h"

static const char k_fffd[] = "\xEF\xBF\xBD";

/* Length of the longest prefix of s that could start a valid UTF-8 sequence (>= 1), and
 * whether it is complete: Rust's from_utf8_lossy replaces each such invalid prefix with
 * one U+FFFD. */
static int utf8_prefix(const unsigned char *s, size_t n, int *complete) {
    unsigned char c = s[0];
    int need = c < 0x80 ? 1 : (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3
             : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
    *complete = 0;
    if (need == 0)
        return 1;
    if (need == 1) {
        *complete = 1;
        return 1;
    }
    unsigned char lo = 0x80, hi = 0xBF;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
    int k = 1;
    if ((size_t)k < n && s[k] >= lo && s[k] <= hi) {
        k++;
        while (k < need && (size_t)k < n && s[k] >= 0x80 && s[k] <= 0xBF)
            k++;
    }
    *complete = (k == need);
    return k;
}

static int add_lossy(StrBuf *out, const char *s, size_t n, Err *err) {
    size_t i = 0;
    while (i < n) {
        int complete;
        int k = utf8_prefix((const unsigned char *)s + i, n - i, &complete);
        if (strbuf_append(out, complete ? s + i : k_fffd, complete ? (size_t)k : 3, err) != 0)
            return -1;
        i += (size_t)k;
    }
    return 0;
}

static int dec_bytelevel(StrList *in, StrList *out, Err *err) {
    StrBuf bytes = {0};
    int rc = 0;
    for (int64_t t = 0; t < in->n_items && rc == 0; t++) {
        size_t start = bytes.n_bytes, i = 0;
        int all = 1;
        while (i < in->n_item_bytes[t] && rc == 0) {
            int len;
            int b = tok_cp_to_byte(utf8_decode(in->items[t] + i, in->n_item_bytes[t] - i, &len));
            if (b < 0) {
                all = 0;
                break;
            }
            char c = (char)b;
            rc = strbuf_append(&bytes, &c, 1, err);
            i += (size_t)len;
        }
        if (!all && rc == 0) { /* HF keeps a token with an unmapped character as is */
            bytes.n_bytes = start;
            rc = strbuf_append(&bytes, in->items[t], in->n_item_bytes[t], err);
        }
    }
    StrBuf text = {0};
    if (rc == 0)
        rc = add_lossy(&text, bytes.data ? bytes.data : "", bytes.n_bytes, err);
    if (rc == 0)
        rc = strlist_push(out, text.data ? text.data : "", text.n_bytes, err);
    strbuf_free(&bytes);
    strbuf_free(&text);
    return rc;
}

static int byte_token(const char *s, size_t n) {
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
        return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = s[i];
        int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static int flush_bytes(StrBuf *pending, StrList *out, Err *err) {
    if (pending->n_bytes == 0)
        return 0;
    int rc = 0;
    if (utf8_valid(pending->data, pending->n_bytes))
        rc = strlist_push(out, pending->data, pending->n_bytes, err);
    else
        for (size_t i = 0; i < pending->n_bytes && rc == 0; i++)
            rc = strlist_push(out, k_fffd, 3, err);
    pending->n_bytes = 0;
    return rc;
}

static int dec_bytefallback(StrList *in, StrList *out, Err *err) {
    StrBuf pending = {0};
    int rc = 0;
    for (int64_t t = 0; t < in->n_items && rc == 0; t++) {
        int b = byte_token(in->items[t], in->n_item_bytes[t]);
        if (b >= 0) {
            char c = (char)b;
            rc = strbuf_append(&pending, &c, 1, err);
            continue;
        }
        rc = flush_bytes(&pending, out, err);
        if (rc == 0)
            rc = strlist_push(out, in->items[t], in->n_item_bytes[t], err);
    }
    if (rc == 0)
        rc = flush_bytes(&pending, out, err);
    strbuf_free(&pending);
    return rc;
}

/* Replace (literal), Metaspace (first token: replacement dropped) and Strip, per token. */
static int dec_per_token(const TokDec *st, StrList *in, StrList *out, Err *err) {
    StrBuf b = {0};
    int rc = 0;
    size_t rep = strlen(st->kind == TOK_DEC_REPLACE ? st->pattern : st->replacement);
    for (int64_t t = 0; t < in->n_items && rc == 0; t++) {
        const char *s = in->items[t];
        size_t n = in->n_item_bytes[t], i = 0;
        b.n_bytes = 0;
        if (st->kind == TOK_DEC_STRIP) {
            size_t a = 0, e = n;
            for (int k = 0; k < st->start && a < e; k++) {
                int len;
                if (utf8_decode(s + a, e - a, &len) != st->strip_cp)
                    break;
                a += (size_t)len;
            }
            for (int k = 0; k < st->stop && e > a; k++) {
                size_t p = e - 1;
                while (p > a && ((unsigned char)s[p] & 0xC0) == 0x80)
                    p--;
                int len;
                if (utf8_decode(s + p, e - p, &len) != st->strip_cp)
                    break;
                e = p;
            }
            rc = strbuf_append(&b, s + a, e - a, err);
        } else {
            const char *with = st->kind == TOK_DEC_REPLACE ? st->content
                             : (t == 0 && st->prepend != TOK_PREPEND_NEVER) ? "" : " ";
            const char *pat = st->kind == TOK_DEC_REPLACE ? st->pattern : st->replacement;
            while (i < n && rc == 0) {
                if (rep > 0 && i + rep <= n && memcmp(s + i, pat, rep) == 0) {
                    rc = strbuf_append(&b, with, strlen(with), err);
                    i += rep;
                } else {
                    rc = strbuf_append(&b, s + i, 1, err);
                    i++;
                }
            }
        }
        if (rc == 0)
            rc = strlist_push(out, b.data ? b.data : "", b.n_bytes, err);
    }
    strbuf_free(&b);
    return rc;
}

static int dec_fuse(StrList *in, StrList *out, Err *err) {
    StrBuf b = {0};
    int rc = 0;
    for (int64_t t = 0; t < in->n_items && rc == 0; t++)
        rc = strbuf_append(&b, in->items[t], in->n_item_bytes[t], err);
    if (rc == 0)
        rc = strlist_push(out, b.data ? b.data : "", b.n_bytes, err);
    strbuf_free(&b);
    return rc;
}

int tok_run_decoders(const Tokenizer *tok, char **pieces, size_t *piece_bytes, int64_t n,
                     char **text, Err *err) {
    StrList cur = {0};
    int rc = 0;
    for (int64_t i = 0; i < n && rc == 0; i++)
        rc = strlist_push(&cur, pieces[i], piece_bytes[i], err);
    for (int64_t k = 0; k < tok->n_dec && rc == 0; k++) {
        StrList next = {0};
        const TokDec *st = &tok->dec[k];
        switch (st->kind) {
        case TOK_DEC_BYTELEVEL: rc = dec_bytelevel(&cur, &next, err); break;
        case TOK_DEC_BYTEFALLBACK: rc = dec_bytefallback(&cur, &next, err); break;
        case TOK_DEC_FUSE: rc = dec_fuse(&cur, &next, err); break;
        default: rc = dec_per_token(st, &cur, &next, err); break;
        }
        strlist_free(&cur);
        cur = next;
    }
    StrBuf out = {0};
    /* Without a decoder HF joins the tokens with spaces. */
    for (int64_t i = 0; i < cur.n_items && rc == 0; i++) {
        if (!tok->has_decoder && i > 0)
            rc = strbuf_append(&out, " ", 1, err);
        if (rc == 0)
            rc = strbuf_append(&out, cur.items[i], cur.n_item_bytes[i], err);
    }
    if (rc == 0)
        rc = strbuf_reserve(&out, 0, err);
    strlist_free(&cur);
    if (rc != 0) {
        strbuf_free(&out);
        return -1;
    }
    out.data[out.n_bytes] = '\0';
    *text = out.data;
    return 0;
}
