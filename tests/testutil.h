/* tests/testutil.h -- helpers shared by the test programs: locating the source tree,
 * ../shared and the tlm binary; reading files; comparing arrays with a report of the
 * first (got, want) pairs, max abs/rel error and the worst index. Tests that need
 * something absent call tu_skip(), which exits 77 (CTest: skipped). */
#ifndef TLM_TESTS_TESTUTIL_H
#define TLM_TESTS_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#define TU_SKIP 77

/* Paths from the environment CTest sets (borrowed; static storage). */
const char *tu_source_dir(void); /* repository root */
const char *tu_tmp_dir(void);    /* writable scratch dir for this build */
const char *tu_tlm_bin(void);    /* the tlm executable */
/* ../shared, or NULL when it is absent. */
const char *tu_shared_dir(void);
/* Exits 77 after printing why the test cannot run here. */
_Noreturn void tu_skip(const char *why);

/* path = a/b (static rotating buffers: valid for the next 8 calls). */
const char *tu_path(const char *a, const char *b);

/* Reads a whole file (owned-after-return, NUL-terminated); NULL when unreadable. */
char *tu_read_file(const char *path, size_t *n_bytes);

/* Compares n floats: passes when |got - want| <= atol + rtol * |want| for every i.
 * Prints a report under label on failure (first 5 mismatches, max abs/rel error, worst
 * index). Returns the number of mismatching elements. */
int64_t tu_compare(const char *label, const float *got, const float *want, int64_t n,
                   double atol, double rtol);

/* Norm-wise relative error ||got - want|| / ||want|| (0 when both are zero). */
double tu_rel_norm_err(const float *got, const float *want, int64_t n);

/* Runs a shell command; returns its exit status (-1 when it could not run). */
int tu_system(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
