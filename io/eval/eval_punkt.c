/* io/eval/eval_punkt.c -- nltk's PunktSentenceTokenizer.tokenize (English) in C.
 * Each function names the nltk/tokenize/punkt.py method it mirrors; offsets are
 * bytes where nltk counts code points, which is the same thing for slicing because
 * every boundary falls on a character. The model tables live in eval_punkt_params.c. */
#include "io/eval/eval_punkt.h"

#include <stdlib.h>
#include <string.h>

#include "io/base/vec.h"
#include "io/eval/eval_punkt_params.h"

/* One PunktToken: its text is ctx[begin, end); type is in the types arena. */
typedef struct PunktTok {
    size_t begin, end;
    size_t type_off, n_type;
    int period_final, sentbreak, abbr, ellipsis;
} PunktTok;

typedef struct PunktWork {
    PunktTok *toks;
    int64_t n_toks, cap;
    StrBuf types; /* concatenated token types */
    StrBuf tmp;
} PunktWork;

static void work_free(PunktWork *w) {
    free(w->toks);
    strbuf_free(&w->types);
    strbuf_free(&w->tmp);
}

static const char *tok_type(const PunktWork *w, const PunktTok *t) {
    return w->types.data + t->type_off;
}

/* PunktToken.__init__ + _first_pass_annotation for ctx[b, e). */
static int add_token(const EvalPunkt *pk, PunktWork *w, const char *ctx, size_t b, size_t e,
                     Err *err) {
    if (VEC_RESERVE(w->toks, w->cap, w->n_toks + 1, err) != 0)
        return -1;
    PunktTok *t = &w->toks[w->n_toks++];
    *t = (PunktTok){.begin = b, .end = e, .type_off = w->types.n_bytes};
    const char *tok = ctx + b;
    size_t n = e - b;
    /* _get_type: _RE_NUMERIC.sub("##number##", tok.lower()) */
    if (eval_py_lower(tok, n, &w->tmp, err) != 0)
        return -1;
    int numeric = eval_punkt_is_numeric(pk, w->tmp.data, w->tmp.n_bytes, err);
    if (numeric < 0)
        return -1;
    const char *ty = numeric ? "##number##" : w->tmp.data;
    t->n_type = numeric ? 10 : w->tmp.n_bytes;
    if (strbuf_append(&w->types, ty, t->n_type, err) != 0 ||
        strbuf_append(&w->types, "", 1, err) != 0) /* keep a NUL between types */
        return -1;
    t->period_final = tok[n - 1] == '.';
    /* _first_pass_annotation */
    if (n == 1 && (tok[0] == '.' || tok[0] == '?' || tok[0] == '!')) {
        t->sentbreak = 1;
    } else if (n >= 2 && strspn(tok, ".") >= n) { /* is_ellipsis: \.\.+$ */
        t->ellipsis = 1;
    } else if (t->period_final && !(n >= 2 && tok[n - 2] == '.')) {
        if (eval_py_lower(tok, n - 1, &w->tmp, err) != 0)
            return -1;
        const char *low = w->tmp.data;
        const char *dash = strrchr(low, '-'); /* tok[:-1].lower().split("-")[-1] */
        const char *last = dash ? dash + 1 : low;
        if (eval_punkt_has_abbrev(pk, low, w->tmp.n_bytes) ||
            eval_punkt_has_abbrev(pk, last, w->tmp.n_bytes - (size_t)(last - low)))
            t->abbr = 1;
        else
            t->sentbreak = 1;
    }
    return 0;
}

/* PunktBaseClass._tokenize_words: the word regex over each non-blank line. */
static int tokenize_words(const EvalPunkt *pk, PunktWork *w, const char *ctx, size_t n,
                          Err *err) {
    w->n_toks = 0;
    w->types.n_bytes = 0;
    size_t line = 0;
    while (line <= n) {
        const char *nl = memchr(ctx + line, '\n', n - line);
        size_t line_end = nl ? (size_t)(nl - ctx) : n;
        size_t sb, se;
        eval_py_strip(ctx + line, line_end - line, &sb, &se);
        size_t pos = line;
        while (sb < se && pos < line_end) { /* findall */
            size_t mb, me;
            int rc = eval_re_search(eval_punkt_word_re(pk), ctx, line_end, pos, 0, &mb, &me, err);
            if (rc < 0)
                return -1;
            if (rc == 0)
                break;
            if (add_token(pk, w, ctx, mb, me, err) != 0)
                return -1;
            pos = me;
        }
        line = line_end + 1;
    }
    return 0;
}

/* PunktToken.type_no_period / type_no_sentperiod, as a (pointer, length) pair. */
static size_t type_no_period(const PunktWork *w, const PunktTok *t) {
    const char *ty = tok_type(w, t);
    return (t->n_type > 1 && ty[t->n_type - 1] == '.') ? t->n_type - 1 : t->n_type;
}

