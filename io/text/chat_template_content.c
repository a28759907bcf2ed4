/* io/text/chat_template_content.c -- which tokens of a sample's input are the sample's own
 * text (method.loss_tokens: content): the prompt inside the user turn, without the
 * template's fixed text, special tokens and system prompt. Elements are encoded as the
 * reference encodes them (tmpl_encode_elems_spans), so the ids are exactly those of
 * tmpl_encode_prompt; inside an element the byte range of the content is mapped to
 * tokens through the decoded length of each token prefix. A token that straddles the
 * boundary (BPE may merge a template "\n" with the content's first letter) counts as
 * content. */
#include "io/text/chat_template.h"

#include <stdlib.h>
#include <string.h>

/* Bytes of text the first k ids of one element stand for: the decoded length, plus what
 * decoding drops at the start (SentencePiece's prepended space), capped at the text. */
static int prefix_bytes(const Tokenizer *tok, const int32_t *ids, int64_t k, int64_t delta,
                        int64_t text_bytes, int64_t *out, Err *err) {
    if (k == 0) {
        *out = 0;
        return 0;
    }
    char *s = NULL;
    if (tok_decode(tok, ids, k, 0, &s, err) != 0)
        return -1;
    const int64_t n = (int64_t)strlen(s) + delta;
    free(s);
    *out = n < text_bytes ? n : text_bytes;
    return 0;
}

/* The smallest k in [lo, hi] with prefix_bytes(k + shift) > bound (strict) or >= bound;
 * prefix_bytes grows with k, so a binary search finds it in log2(n) decodes. */
static int search(const Tokenizer *tok, const int32_t *ids, int64_t lo, int64_t hi,
                  int64_t shift, int64_t bound, int strict, int64_t delta, int64_t text_bytes,
                  int64_t *out, Err *err) {
    while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        int64_t p;
        if (prefix_bytes(tok, ids, mid + shift, delta, text_bytes, &p, err) != 0)
            return -1;
        if (strict ? p > bound : p >= bound)
            hi = mid;
        else
            lo = mid + 1;
    }
    *out = lo;
    return 0;
}

/* Marks mask[k0, k1) of one element's ids (n of them) whose content is text[cb, ce). */
static int mark_element(const Tokenizer *tok, const TmplElem *el, const int32_t *ids,
                        int64_t n, uint8_t *mask, Err *err) {
    const int64_t text_bytes = (int64_t)strlen(el->text);
    int64_t whole;
    if (prefix_bytes(tok, ids, n, 0, text_bytes, &whole, err) != 0)
        return -1;
    const int64_t delta = text_bytes - whole > 0 ? text_bytes - whole : 0;
    int64_t k0, k1;
    /* first token ending after the content begins; first one starting at its end */
    if (search(tok, ids, 0, n, 1, el->content_begin, 1, delta, text_bytes, &k0, err) != 0 ||
        search(tok, ids, k0, n, 0, el->content_end, 0, delta, text_bytes, &k1, err) != 0)
        return -1;
    for (int64_t k = k0; k < k1; k++)
        mask[k] = 1;
    return 0;
}

int tmpl_encode_prompt_content(const ChatTemplate *t, const Tokenizer *tok, const char *prompt,
                               int32_t **ids, int64_t *n_ids, uint8_t **mask, Err *err) {
    TmplElems e = {0};
    TmplSpan spans[TMPL_MAX_ELEMS];
    char *sys = NULL;
    *ids = NULL;
    *n_ids = 0;
    *mask = NULL;
    int rc = tmpl_default_system(t, tok, &sys, err);
    if (rc == 0)
        rc = tmpl_format_prompt(t, prompt, sys, &e, err);
    free(sys);
    if (rc == 0)
        rc = tmpl_encode_elems_spans(&e, tok, ids, n_ids, spans, err);
    if (rc == 0 && (*mask = calloc((size_t)(*n_ids > 0 ? *n_ids : 1), 1)) == NULL)
        rc = err_set(err, "out of memory for the content mask of %lld tokens",
                     (long long)*n_ids);
    for (int i = 0; rc == 0 && i < e.n_elems; i++) {
        const TmplElem *el = &e.elems[i];
        if (el->kind == TMPL_ELEM_TEXT && el->content_begin >= 0 &&
            el->content_end > el->content_begin && spans[i].end > spans[i].begin)
            rc = mark_element(tok, el, *ids + spans[i].begin, spans[i].end - spans[i].begin,
                              *mask + spans[i].begin, err);
    }
    tmpl_elems_free(&e);
    if (rc != 0) {
        free(*ids);
        free(*mask);
        *ids = NULL;
        *mask = NULL;
        *n_ids = 0;
    }
    return rc;
}
