/* io/text/chat_template_encode.c -- formatted chat turns into token ids, as the reference's
 * _convert_elements_to_ids does (each text element encoded alone, without special
 * tokens), with the token range of every element recorded; the cutoff_len truncation
 * (processor_utils.py infer_seqlen) and the stop ids (Template.get_stop_token_ids). */
#include "io/text/chat_template.h"

#include <stdlib.h>
#include <string.h>

#include "io/base/vec.h"

int tmpl_encode_elems_spans(const TmplElems *e, const Tokenizer *tok, int32_t **ids,
                            int64_t *n_ids, TmplSpan *spans, Err *err) {
    /* The caller's array carries no capacity: *n_ids is all that is known to be there. */
    int64_t cap = *n_ids;
    for (int i = 0; i < e->n_elems; i++) {
        const TmplElem *el = &e->elems[i];
        if (spans != NULL)
            spans[i].begin = spans[i].end = *n_ids;
        int32_t one = el->kind == TMPL_ELEM_BOS   ? tok_bos_id(tok)
                      : el->kind == TMPL_ELEM_EOS ? tok_eos_id(tok)
                                                  : -1;
        if (el->kind != TMPL_ELEM_TEXT) {
            /* _convert_elements_to_ids adds bos/eos only when the tokenizer has one. */
            if (one >= 0 && VEC_APPEND(*ids, *n_ids, cap, &one, 1, err) != 0)
                return err_prefix(err, "encoding a chat turn: ");
            if (spans != NULL)
                spans[i].end = *n_ids;
            continue;
        }
        size_t n_bytes = strlen(el->text);
        if (n_bytes == 0) /* `if len(elem) != 0` in _convert_elements_to_ids */
            continue;
        int32_t *part = NULL;
        int64_t n_part = 0;
        if (tok_encode(tok, el->text, n_bytes, 0, &part, &n_part, err) != 0)
            return err_prefix(err, "encoding chat template element %d: ", i);
        int rc = VEC_APPEND(*ids, *n_ids, cap, part, n_part, err);
        free(part);
        if (rc != 0)
            return err_prefix(err, "encoding a chat turn: ");
        if (spans != NULL)
            spans[i].end = *n_ids;
    }
    return 0;
}

int tmpl_encode_elems(const TmplElems *e, const Tokenizer *tok, int32_t **ids,
                      int64_t *n_ids, Err *err) {
    return tmpl_encode_elems_spans(e, tok, ids, n_ids, NULL, err);
}

/* Formats and encodes one turn into fresh owned ids. */
static int encode_turn(const ChatTemplate *t, const Tokenizer *tok, const char *text,
                       int is_prompt, int32_t **ids, int64_t *n_ids, Err *err) {
    TmplElems e = {0};
    char *sys = NULL;
    *ids = NULL;
    *n_ids = 0;
    int rc = is_prompt ? tmpl_default_system(t, tok, &sys, err) : 0;
    if (rc == 0)
        rc = is_prompt ? tmpl_format_prompt(t, text, sys, &e, err)
                       : tmpl_format_response(t, text, &e, err);
    free(sys);
    if (rc == 0)
        rc = tmpl_encode_elems(&e, tok, ids, n_ids, err);
    tmpl_elems_free(&e);
    if (rc != 0) {
        free(*ids);
        *ids = NULL;
        *n_ids = 0;
    }
    return rc;
}

int tmpl_encode_prompt(const ChatTemplate *t, const Tokenizer *tok, const char *prompt,
                       int32_t **ids, int64_t *n_ids, Err *err) {
    return encode_turn(t, tok, prompt, 1, ids, n_ids, err);
}

void tmpl_infer_seqlen(int64_t source_len, int64_t target_len, int64_t cutoff_len,
                       int64_t *new_source_len, int64_t *new_target_len) {
    int64_t max_target;
    if (target_len * 2 < cutoff_len) /* short answer: truncate the prompt */
        max_target = cutoff_len;
    else if (source_len * 2 < cutoff_len) /* short prompt: truncate the answer */
        max_target = cutoff_len - source_len;
    else /* both long: share the cutoff in proportion, int() truncating as Python does */
        max_target = (int64_t)((double)cutoff_len *
                               ((double)target_len / (double)(source_len + target_len)));
    int64_t tgt = target_len < max_target ? target_len : max_target;
    int64_t max_source = cutoff_len - tgt > 0 ? cutoff_len - tgt : 0;
    *new_target_len = tgt;
    *new_source_len = source_len < max_source ? source_len : max_source;
}

int tmpl_encode_input(const ChatTemplate *t, const Tokenizer *tok, const char *prompt,
                      const char *response, int64_t cutoff_len, int32_t **ids,
                      int64_t *n_ids, int64_t *n_target_ids, Err *err) {
    if (cutoff_len <= 0)
        return err_set(err, "cutoff_len must be positive, got %lld", (long long)cutoff_len);
    int32_t *target = NULL;
    int64_t n_target = 0;
    /* No response turn in the record: the reference appends an empty assistant turn. */
    if (encode_turn(t, tok, response != NULL ? response : "", 0, &target, &n_target, err))
        return -1;
    free(target);
    if (encode_turn(t, tok, prompt, 1, ids, n_ids, err) != 0)
        return -1;
    int64_t n_src = 0, n_tgt = 0;
    tmpl_infer_seqlen(*n_ids, n_target, cutoff_len, &n_src, &n_tgt);
    *n_ids = n_src; /* input_ids[:source_len]: the head survives */
    if (n_target_ids != NULL)
        *n_target_ids = n_target;
    return 0;
}

int tmpl_stop_ids(const ChatTemplate *t, const Tokenizer *tok, int32_t *ids, int max_ids) {
    int32_t cand[1 + 2];
    int n_cand = 0, n = 0;
    cand[n_cand++] = tok_eos_id(tok);
    int n_words;
    const char *const *words = tmpl_stop_words(t, &n_words);
    for (int i = 0; i < n_words && n_cand < 3; i++)
        cand[n_cand++] = tok_id(tok, words[i]);
    for (int i = 0; i < n_cand; i++) {
        int dup = cand[i] < 0;
        for (int j = 0; j < n && !dup; j++)
            dup = ids[j] == cand[i];
        if (!dup && n < max_ids)
            ids[n++] = cand[i];
    }
    return n;
}
