/* io/eval/eval_extract.c -- scripts/eval/eval_utils.py's answer extractors in C.
 * Regexes are Python's, compiled with PCRE2 (UTF + UCP, whose \d and \b are Python
 * re's for str patterns) with \s spelled out as Python's isspace set (EVAL_RE_S). */
#define _GNU_SOURCE /* memmem */
#include "io/eval/eval_extract.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/eval/eval_text.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

static int dup_out(const char *s, size_t n, char **out, Err *err) {
    *out = malloc(n + 1);
    if (*out == NULL)
        return err_set(err, "out of memory copying a %zu-byte answer", n);
    memcpy(*out, s, n);
    (*out)[n] = '\0';
    return 0;
}

/* Searches s[0..n) for pattern; 1 with the group span, 0 for none, -1 on error. */
static int search(const char *pattern, uint32_t flags, const char *s, size_t n, size_t start,
                  int group, size_t *b, size_t *e, Err *err) {
    EvalRe *re = eval_re_compile(pattern, flags, err);
    if (re == NULL)
        return -1;
    int rc = eval_re_search(re, s, n, start, group, b, e, err);
    eval_re_free(re);
    return rc;
}

int eval_extract_gsm8k(const char *completion, size_t n_bytes, char **out, Err *err) {
    *out = NULL;
    /* re.split(r'[\s\n\n]+'), keep tokens with a digit, take the last one. */
    size_t last_b = 0, last_e = 0, i = 0;
    int found = 0;
    while (i < n_bytes) {
        size_t b = i, j = i;
        if (eval_py_isspace(eval_utf8_next(completion, n_bytes, &j))) {
            i = j;
            continue;
        }
        int has_digit = 0;
        while (i < n_bytes) {
            j = i;
            int32_t c = eval_utf8_next(completion, n_bytes, &j);
            if (eval_py_isspace(c))
                break;
            has_digit |= eval_py_digit(c) >= 0;
            i = j;
        }
        if (has_digit) {
            last_b = b;
            last_e = i;
            found = 1;
        }
    }
    if (!found)
        return 0;
    /* re.sub(r'[^\d,\.-]', '', token).replace(',', '') with digits made ASCII, as
     * float() reads any Nd digit; then .strip('.'). */
    char *buf = malloc(last_e - last_b + 1);
    if (buf == NULL)
        return err_set(err, "out of memory for a %zu-byte number", last_e - last_b);
    size_t n = 0;
    for (size_t k = last_b; k < last_e;) {
        int32_t c = eval_utf8_next(completion, last_e, &k);
        int d = eval_py_digit(c);
        if (d >= 0)
            buf[n++] = (char)('0' + d);
        else if (c == '.' || c == '-')
            buf[n++] = (char)c;
    }
    size_t b = 0, e = n;
    while (b < e && buf[b] == '.')
        b++;
    while (e > b && buf[e - 1] == '.')
        e--;
    buf[e] = '\0';
    const char *x = buf + b;
    const char *dot = strchr(x, '.'), *minus = strchr(x, '-');
    int bad = (dot && strchr(dot + 1, '.')) || (minus && strchr(minus + 1, '-')) ||
              (minus && minus != x); /* the last: not ^-?\d*\.?\d*$ */
    double v = bad ? 0.0 : strtod(x, NULL);
    free(buf);
    if (bad || isinf(v)) /* round(inf) raises OverflowError: None */
        return 0;
    v = rint(v); /* round(): half to even */
    char s[400];
    if (fabs(v) < 1e18)
        snprintf(s, sizeof s, "%lld", (long long)v);
    else
        snprintf(s, sizeof s, "%.0f", v); /* exact for integral doubles, as str(int) */
    return dup_out(s, strlen(s), out, err);
}

/* re.search(r'\b[A-D]\b', s[b..e)) as a fresh string: the letter or "". */
static int option_in(const char *s, size_t b, size_t e, char **out, Err *err) {
    size_t mb, me;
    int rc = search("\\b[A-D]\\b", 0, s + b, e - b, 0, 0, &mb, &me, err);
    if (rc < 0)
        return -1;
    return rc ? dup_out(s + b + mb, 1, out, err) : dup_out("", 0, out, err);
}

static const char *find(const char *s, size_t n, const char *needle) {
    return memmem(s, n, needle, strlen(needle));
}

