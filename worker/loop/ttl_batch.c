/* worker/loop/ttl_batch.c -- one stream batch: read the records, build each sample's input as
 * the reference's TTL data path does (SelfSupervisedDatasetProcessor /
 * UnsupervisedDatasetProcessor._encode_data_example: `<bos> user-turn assistant-header`
 * cut by infer_seqlen against the encoded assistant turn), keep the texts the
 * predictions file needs, and generate the answers of this rank's samples.
 * "prompt" and "label" follow LLaMA-Factory's save_predictions (the fork's
 * train/ttl/trainer.py): tokenizer.batch_decode(input_ids / labels,
 * skip_special_tokens=True), so "prompt" carries the template's text (e.g. "user\n\n...
 * assistant\n\n" for llama3) without its special tokens, and "label" is the decoded,
 * cutoff-truncated assistant turn. Arrays grow here, between batches, never in the steps. */
#include "worker/loop/ttl_batch.h"

#include <stdlib.h>
#include <string.h>

#include "worker/loop/ttl_impl.h"

/* A batch's arrays start with room for this many samples (or tokens) and double. */
#define BATCH_FIRST_CAP 64

/* Grows *p (elements of size el) to at least need, doubling; 0 or -1. */
static int grow(void **p, int64_t *cap, int64_t need, size_t el) {
    if (need <= *cap)
        return 0;
    int64_t c = *cap > 0 ? *cap : BATCH_FIRST_CAP;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, (size_t)c * el);
    if (q == NULL)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

static int grow_samples(TtlBatch *b, int32_t need) {
    if (need <= b->cap)
        return 0;
    int64_t c = b->cap, c0 = b->cap;
    const int64_t stride = b->gen_stride;
    int rc = grow((void **)&b->off, &c, need, sizeof *b->off);
    c = c0;
    rc |= grow((void **)&b->lens, &c, need, sizeof *b->lens);
    c = c0;
    rc |= grow((void **)&b->prompt, &c, need, sizeof *b->prompt);
    c = c0;
    rc |= grow((void **)&b->label, &c, need, sizeof *b->label);
    c = c0;
    rc |= grow((void **)&b->gen_lens, &c, need, sizeof *b->gen_lens);
    c = c0;
    rc |= grow((void **)&b->scores, &c, need, sizeof *b->scores);
    int64_t cg = c0 * stride;
    rc |= grow((void **)&b->gen, &cg, c * stride, sizeof *b->gen);
    if (rc != 0)
        return -1;
    b->cap = (int32_t)c;
    return 0;
}

void ttl_batch_clear(TtlBatch *b) {
    for (int32_t i = 0; i < b->n; i++) {
        free(b->prompt[i]);
        free(b->label[i]);
    }
    b->n = 0;
    b->n_tok = 0;
}

int ttl_batch_init(TtlBatch *b, int32_t slots, int64_t max_len, int32_t max_new, Err *err) {
    b->slots = slots;
    b->cap_wave_tok = (int64_t)slots * max_len;
    b->gen_stride = max_new;
    b->wave_tok = malloc((size_t)b->cap_wave_tok * sizeof *b->wave_tok);
    b->wave_lens = malloc((size_t)slots * sizeof *b->wave_lens);
    b->wave_out = malloc((size_t)slots * (size_t)max_new * sizeof *b->wave_out);
    b->wave_out_lens = malloc((size_t)slots * sizeof *b->wave_out_lens);
    if (!b->wave_tok || !b->wave_lens || !b->wave_out || !b->wave_out_lens)
        return err_set(err, "out of memory for generation staging of %d slots", slots);
    return 0;
}

void ttl_batch_free(TtlBatch *b) {
    ttl_batch_clear(b);
    free(b->wave_tok);
    free(b->wave_lens);
    free(b->wave_out);
    free(b->wave_out_lens);
    free(b->tokens);
    free(b->mask);
    free(b->off);
    free(b->lens);
    free(b->prompt);
    free(b->label);
    free(b->gen);
    free(b->gen_lens);
    free(b->scores);
    memset(b, 0, sizeof *b);
}

/* The assistant turn of the record (the reference encodes the response when the record
 * has one, else an empty turn): its ids, for the label and for infer_seqlen. */
static int encode_target(const Ttl *t, const DsSample *s, int32_t **ids, int64_t *n,
                         Err *err) {
    TmplElems e = {0};
    int rc = tmpl_format_response(t->tmpl, s->has_response ? s->label : "", &e, err);
    if (rc == 0)
        rc = tmpl_encode_elems(&e, t->tok, ids, n, err);
    tmpl_elems_free(&e);
    return rc;
}

