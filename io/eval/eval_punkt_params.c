/* io/eval/eval_punkt_params.c -- the English Punkt model (nltk's PunktParameters) and the
 * PunktToken / PunktLanguageVars regexes, for io/eval_punkt.c. The model text is
 * parsed once into sorted (pointer, length) tables that point into the embedded
 * string, so nothing is copied. */
#include "io/eval/eval_punkt_params.h"

#include <stdlib.h>
#include <string.h>

#include "io/base/vec.h"

typedef struct Entry {
    const char *s;
    size_t n;
} Entry;

typedef struct Colloc {
    Entry a, b;
} Colloc;

typedef struct Ortho {
    Entry key;
    int flags;
} Ortho;

typedef struct Table { /* a growable array of fixed-size records */
    void *items;
    int64_t n, cap;
} Table;

struct EvalPunkt {
    Table abbrev, starters, collocs, ortho; /* Entry, Entry, Colloc, Ortho */
    EvalRe *word_re, *numeric_re, *initial_re;
};

static int entry_cmp(const Entry *x, const Entry *y) {
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->s, y->s, n);
    return c != 0 ? c : (x->n > y->n) - (x->n < y->n);
}

static int entry_cmp_v(const void *x, const void *y) { return entry_cmp(x, y); }
static int ortho_cmp_v(const void *x, const void *y) {
    return entry_cmp(&((const Ortho *)x)->key, &((const Ortho *)y)->key);
}
static int colloc_cmp_v(const void *x, const void *y) {
    const Colloc *p = x, *q = y;
    int c = entry_cmp(&p->a, &q->a);
    return c != 0 ? c : entry_cmp(&p->b, &q->b);
}

static void *table_add(Table *t, size_t item_bytes, Err *err) {
    if (vec_reserve(&t->items, &t->cap, t->n + 1, item_bytes, err) != 0) {
        err_prefix(err, "loading the Punkt model: ");
        return NULL;
    }
    return (char *)t->items + (size_t)t->n++ * item_bytes;
}

/* Parses the "#A/#S/#C" line sections and the "#O" word section (see the header of
 * io/eval/eval_punkt_model.c). */
static int parse_model(EvalPunkt *pk, const char *m, Err *err) {
    char section = 0;
    const char *p = m;
    while (*p != '\0' && section != 'O') {
        const char *nl = strchr(p, '\n');
        if (nl == NULL)
            return err_set(err, "Punkt model: unterminated line");
        Entry line = {p, (size_t)(nl - p)};
        p = nl + 1;
        if (line.n == 2 && line.s[0] == '#') {
            section = line.s[1];
            continue;
        }
        if (section == 'A' || section == 'S') {
            Entry *e = table_add(section == 'A' ? &pk->abbrev : &pk->starters, sizeof *e, err);
            if (e == NULL)
                return -1;
            *e = line;
        } else if (section == 'C') {
            const char *sp = memchr(line.s, ' ', line.n);
            Colloc *c = table_add(&pk->collocs, sizeof *c, err);
            if (sp == NULL || c == NULL)
                return c == NULL ? -1 : err_set(err, "Punkt model: bad collocation");
            *c = (Colloc){{line.s, (size_t)(sp - line.s)},
                          {sp + 1, line.n - (size_t)(sp - line.s) - 1}};
        } else {
            return err_set(err, "Punkt model: record outside a section");
        }
    }
    while (*p != '\0') {
        const char *sp = strchr(p, ' ');
        if (sp == NULL || sp - p < 2)
            return err_set(err, "Punkt model: bad orthographic context record");
        Ortho *o = table_add(&pk->ortho, sizeof *o, err);
        if (o == NULL)
            return -1;
        *o = (Ortho){{p, (size_t)(sp - p - 1)}, (sp[-1] - 0x30) * 2};
        p = sp + 1;
    }
    qsort(pk->abbrev.items, (size_t)pk->abbrev.n, sizeof(Entry), entry_cmp_v);
    qsort(pk->starters.items, (size_t)pk->starters.n, sizeof(Entry), entry_cmp_v);
    qsort(pk->collocs.items, (size_t)pk->collocs.n, sizeof(Colloc), colloc_cmp_v);
    qsort(pk->ortho.items, (size_t)pk->ortho.n, sizeof(Ortho), ortho_cmp_v);
    return 0;
}

