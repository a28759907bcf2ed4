/* tests/worker/methods/mtest.h -- the step fixture shared by the method tests: a tiny random
 * model (tests/worker/wtest.h) whose final norm is scaled so its next-token entropies
 * straddle EATA's E0, a fixed set of samples (prompts of 4..12 tokens, answers of 0..7
 * generated tokens, one empty) and an independent double-precision reference of every
 * entropy objective computed from the model's logits. Test code: exits on setup errors. */
#ifndef TLM_TESTS_METHODS_MTEST_H
#define TLM_TESTS_METHODS_MTEST_H

#include <stdint.h>

#include "worker/methods/method.h"

#define MT_N 6          /* samples of the step */
#define MT_MAX_LEN 12   /* longest prompt */
#define MT_GEN_STRIDE 8 /* generated tokens kept per sample */

typedef struct MtFixture {
    Model *m;
    int64_t V;
    int32_t tokens[MT_N * MT_MAX_LEN], lens[MT_N];
    int32_t gen[MT_N * MT_GEN_STRIDE], gen_lens[MT_N];
    /* the MethodStep's buffers */
    float ce[MT_N], weight[MT_N], dce[MT_N];
    uint8_t selected[MT_N];
} MtFixture;

/* Writes the tiny model under the test dir (name), its final norm scaled by norm_scale,
 * opens it on the CPU backend with room for MT_N samples of MT_MAX_LEN + 80 tokens, and
 * fills the samples. */
void mt_open(MtFixture *f, const char *name, double norm_scale);
void mt_close(MtFixture *f);

/* A step over all MT_N samples, for dp rank dp_rank, with the method's state. */
MethodStep mt_step(MtFixture *f, Lora *lora, const MethodParams *p, void *state, int dp_rank);

/* The reference: per sample the mean over its first min(G, 80) generation positions of
 * the entropy of softmax(z ++ extra) (extra = -inf or log V), z scaled to norm0 when
 * norm0 != NULL (norm0 (T) per packed row: COME's constraint held at a base point; pass
 * NULL to get the row norms out through norm_out (T) instead). mean (MT_N); n_rows (MT_N)
 * gets G. Uses an inference forward with lora (borrowed). */
void mt_ref_entropy(MtFixture *f, const Lora *lora, double extra, const double *norm0,
                    double *norm_out, double *mean, int32_t *n_rows);

#endif
