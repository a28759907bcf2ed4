/* tests/worker/wgolden.h -- the parts of the golden test (test_worker_golden.c): one
 * case dir opened into a GoldenCase, then the batch checks (logits, ce, gradients,
 * packing), the online TLM trajectory and the greedy generations (golden_ttl.c).
 * Each check returns its failure count and prints the measured errors. */
#ifndef TLM_TESTS_WORKER_WGOLDEN_H
#define TLM_TESTS_WORKER_WGOLDEN_H

#include <jansson.h>

#include "io/model/safetensors.h"
#include "worker/model/model.h"

typedef struct GoldenCase {
    const char *dir, *name; /* borrowed */
    SafeTensors *st;        /* golden.safetensors */
    json_t *meta;           /* golden.json */
    Model *m;
    const Ops *ops;
} GoldenCase;

/* meta[section][key], else meta[key], else def. */
double wg_num(const GoldenCase *gc, const char *section, const char *key, double def);
/* LoRA targets of meta[section]["lora_targets"] (names such as "q_proj"), else def. */
uint32_t wg_targets(const GoldenCase *gc, const char *section, uint32_t def);

/* Opens dir's model and golden files, runs every check, closes; returns failures. */
int wg_run_case(const char *dir, const char *name);

int wg_check_ttl(GoldenCase *gc);
int wg_check_gen(GoldenCase *gc);

#endif