/* Regexes of nltk/tokenize/punkt.py with the `regex` module's \s spelled out. */
#define MULTI_CHAR "(?:\\-{2,}|\\.{2,}|(?:\\." EVAL_RX_S "){2,}\\.)"
#define NON_WORD "(?:[)\"\\;}\\]\\*:@\\'\\({\\[\\x{2018}\\x{2019}\\x{201c}\\x{201d}\\x{ab}\\x{bb}?!])"
#define WORD_START "[^\\(\"\\`{\\[:;&\\#\\*@\\)}\\]\\-,]"
static const char WORD_RE[] =
    MULTI_CHAR "|(?=" WORD_START ")" EVAL_RX_NS "+?(?=" EVAL_RX_S "|$|" NON_WORD "|" MULTI_CHAR
    "|,(?=$|" EVAL_RX_S "|" NON_WORD "|" MULTI_CHAR "))|" EVAL_RX_NS;
static const char NUMERIC_RE[] = "^-?[\\.,]?\\d[\\d,\\.-]*\\.?$";
static const char INITIAL_RE[] = "^(?:(?!\\d)" EVAL_RX_W ")\\.$";

EvalPunkt *eval_punkt_open(Err *err) {
    EvalPunkt *pk = calloc(1, sizeof *pk);
    if (pk == NULL) {
        err_set(err, "out of memory opening the Punkt model");
        return NULL;
    }
    if (parse_model(pk, eval_punkt_english_model(), err) != 0 ||
        (pk->word_re = eval_re_compile(WORD_RE, 0, err)) == NULL ||
        (pk->numeric_re = eval_re_compile(NUMERIC_RE, 0, err)) == NULL ||
        (pk->initial_re = eval_re_compile(INITIAL_RE, 0, err)) == NULL) {
        eval_punkt_close(pk);
        return NULL;
    }
    return pk;
}

void eval_punkt_close(EvalPunkt *pk) {
    if (pk == NULL)
        return;
    free(pk->abbrev.items);
    free(pk->starters.items);
    free(pk->collocs.items);
    free(pk->ortho.items);
    eval_re_free(pk->word_re);
    eval_re_free(pk->numeric_re);
    eval_re_free(pk->initial_re);
    free(pk);
}

int eval_punkt_has_abbrev(const EvalPunkt *pk, const char *s, size_t n) {
    Entry key = {s, n};
    return bsearch(&key, pk->abbrev.items, (size_t)pk->abbrev.n, sizeof key, entry_cmp_v) != NULL;
}

int eval_punkt_has_sent_starter(const EvalPunkt *pk, const char *s, size_t n) {
    Entry key = {s, n};
    return bsearch(&key, pk->starters.items, (size_t)pk->starters.n, sizeof key,
                   entry_cmp_v) != NULL;
}

int eval_punkt_has_collocation(const EvalPunkt *pk, const char *a, size_t n_a, const char *b,
                               size_t n_b) {
    Colloc key = {{a, n_a}, {b, n_b}};
    return bsearch(&key, pk->collocs.items, (size_t)pk->collocs.n, sizeof key,
                   colloc_cmp_v) != NULL;
}

int eval_punkt_ortho(const EvalPunkt *pk, const char *s, size_t n) {
    Ortho key = {{s, n}, 0};
    const Ortho *o =
        bsearch(&key, pk->ortho.items, (size_t)pk->ortho.n, sizeof key, ortho_cmp_v);
    return o ? o->flags : 0;
}

int eval_punkt_is_numeric(const EvalPunkt *pk, const char *low, size_t n, Err *err) {
    size_t b, e;
    return eval_re_search(pk->numeric_re, low, n, 0, 0, &b, &e, err);
}

int eval_punkt_is_initial(const EvalPunkt *pk, const char *tok, size_t n, Err *err) {
    size_t b, e;
    return eval_re_search(pk->initial_re, tok, n, 0, 0, &b, &e, err);
}

const EvalRe *eval_punkt_word_re(const EvalPunkt *pk) { return pk->word_re; }

int eval_punkt_is_nonword_char(int32_t cp) {
    switch (cp) {
    case ')': case '"': case ';': case '}': case ']': case '*': case ':': case '@':
    case '\'': case '(': case '{': case '[': case 0x2018: case 0x2019: case 0x201c:
    case 0x201d: case 0xab: case 0xbb: case '?': case '!':
        return 1;
    default:
        return 0;
    }
}

int eval_punkt_is_rx_space(int32_t cp) {
    return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0x85 || cp == 0xa0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

int eval_punkt_is_closing_quote(int32_t cp) {
    return cp == '"' || cp == '\'' || cp == ')' || cp == ']' || cp == '}' || cp == 0x2018 ||
           cp == 0x2019 || cp == 0x201c || cp == 0x201d || cp == 0xab || cp == 0xbb;
}