static size_t type_no_sentperiod(const PunktWork *w, const PunktTok *t) {
    return t->sentbreak ? type_no_period(w, t) : t->n_type;
}

enum { ORTHO_FALSE = 0, ORTHO_TRUE = 1, ORTHO_UNKNOWN = 2 };

static int32_t first_cp(const char *ctx, const PunktTok *t) {
    size_t i = t->begin;
    return eval_utf8_next(ctx, t->end, &i);
}

/* PunktSentenceTokenizer._ortho_heuristic */
static int ortho_heuristic(const EvalPunkt *pk, const PunktWork *w, const char *ctx,
                           const PunktTok *t) {
    if (t->end - t->begin == 1 && strchr(";:,.!?", ctx[t->begin]) != NULL)
        return ORTHO_FALSE;
    int oc = eval_punkt_ortho(pk, tok_type(w, t), type_no_sentperiod(w, t));
    int32_t c = first_cp(ctx, t);
    if (eval_py_isupper(c) && (oc & EVAL_PUNKT_ORTHO_LC) && !(oc & EVAL_PUNKT_ORTHO_MID_UC))
        return ORTHO_TRUE;
    if (eval_py_islower(c) && ((oc & EVAL_PUNKT_ORTHO_UC) || !(oc & EVAL_PUNKT_ORTHO_BEG_LC)))
        return ORTHO_FALSE;
    return ORTHO_UNKNOWN;
}

/* PunktSentenceTokenizer._second_pass_annotation(t1, t2), t2 != NULL. */
static void second_pass(const EvalPunkt *pk, const PunktWork *w, const char *ctx,
                        PunktTok *t1, const PunktTok *t2, int is_initial) {
    if (!t1->period_final)
        return;
    const char *typ = tok_type(w, t1);
    size_t n_typ = type_no_period(w, t1);
    const char *next = tok_type(w, t2);
    size_t n_next = type_no_sentperiod(w, t2);
    if (eval_punkt_has_collocation(pk, typ, n_typ, next, n_next)) {
        t1->sentbreak = 0;
        t1->abbr = 1;
        return;
    }
    int32_t c2 = first_cp(ctx, t2);
    if ((t1->abbr || t1->ellipsis) && !is_initial) {
        if (ortho_heuristic(pk, w, ctx, t2) == ORTHO_TRUE) {
            t1->sentbreak = 1;
            return;
        }
        if (eval_py_isupper(c2) && eval_punkt_has_sent_starter(pk, next, n_next)) {
            t1->sentbreak = 1;
            return;
        }
    }
    if (is_initial || (n_typ == 10 && memcmp(typ, "##number##", 10) == 0)) {
        int s = ortho_heuristic(pk, w, ctx, t2);
        if (s == ORTHO_FALSE) {
            t1->sentbreak = 0;
            t1->abbr = 1;
            return;
        }
        if (s == ORTHO_UNKNOWN && is_initial && eval_py_isupper(c2) &&
            !(eval_punkt_ortho(pk, next, n_next) & EVAL_PUNKT_ORTHO_LC)) {
            t1->sentbreak = 0;
            t1->abbr = 1;
        }
    }
}

/* PunktSentenceTokenizer.text_contains_sentbreak: a token follows a sentence break. */
static int contains_sentbreak(const EvalPunkt *pk, PunktWork *w, const char *ctx, size_t n,
                              Err *err) {
    if (tokenize_words(pk, w, ctx, n, err) != 0)
        return -1;
    for (int64_t i = 0; i + 1 < w->n_toks; i++) {
        PunktTok *t = &w->toks[i];
        int initial = eval_punkt_is_initial(pk, ctx + t->begin, t->end - t->begin, err);
        if (initial < 0)
            return -1;
        second_pass(pk, w, ctx, t, &w->toks[i + 1], initial);
        if (t->sentbreak)
            return 1;
    }
    return 0;
}

typedef struct Span {
    size_t start, stop;
} Span;

typedef struct SpanList {
    Span *items;
    int64_t n, cap;
} SpanList;

static int span_push(SpanList *l, size_t start, size_t stop, Err *err) {
    return VEC_PUSH(l->items, l->n, l->cap, ((Span){start, stop}), err);
}

/* One period_context_re match: text[p] in ".?!", after_tok ends at after_end. */
typedef struct EndMatch {
    size_t p, after_end, next_tok; /* next_tok: start of the next token or (size_t)-1 */
} EndMatch;

