/* io/text/tok_pretok.c -- the pre-tokenizer chain: Split (a regex or string with HF's five
 * delimiter behaviors and invert), ByteLevel (optional prefix space, optional GPT-2
 * regex, then the byte -> printable-character map) and Metaspace (space -> replacement,
 * prepend scheme, optional split). Each step maps a list of pieces to a new list; pieces
 * that are already added tokens pass through untouched, empty pieces are dropped (as
 * HF's PreTokenizedString::split does). */
#include "io/text/tok_internal.h"

#include <stdlib.h>
#include <string.h>

#include "io/base/vec.h"

typedef struct Part {
    size_t a, b; /* byte range inside the piece */
    int is_match;
} Part;

typedef struct Parts {
    Part *v;
    int64_t n, cap;
} Parts;

static int parts_push(Parts *p, size_t a, size_t b, int is_match, Err *err) {
    return VEC_PUSH(p->v, p->n, p->cap, ((Part){a, b, is_match}), err);
}

/* The pieces of s[0..n) as (range, is_match), covering all of it (HF's find_matches). */
static int find_parts(const pcre2_code *re, pcre2_match_data *md, const char *s, size_t n,
                      Parts *out, Err *err) {
    size_t pos = 0, prev = 0;
    out->n = 0;
    while (pos < n) {
        int r = pcre2_match(re, (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK, md, NULL);
        if (r == PCRE2_ERROR_NOMATCH)
            break;
        if (r < 0) {
            PCRE2_UCHAR msg[128];
            pcre2_get_error_message(r, msg, sizeof msg);
            return err_set(err, "pre-tokenizer regex match failed: %s", (const char *)msg);
        }
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if (ov[1] == ov[0]) { /* an empty match splits nothing: step over one character */
            pos = ov[0] + (size_t)utf8_len((unsigned char)s[ov[0]]);
            continue;
        }
        if (ov[0] > prev && parts_push(out, prev, ov[0], 0, err) != 0)
            return -1;
        if (parts_push(out, ov[0], ov[1], 1, err) != 0)
            return -1;
        prev = pos = ov[1];
    }
    if (prev < n && parts_push(out, prev, n, 0, err) != 0)
        return -1;
    return 0;
}

/* Applies a SplitDelimiterBehavior in place: afterwards is_match == 1 means "drop". */
static void apply_behavior(Parts *p, TokSplitBehavior behavior) {
    int64_t w = 0;
    int prev_match = 0;
    switch (behavior) {
    case TOK_SPLIT_REMOVED: return; /* matches are dropped as they are */
    case TOK_SPLIT_ISOLATED:
        for (int64_t i = 0; i < p->n; i++)
            p->v[i].is_match = 0;
        return;
    case TOK_SPLIT_MERGED_PREV:
    case TOK_SPLIT_CONTIGUOUS:
        /* Left folds: a part joins the one before it when it is the first match after a
         * non-match (MergedWithPrevious) or of the same kind as it (Contiguous). */
        for (int64_t i = 0; i < p->n; i++) {
            Part cur = p->v[i];
            int joins = behavior == TOK_SPLIT_CONTIGUOUS ? cur.is_match == prev_match
                                                         : cur.is_match && !prev_match;
            if (joins && w > 0)
                p->v[w - 1].b = cur.b;
            else
                p->v[w++] = (Part){cur.a, cur.b, 0};
            prev_match = cur.is_match;
        }
        p->n = w;
        return;
    case TOK_SPLIT_MERGED_NEXT: {
        /* HF folds from the right: a match joins the piece after it. */
        w = p->n;
        for (int64_t i = p->n - 1; i >= 0; i--) {
            Part cur = p->v[i];
            if (cur.is_match && !prev_match && w < p->n)
                p->v[w].a = cur.a;
            else
                p->v[--w] = (Part){cur.a, cur.b, 0};
            prev_match = cur.is_match;
        }
        memmove(p->v, p->v + w, (size_t)(p->n - w) * sizeof *p->v);
        p->n -= w;
        return;
    }
    }
}

/* Pushes the kept parts of piece sp as new pieces. */
static int emit_parts(const Parts *p, TokSpan sp, TokSpans *out, Err *err) {
    for (int64_t i = 0; i < p->n; i++) {
        if (p->v[i].is_match || p->v[i].b == p->v[i].a)
            continue;
        TokSpan s = {sp.off + p->v[i].a, p->v[i].b - p->v[i].a, sp.at_origin && p->v[i].a == 0,
                     -1};
        if (tok_spans_push(out, s, err) != 0)
            return -1;
    }
    return 0;
}

static int split_regex(const pcre2_code *re, TokSplitBehavior behavior, int invert,
                       pcre2_match_data *md, StrBuf *buf, TokSpan sp, Parts *parts,
                       TokSpans *out, Err *err) {
    if (find_parts(re, md, buf->data + sp.off, sp.len, parts, err) != 0)
        return -1;
    if (invert)
        for (int64_t i = 0; i < parts->n; i++)
            parts->v[i].is_match = !parts->v[i].is_match;
    apply_behavior(parts, behavior);
    return emit_parts(parts, sp, out, err);
}

/* Copies the piece into buf with every byte replaced by its GPT-2 character. */
static int byte_map(StrBuf *buf, TokSpan sp, TokSpans *out, Err *err) {
    if (strbuf_reserve(buf, sp.len * 2, err) != 0)
        return -1;
    size_t start = buf->n_bytes;
    for (size_t i = 0; i < sp.len; i++) {
        char enc[4];
        int k = utf8_encode(tok_byte_to_cp((unsigned char)buf->data[sp.off + i]), enc);
        memcpy(buf->data + buf->n_bytes, enc, (size_t)k);
        buf->n_bytes += (size_t)k;
    }
    buf->data[buf->n_bytes] = '\0';
    return tok_spans_push(out, (TokSpan){start, buf->n_bytes - start, sp.at_origin, -1}, err);
}

static int step_bytelevel(const TokPre *st, pcre2_match_data *md, StrBuf *buf, TokSpan sp,
                          Parts *parts, TokSpans *out, Err *err) {
    if (st->add_prefix_space && (sp.len == 0 || buf->data[sp.off] != ' ')) {
        if (strbuf_reserve(buf, sp.len + 1, err) != 0)
            return -1;
        size_t start = buf->n_bytes;
        buf->data[buf->n_bytes++] = ' ';
        memcpy(buf->data + buf->n_bytes, buf->data + sp.off, sp.len);
        buf->n_bytes += sp.len;
        buf->data[buf->n_bytes] = '\0';
        sp = (TokSpan){start, sp.len + 1, sp.at_origin, -1};
    }
    TokSpans tmp = {0};
    int rc = 0;
    if (st->re != NULL)
        rc = split_regex(st->re, TOK_SPLIT_ISOLATED, 0, md, buf, sp, parts, &tmp, err);
    else
        rc = tok_spans_push(&tmp, sp, err);
    for (int64_t i = 0; rc == 0 && i < tmp.n; i++)
        rc = byte_map(buf, tmp.v[i], out, err);
    tok_spans_free(&tmp);
    return rc;
}

static int step_metaspace(const TokPre *st, StrBuf *buf, TokSpan sp, Parts *parts,
                          TokSpans *out, Err *err) {
    size_t rep_bytes = strlen(st->replacement);
    size_t n_space = 0;
    for (size_t i = 0; i < sp.len; i++)
        n_space += buf->data[sp.off + i] == ' ';
    if (strbuf_reserve(buf, sp.len + (n_space + 1) * rep_bytes, err) != 0)
        return -1;
    size_t start = buf->n_bytes;
    const char *src = buf->data + sp.off; /* after the reserve: no realloc below */
    int starts_rep = (sp.len > 0 && src[0] == ' ') ||
                     (sp.len >= rep_bytes && memcmp(src, st->replacement, rep_bytes) == 0);
    int prepend = !starts_rep && (st->prepend == TOK_PREPEND_ALWAYS ||
                                  (st->prepend == TOK_PREPEND_FIRST && sp.at_origin));
    char *dst = buf->data + buf->n_bytes;
    if (prepend) {
        memcpy(dst, st->replacement, rep_bytes);
        dst += rep_bytes;
    }
    for (size_t i = 0; i < sp.len; i++) {
        if (src[i] == ' ') {
            memcpy(dst, st->replacement, rep_bytes);
            dst += rep_bytes;
        } else {
            *dst++ = src[i];
        }
    }
    buf->n_bytes = (size_t)(dst - buf->data);
    buf->data[buf->n_bytes] = '\0';
    TokSpan whole = {start, buf->n_bytes - start, sp.at_origin, -1};
    if (!st->split)
        return tok_spans_push(out, whole, err);
    /* Split before every replacement character (MergedWithNext). */
    parts->n = 0;
    size_t prev = 0;
    for (size_t i = 0; i + rep_bytes <= whole.len; i++) {
        if (memcmp(buf->data + whole.off + i, st->replacement, rep_bytes) != 0)
            continue;
        if (i > prev && parts_push(parts, prev, i, 0, err) != 0)
            return -1;
        if (parts_push(parts, i, i + rep_bytes, 1, err) != 0)
            return -1;
        prev = i + rep_bytes;
        i += rep_bytes - 1;
    }
    if (prev < whole.len && parts_push(parts, prev, whole.len, 0, err) != 0)
        return -1;
    apply_behavior(parts, TOK_SPLIT_MERGED_NEXT);
    return emit_parts(parts, whole, out, err);
}

int tok_pretokenize(const Tokenizer *tok, StrBuf *buf, TokSpans *spans, Err *err) {
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    Parts parts = {0};
    int rc = md != NULL ? 0 : err_set(err, "out of memory (regex match data)");
    for (int64_t k = 0; k < tok->n_pre && rc == 0; k++) {
        const TokPre *st = &tok->pre[k];
        TokSpans next = {0};
        for (int64_t i = 0; i < spans->n && rc == 0; i++) {
            TokSpan sp = spans->v[i];
            if (sp.id >= 0)
                rc = tok_spans_push(&next, sp, err);
            else if (st->kind == TOK_PRE_SPLIT)
                rc = split_regex(st->re, st->behavior, st->invert, md, buf, sp, &parts, &next,
                                 err);
            else if (st->kind == TOK_PRE_BYTELEVEL)
                rc = step_bytelevel(st, md, buf, sp, &parts, &next, err);
            else
                rc = step_metaspace(st, buf, sp, &parts, &next, err);
        }
        tok_spans_free(spans);
        *spans = next;
    }
    free(parts.v);
    pcre2_match_data_free(md);
    return rc;
}
