/* tests/worker/model/tptest.h -- helpers of the tensor-parallel test (test_tp.c, tp_checks.c): the
 * comm the test runs on, errors reduced over the world so every rank reports the same
 * numbers and verdict, and comparisons of a tp model / sharded adapter with a tp = 1
 * model / adapter each rank holds beside it (the single-rank reference, in process).
 * Collective over the world: every rank calls every helper in the same order. */
#ifndef TLM_TESTS_TP_TPTEST_H
#define TLM_TESTS_TP_TPTEST_H

#include <stdint.h>

#include "comm/comm.h"
#include "io/model/safetensors.h"
#include "worker/adapter/lora.h"
#include "worker/model/model.h"

/* One model under test: its tp slice (m, comm) and the tp = 1 reference (ref). */
typedef struct TpCase {
    const char *name, *dir; /* borrowed */
    Comm *comm;             /* borrowed: world, tp and dp groups */
    Model *m, *ref;
    SafeTensors *golden;    /* golden.safetensors or NULL */
    int world_rank;
    /* inputs (host, owned by the caller): the batch, the TTL stream (one sequence per
     * step) and the generation prompts; golden ones when the case has them */
    int32_t *tok, *lens, *ttl_tok, *ttl_lens, *prompts, *prompt_lens;
    int64_t n_seqs, n_ttl, n_prompts;
    int32_t max_new;
    LoraConfig lc;          /* the batch's adapter (all targets) */
    LoraConfig ttl_lc;      /* the TTL adapter (q, v) */
    double thr, lamb, lr;   /* TLM threshold, lamb, AdamW lr */
    const char *init_prefix, *ttl_init_prefix; /* golden keys, or NULL: random adapter */
    double tol;             /* logits, ce, gradients and grad norm vs tp = 1 (per tensor and
                             * the final adapter: 10 tol); 0 = 1e-5 */
} TpCase;

/* The maximum of x over the world (every rank gets it). */
double tp_max(Comm *c, double x);
/* Sum of n over the world. */
int tp_sum_int(Comm *c, int n);

/* Prints on world rank 0 only (the numbers are world-reduced, so identical). */
void tp_note(const TpCase *tc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "FAIL: ..." on world rank 0 and returns 1. */
int tp_fail(const TpCase *tc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* max|got - want| / max|want| over the last pass's logits, the tp model's vocabulary
 * slice against the same columns of the reference's, world-reduced. */
double tp_logits_err(const TpCase *tc);

/* Worst norm-wise relative error per tensor (PEFT layout) between the sharded adapter's
 * part, gathered, and the reference adapter's; *whole (may be NULL) gets the norm-wise
 * error of the whole adapter. Collective over the world. */
double tp_adapter_err(const TpCase *tc, Lora *l, Lora *ref, LoraPart part, double *whole);

/* Worst norm-wise relative error per tensor of the gathered `part` of l against golden
 * tensors prefix + PEFT key. Collective over the world. */
double tp_adapter_golden_err(const TpCase *tc, Lora *l, LoraPart part, const char *prefix);

/* 1 when every dp replica holds bit-identical adapter params on every rank (a checksum of
 * this rank's slice, all-gathered over dp), else 0. Collective over the world. */
int tp_dp_identical(const TpCase *tc, const Lora *l);

/* The batch, TTL and generation checks (tp_checks.c); each returns world-summed failures. */
int tp_check_batch(TpCase *tc);
int tp_check_ttl(TpCase *tc, int n_steps);
int tp_check_gen(TpCase *tc);

#endif
