/* worker/loop/ttl_batch.h -- one stream batch of the TTL loop: its samples read from the
 * dataset and tokenized with the chat template, the texts the predictions file needs, and
 * the answers this rank generates for them, a wave of up to TTL_GEN_SLOTS samples at a
 * time. The batch's arrays grow while a batch is loaded, never inside the update steps;
 * the generation staging is sized once by ttl_batch_init. Only ttl_batch.c writes a
 * batch, except the rows other dp ranks produced (ttl_comm_gather). Not thread-safe. */
#ifndef TLM_WORKER_TTL_BATCH_H
#define TLM_WORKER_TTL_BATCH_H

#include <stdint.h>

#include "io/base/err.h"
#include "worker/loop/ttl_core.h"

/* Sequences decoded together per generation wave (fewer when a stream batch is smaller).
 * Every decode step is one forward over the wave's rows, so more rows share each read of
 * the weights; the generator's KV cache holds slots x (cutoff_len + max_new_tokens)
 * positions per layer, which is what bounds it: at 16, Llama-3-8B at cutoff 4096 + 512
 * new tokens needs 16 x 4608 positions x 32 layers x 8 KV heads x 128 x 2 (K, V) x 2
 * bytes (bf16) = 9.7 GB beside the 16 GB of weights. */
#define TTL_GEN_SLOTS 16

/* The samples of one stream batch (offline: of the whole stream), host memory. */
typedef struct TtlBatch {
    int32_t n, cap;          /* samples loaded / capacity */
    int64_t first;           /* stream index of sample 0 */
    int32_t *tokens;         /* packed input ids */
    int64_t n_tok, cap_tok;
    /* packed like tokens: 1 on the sample's own text (the loss of method.loss_tokens:
     * content; the content-only ce of the scores either way) */
    uint8_t *mask;
    int64_t cap_mask;
    int64_t *off;            /* (cap) */
    int32_t *lens;           /* (cap) */
    char **prompt, **label;  /* (cap) owned strings: decoded input, decoded label */
    int32_t *gen, *gen_lens; /* (cap, gen_stride), (cap) */
    int32_t gen_stride;      /* max_new_tokens */
    TtlScore *scores;        /* (cap) */
    /* this rank's staging for one generation wave, sized by ttl_batch_init */
    int32_t slots;           /* samples per wave */
    int64_t cap_wave_tok;    /* input tokens per wave: slots * cutoff_len */
    int32_t *wave_tok, *wave_lens;     /* (cap_wave_tok), (slots) */
    int32_t *wave_out, *wave_out_lens; /* (slots, gen_stride), (slots) */
} TtlBatch;

struct Ttl;

/* Sizes b's generation staging for waves of `slots` samples of up to max_len input tokens
 * and answers of up to max_new tokens. Errors: out of memory. */
int ttl_batch_init(TtlBatch *b, int32_t slots, int64_t max_len, int32_t max_new, Err *err);
/* Reads up to max_n samples (until the stream ends) into t->b, tokenized with the
 * template and cut to cutoff_len; the decoded input and label are kept for the
 * predictions file. first: the stream index of the batch's first sample. Sets *n_read.
 * Errors name the data file:line and the sample. */
int ttl_batch_load(struct Ttl *t, int32_t max_n, int64_t first, int32_t *n_read, Err *err);
/* Greedy answers for samples [from, to) of t->b that belong to this dp rank, with the
 * current adapter (none for a method that never updates), into t->b.gen / gen_lens;
 * counts the generated tokens into the run's totals and progress. */
int ttl_batch_generate(struct Ttl *t, int32_t from, int32_t to, Err *err);
void ttl_batch_clear(TtlBatch *b); /* frees the strings, keeps the arrays */
void ttl_batch_free(TtlBatch *b);  /* accepts a zeroed struct; safe twice */

#endif
