/* tests/io/ckpt/ckpt_fixture.h -- a synthetic checkpoint state for the ckpt tests: three
 * PEFT-named tensors with distinct values, AdamW moments, every counter set to a
 * value unlike its neighbours, two dp ranks and a score table; plus a comparison
 * that checks every field bit for bit, and small file helpers. */
#ifndef TLM_TESTS_CKPT_FIXTURE_H
#define TLM_TESTS_CKPT_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "io/ckpt/ckpt.h"

/* Fills *st (host memory owned by the fixture; fixture_free) with n_scores rows; seed
 * varies the values. */
void fixture_make(CkptState *st, int n_scores, uint32_t seed);
void fixture_free(CkptState *st);

/* Counts differing fields between a (the fixture) and b (read back), printing each. */
int fixture_diff(const CkptState *a, const CkptState *b);

/* A fresh empty scratch folder under the test tmp dir (static buffer). */
const char *fixture_dir(const char *name);

/* Copies src to dst, keeping the first n_bytes (all when n_bytes is SIZE_MAX). */
int fixture_copy(const char *src, const char *dst, size_t n_bytes);

/* The first occurrence of pat (m bytes) in data (n bytes), or NULL. */
unsigned char *fixture_find(unsigned char *data, size_t n, const void *pat, size_t m);

/* 1 when msg contains fragment; else prints both and returns 0. */
int fixture_has(const char *msg, const char *fragment);

#endif