static int find_end_match(const char *text, size_t n, size_t p, EndMatch *m) {
    if (text[p] != '.' && text[p] != '?' && text[p] != '!')
        return 0;
    size_t q = p + 1, j = q;
    if (q >= n)
        return 0;
    int32_t c = eval_utf8_next(text, n, &j);
    if (eval_punkt_is_nonword_char(c)) {
        *m = (EndMatch){p, j, (size_t)-1};
        return 1;
    }
    size_t r = q;
    while (r < n) {
        size_t k = r;
        if (!eval_punkt_is_rx_space(eval_utf8_next(text, n, &k)))
            break;
        r = k;
    }
    if (r == q || r >= n)
        return 0;
    size_t e = r;
    while (e < n) {
        size_t k = e;
        if (eval_punkt_is_rx_space(eval_utf8_next(text, n, &k)))
            break;
        e = k;
    }
    *m = (EndMatch){p, e, r};
    return 1;
}

/* _match_potential_end_contexts + _slices_from_text: the unaligned sentence slices. */
static int slices_from_text(const EvalPunkt *pk, PunktWork *w, const char *text, size_t n,
                            SpanList *out, Err *err) {
    size_t last_break = 0, prev_start = 0, prev_stop = 0;
    EndMatch prev = {0};
    int have_prev = 0;
    for (size_t p = 0; p <= n; p++) {
        EndMatch m;
        int at_end = p == n;
        if (!at_end && !find_end_match(text, n, p, &m))
            continue;
        size_t word_start = prev_start;
        if (!at_end) {
            size_t ws = 0; /* _get_last_whitespace_index(text[prev_stop:p]) */
            for (size_t i = p; i > prev_stop; i--)
                if (strchr(" \t\n\r\x0b\x0c", text[i - 1]) != NULL && text[i - 1] != '\0') {
                    ws = i - 1 - prev_stop;
                    break;
                }
            word_start = ws ? ws + prev_stop + 1 : prev_start;
        }
        if (have_prev && (at_end || prev_stop <= word_start)) {
            int rc = contains_sentbreak(pk, w, text + prev_start, prev.after_end - prev_start,
                                        err);
            if (rc < 0)
                return -1;
            if (rc) {
                if (span_push(out, last_break, prev.p + 1, err) != 0)
                    return -1;
                last_break = prev.next_tok != (size_t)-1 ? prev.next_tok : prev.p + 1;
            }
        }
        if (at_end)
            break;
        prev = m;
        have_prev = 1;
        prev_start = word_start;
        prev_stop = p;
    }
    size_t sb, se;
    eval_py_strip(text, n, &sb, &se);
    size_t rstrip_len = se > sb ? se : 0; /* len(text.rstrip()) */
    return span_push(out, last_break, rstrip_len, err);
}

/* PunktLanguageVars.re_boundary_realignment.match(text[s:e]): returns the match end
 * (relative to s) and the length of its closing-quote run, or 0 for no match. */
static size_t realign_match(const char *text, size_t s, size_t e, size_t *n_quotes) {
    size_t q = s;
    while (q < e) {
        size_t k = q;
        if (!eval_punkt_is_closing_quote(eval_utf8_next(text, e, &k)))
            return 0;
        q = k; /* one more quote taken (lazy +?): try what may follow */
        size_t r = q;
        while (r < e) {
            size_t j = r;
            if (!eval_punkt_is_rx_space(eval_utf8_next(text, e, &j)))
                break;
            r = j;
        }
        if (r > q || (e - q >= 2 && text[q] == '-' && text[q + 1] == '-') || q == e ||
            text[q] == '\n') {
            *n_quotes = q - s;
            return r - s;
        }
    }
    return 0;
}

int eval_punkt_split(const EvalPunkt *pk, const char *text, size_t n_bytes,
                     StrList *out, Err *err) {
    PunktWork w = {0};
    SpanList sl = {0};
    int rc = -1;
    if (slices_from_text(pk, &w, text, n_bytes, &sl, err) != 0)
        goto done;
    /* _realign_boundaries */
    size_t realign = 0;
    for (int64_t i = 0; i < sl.n; i++) {
        Span s1 = {sl.items[i].start + realign, sl.items[i].stop};
        if (s1.stop > n_bytes)
            s1.stop = n_bytes;
        if (i + 1 == sl.n) {
            if (s1.start < s1.stop && strlist_push(out, text + s1.start,
                                                        s1.stop - s1.start, err) != 0)
                goto done;
            continue;
        }
        Span s2 = sl.items[i + 1];
        size_t e2 = s2.stop < n_bytes ? s2.stop : n_bytes, n_quotes = 0;
        size_t m_end = s2.start < e2 ? realign_match(text, s2.start, e2, &n_quotes) : 0;
        if (m_end > 0) {
            size_t stop = s2.start + n_quotes;
            size_t len = stop > s1.start ? stop - s1.start : 0;
            if (strlist_push(out, text + s1.start, len, err) != 0)
                goto done;
            realign = m_end;
        } else {
            realign = 0;
            if (s1.start < s1.stop && strlist_push(out, text + s1.start,
                                                        s1.stop - s1.start, err) != 0)
                goto done;
        }
    }
    rc = 0;
done:
    free(sl.items);
    work_free(&w);
    return rc;
}