int eval_extract_logiqa(const char *c, size_t n, char **out, Err *err) {
    *out = NULL;
    size_t j = 2;
    if (n >= 3 && c[0] >= 'A' && c[0] <= 'D' && c[1] == '.' &&
        eval_py_isspace(eval_utf8_next(c, n, &j)))
        return dup_out(c, 1, out, err);
    const char *ans = find(c, n, "Answer: "), *expl = find(c, n, "Explanation");
    if (ans && expl) {
        size_t b, e;
        int rc = search("Answer:" EVAL_RE_S "*(.*?)" EVAL_RE_S "*Explanation", PCRE2_DOTALL,
                        c, n, 0, 1, &b, &e, err);
        if (rc < 0)
            return -1;
        if (rc == 0) { /* re.split(r'Answer: ', completion)[1] */
            b = (size_t)(ans - c) + 8;
            const char *next = find(c + b, n - b, "Answer: ");
            e = next ? (size_t)(next - c) : n;
        }
        return option_in(c, b, e, out, err);
    }
    if (expl)
        return option_in(c, 0, (size_t)(expl - c), out, err);
    if (ans || find(c, n, "answer is")) {
        size_t b, e;
        int rc = search("Answer:" EVAL_RE_S "*|answer is" EVAL_RE_S "*", 0, c, n, 0, 0, &b, &e,
                        err);
        if (rc < 0)
            return -1;
        return option_in(c, rc ? e : n, n, out, err);
    }
    return option_in(c, 0, n, out, err);
}

/* Python str.replace(old, "") on buf in place: one left-to-right pass, so text
 * joined by a removal is not searched again. */
static void remove_all(char *buf, const char *old) {
    size_t k = strlen(old);
    char *p = buf;
    while ((p = strstr(p, old)) != NULL)
        memmove(p, p + k, strlen(p + k) + 1);
}

/* eval_utils.py post_process of s[b..e). */
static int post_process(const char *s, size_t b, size_t e, char **out, Err *err) {
    if (dup_out(s + b, e - b, out, err) != 0)
        return -1;
    remove_all(*out, "^{\\circ}");
    remove_all(*out, "^\\circ");
    remove_all(*out, "\\$");
    remove_all(*out, "\\%");
    remove_all(*out, " ");
    return 0;
}

/* re.split(r"[Tt]herefore|[Ss]o", s): -1 when nothing splits, else where the last
 * piece starts (through *tail); -2 on error. */
static int last_piece(const char *s, size_t n, size_t *tail, Err *err) {
    EvalRe *re = eval_re_compile("[Tt]herefore|[Ss]o", 0, err);
    if (re == NULL)
        return -2;
    size_t pos = 0, b, e;
    int rc, found = 0;
    while ((rc = eval_re_search(re, s, n, pos, 0, &b, &e, err)) == 1) {
        found = 1;
        pos = e;
    }
    eval_re_free(re);
    if (rc < 0)
        return -2;
    *tail = pos;
    return found ? 0 : -1;
}

int eval_extract_metamath(const char *c, size_t n, const char *label, size_t n_label,
                          char **out, Err *err) {
    *out = NULL;
    size_t b, e, tail;
    int has_text = find(label, n_label, "\\text{") != NULL;
    if (has_text || memchr(label, ':', n_label) != NULL) {
        const char *content = label;
        size_t n_content = n_label;
        if (has_text) { /* re.search(r'\\text{(.*?)}', label).group(1) */
            int rc = search("\\\\text\\{(.*?)\\}", 0, label, n_label, 0, 1, &b, &e, err);
            if (rc <= 0)
                return rc; /* no match: the reference raises; None here */
            content = label + b;
            n_content = e - b;
        }
        int rc = last_piece(c, n, &tail, err);
        if (rc == -2)
            return -1;
        if (rc == 0 && (n_content == 0 || memmem(c + tail, n - tail, content, n_content)))
            return dup_out(label, n_label, out, err);
        return 0;
    }
    if (n_label > 0 && label[0] == '(') { /* content = "": in every piece */
        int rc = last_piece(c, n, &tail, err);
        return rc == -2 ? -1 : rc == 0 ? dup_out(label, n_label, out, err) : 0;
    }
    int rc = search("\\\\boxed\\{(.*)\\}", 0, c, n, 0, 1, &b, &e, err);
    if (rc < 0)
        return -1;
    if (rc)
        return post_process(c, b, e, out, err);
    EvalRe *frac = eval_re_compile("\\\\frac\\{\\d\\}\\{\\d\\}", 0, err);
    if (frac == NULL)
        return -1;
    size_t pos = 0, fb = 0, fe = 0;
    int found = 0;
    while ((rc = eval_re_search(frac, c, n, pos, 0, &b, &e, err)) == 1) {
        found = 1;
        fb = b;
        fe = pos = e;
    }
    eval_re_free(frac);
    if (rc < 0)
        return -1;
    if (found)
        return post_process(c, fb, fe, out, err);
    return eval_extract_gsm8k(c, n, out, err);
}

int eval_answer_correct(const char *extracted, const char *label, size_t n_label) {
    if (extracted == NULL)
        return 0;
    size_t b = 0, e = n_label;
    while (b < e && label[b] == '\n')
        b++;
    while (e > b && label[e - 1] == '\n')
        e--;
    return strlen(extracted) == e - b && memcmp(extracted, label + b, e - b) == 0;
}