/* Tokenizes one record into sample slot b->n. */
static int add_sample(Ttl *t, const DsSample *s, Err *err) {
    TtlBatch *b = &t->b;
    int32_t *src = NULL, *tgt = NULL;
    uint8_t *mask = NULL;
    int64_t n_src = 0, n_tgt = 0, keep_src = 0, keep_tgt = 0;
    /* The mask of the sample's own text: the loss with method.loss_tokens: content, and
     * the content-only ce of the scores file either way. */
    int rc = tmpl_encode_prompt_content(t->tmpl, t->tok, s->prompt, &src, &n_src, &mask, err);
    if (rc == 0)
        rc = encode_target(t, s, &tgt, &n_tgt, err);
    if (rc == 0) {
        /* The label is cut as the reference cuts it (LLaMA-Factory's infer_seqlen), so the
         * predictions file carries the reference's labels. The input is cut to cutoff_len
         * alone: infer_seqlen would shorten a prompt by its answer's length, and DESIGN §1
         * keeps the answer -- its length included -- out of the adaptation. */
        int64_t ref_src = 0;
        tmpl_infer_seqlen(n_src, n_tgt, t->job->data.cutoff_len, &ref_src, &keep_tgt);
        keep_src = n_src < t->job->data.cutoff_len ? n_src : t->job->data.cutoff_len;
        if (keep_src < 1)
            rc = err_set(err, "the input is empty after the %s template and cutoff_len %lld",
                         tmpl_name(t->tmpl), (long long)t->job->data.cutoff_len);
    }
    if (rc == 0 && (grow_samples(b, b->n + 1) != 0 ||
                    grow((void **)&b->tokens, &b->cap_tok, b->n_tok + keep_src,
                         sizeof *b->tokens) != 0 ||
                    grow((void **)&b->mask, &b->cap_mask, b->n_tok + keep_src,
                         sizeof *b->mask) != 0))
        rc = err_set(err, "out of memory for %d samples", b->n + 1);
    char *prompt = NULL, *label = NULL;
    if (rc == 0)
        rc = tok_decode(t->tok, src, keep_src, 1, &prompt, err);
    if (rc == 0 && tok_decode(t->tok, tgt, keep_tgt, 1, &label, err) != 0) {
        free(prompt);
        rc = -1;
    }
    if (rc == 0) {
        const int32_t i = b->n++;
        memcpy(b->tokens + b->n_tok, src, (size_t)keep_src * sizeof *src);
        memcpy(b->mask + b->n_tok, mask, (size_t)keep_src);
        b->off[i] = b->n_tok;
        b->lens[i] = (int32_t)keep_src;
        b->n_tok += keep_src;
        b->prompt[i] = prompt;
        b->label[i] = label;
        b->gen_lens[i] = 0;
        b->scores[i] = (TtlScore){0};
    }
    free(src);
    free(tgt);
    free(mask);
    return rc;
}

int ttl_batch_load(Ttl *t, int32_t max_n, int64_t first, int32_t *n_read, Err *err) {
    ttl_batch_clear(&t->b);
    *n_read = 0;
    t->b.first = first;
    while (t->b.n < max_n) {
        DsSample s = {0};
        const int rc = ds_next(t->ds, &s, err);
        if (rc < 0)
            return -1; /* ds_next names file:line */
        if (rc == 0)
            break;
        if (add_sample(t, &s, err) != 0) {
            err_prefix(err, "%s:%lld: sample %lld: ", s.file, (long long)s.line,
                       (long long)(t->b.first + t->b.n));
            ds_sample_free(&s);
            return -1;
        }
        ds_sample_free(&s);
    }
    *n_read = t->b.n;
    return 0;
}

int ttl_batch_generate(Ttl *t, int32_t from, int32_t to, Err *err) {
    TtlBatch *b = &t->b;
    const int32_t stride = b->gen_stride;
    const Lora *lora = t->core.lora; /* NULL for a method that never updates */
    int32_t i = from;
    while (i < to) {
        /* one wave: up to TTL_GEN_SLOTS of this rank's samples, packed */
        int32_t n = 0, idx[TTL_GEN_SLOTS];
        int64_t n_tok = 0;
        for (; i < to && n < b->slots; i++) {
            if (i % t->core.dp_size != t->core.dp_rank)
                continue;
            if (n_tok + b->lens[i] > b->cap_wave_tok)
                break;
            memcpy(b->wave_tok + n_tok, b->tokens + b->off[i], (size_t)b->lens[i] * 4);
            n_tok += b->lens[i];
            b->wave_lens[n] = b->lens[i];
            idx[n++] = i;
        }
        if (n == 0)
            continue;
        if (gen_run(t->gen, lora, b->wave_tok, b->wave_lens, n, stride, t->stop_ids, t->n_stop,
                    b->wave_out, b->wave_out_lens, err) != 0)
            return err_prefix(err, "generating samples %lld..%lld: ",
                              (long long)(b->first + idx[0]),
                              (long long)(b->first + idx[n - 1]));
        int64_t made = 0;
        for (int32_t j = 0; j < n; j++) {
            memcpy(b->gen + (int64_t)idx[j] * stride, b->wave_out + (int64_t)j * stride,
                   (size_t)stride * 4);
            b->gen_lens[idx[j]] = b->wave_out_lens[j];
            made += b->wave_out_lens[j];
        }
        ttl_totals_generated(&t->tot, made);
        prog_generated(&t->prog, made);
    }
    return 0;
}
