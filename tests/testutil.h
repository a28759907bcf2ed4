/* tests/testutil.h -- helpers shared by the test programs: locating the source tree,
 * ../shared and the tlm binary; reading files; and the check harness of every test that
 * is not a cmocka program: failures counted by tu_fail / tu_check / tu_compare*, each
 * comparison reporting the first (got, want) pairs, max abs/rel error and the worst index,
 * and tu_report turning the count into the exit status. Tests that need something absent
 * call tu_skip(), which exits 77 (CTest: skipped). Single-threaded test code. */
#ifndef TLM_TESTS_TESTUTIL_H
#define TLM_TESTS_TESTUTIL_H

#include <stdarg.h>
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

/* Writes text (NUL-terminated) to path, replacing the file; exits 1 with "FAIL: cannot
 * write PATH" when it cannot. */
void tu_write_file(const char *path, const char *text);
/* tu_write_file into tu_tmp_dir()/name; returns that path (tu_path's storage). */
const char *tu_write_tmp(const char *name, const char *text);

/* Reads a whole file (owned-after-return, NUL-terminated); NULL when unreadable. */
char *tu_read_file(const char *path, size_t *n_bytes);

/* ---- the check harness: each check returns its failure count; main sums them ---- */

/* Prints "FAIL: <message>" and returns 1 (one failure, for the caller's count). */
int tu_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int tu_vfail(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
/* Prints "ok: <message>" (the report: measured errors of passing checks). */
void tu_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tu_vnote(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
/* 0 when ok, else tu_fail(fmt, ...) (1). */
int tu_check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A setup step that must work: exits 1 after "FAIL: what: err_msg" when rc != 0. */
void tu_check_rc(int rc, const char *what, const char *err_msg);

/* Compares n floats: passes when |got - want| <= atol + rtol * |want| for every i.
 * Prints a report under label on failure (first 5 mismatches, max abs/rel error, worst
 * index). Returns the number of mismatching elements. */
int64_t tu_compare(const char *label, const float *got, const float *want, int64_t n,
                   double atol, double rtol);

/* Compares n int32 exactly; on failure prints the first 5 mismatches, their count and
 * the first index. Returns the number of mismatching elements. */
int64_t tu_compare_i32(const char *label, const int32_t *got, const int32_t *want, int64_t n);

/* Norm-wise relative error ||got - want|| / ||want|| (0 when both are zero). */
double tu_rel_norm_err(const float *got, const float *want, int64_t n);

/* Passes when tu_rel_norm_err(got, want, n) <= tol (NaN fails); *err_out (may be NULL)
 * gets the error. On failure prints "FAIL: label: norm-wise rel err E > tol" and the
 * element report of tu_compare (first pairs, max abs/rel error, worst index). Returns
 * 0 or 1. */
int tu_compare_norm(const char *label, const float *got, const float *want, int64_t n,
                    double tol, double *err_out);

/* 1 when msg ends with want (error messages start with a source location that tests
 * do not pin); else prints "got: MSG / want: ...WANT" and returns 0. */
int tu_ends_with(const char *msg, const char *want);

/* Prints "PASSED: 0 failure(s)" or "FAILED: N failure(s)" and returns the exit status:
 * 0, or 1 for any failure (never a count, which could read as 77 = skipped). */
int tu_report(int64_t fails);

/* Runs a shell command; returns its exit status (-1 when it could not run). */
int tu_system(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Removes path and everything under it (rm -rf): a run's output.dir before the run, since
 * tlm run refuses a directory holding an earlier run's results (worker/loop/ttl_ledger.h).
 * Returns path. */
const char *tu_fresh_dir(const char *path);

#endif
