/* tests/testutil.c -- shared test helpers (see testutil.h). */
#include "tests/testutil.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

static const char *env_or(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return (v != NULL && v[0] != '\0') ? v : fallback;
}

const char *tu_source_dir(void) { return env_or("TLM_SOURCE_DIR", "."); }
const char *tu_tmp_dir(void) { return env_or("TLM_TEST_TMP", "/tmp"); }
const char *tu_tlm_bin(void) { return env_or("TLM_BIN", "tlm"); }

const char *tu_shared_dir(void) {
    const char *d = getenv("TLM_SHARED_DIR");
    struct stat st;
    if (d == NULL || stat(d, &st) != 0 || !S_ISDIR(st.st_mode))
        return NULL;
    return d;
}

void tu_skip(const char *why) {
    printf("SKIPPED: %s\n", why);
    fflush(stdout);
    exit(TU_SKIP);
}

const char *tu_path(const char *a, const char *b) {
    static char bufs[8][4096];
    static int next;
    char *buf = bufs[next++ % 8];
    snprintf(buf, sizeof bufs[0], "%s/%s", a, b);
    return buf;
}

void tu_write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
        printf("FAIL: cannot write %s\n", path);
        exit(1);
    }
}

const char *tu_write_tmp(const char *name, const char *text) {
    const char *path = tu_path(tu_tmp_dir(), name);
    tu_write_file(path, text);
    return path;
}

char *tu_read_file(const char *path, size_t *n_bytes) {
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf == NULL)
        return NULL;
    buf[n] = '\0';
    if (n_bytes != NULL)
        *n_bytes = (size_t)n;
    return buf;
}

int tu_vfail(const char *fmt, va_list ap) {
    printf("FAIL: ");
    vprintf(fmt, ap);
    printf("\n");
    return 1;
}

int tu_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    tu_vfail(fmt, ap);
    va_end(ap);
    return 1;
}

void tu_vnote(const char *fmt, va_list ap) {
    printf("ok: ");
    vprintf(fmt, ap);
    printf("\n");
}

void tu_note(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    tu_vnote(fmt, ap);
    va_end(ap);
}

int tu_check(int ok, const char *fmt, ...) {
    if (ok)
        return 0;
    va_list ap;
    va_start(ap, fmt);
    tu_vfail(fmt, ap);
    va_end(ap);
    return 1;
}

void tu_check_rc(int rc, const char *what, const char *err_msg) {
    if (rc == 0)
        return;
    printf("FAIL: %s: %s\n", what, err_msg);
    exit(1);
}

/* The element report behind every float comparison: mismatches under atol + rtol|want|
 * (the first 5 printed), max abs/rel error and the worst index; printed when anything
 * mismatches or always (TLM_TEST_VERBOSE). Returns the mismatch count. */
static int64_t report_elements(const char *label, const float *got, const float *want,
                               int64_t n, double atol, double rtol, int always) {
    int64_t bad = 0, worst = 0;
    double max_abs = 0, max_rel = 0, worst_excess = -1;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        double lim = atol + rtol * fabs((double)want[i]);
        double rel = d / (fabs((double)want[i]) + 1e-30);
        if (d > max_abs)
            max_abs = d;
        if (rel > max_rel && fabs((double)want[i]) > atol)
            max_rel = rel;
        if (!(d <= lim)) { /* also catches NaN */
            if (bad < 5)
                printf("  %s[%lld]: got %.9g want %.9g\n", label, (long long)i, got[i], want[i]);
            bad++;
        }
        if (d - lim > worst_excess || isnan(d)) {
            worst_excess = d - lim;
            worst = i;
        }
    }
    if (bad > 0 || always || getenv("TLM_TEST_VERBOSE") != NULL)
        printf("%s: %lld/%lld outside atol %.1e rtol %.1e; max abs %.3e, max rel %.3e, "
               "worst at %lld\n",
               label, (long long)bad, (long long)n, atol, rtol, max_abs, max_rel,
               (long long)worst);
    return bad;
}

int64_t tu_compare(const char *label, const float *got, const float *want, int64_t n,
                   double atol, double rtol) {
    return report_elements(label, got, want, n, atol, rtol, 0);
}

int64_t tu_compare_i32(const char *label, const int32_t *got, const int32_t *want, int64_t n) {
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < n; i++) {
        if (got[i] == want[i])
            continue;
        if (bad < 5)
            printf("  %s[%lld]: got %d want %d\n", label, (long long)i, (int)got[i],
                   (int)want[i]);
        if (first < 0)
            first = i;
        bad++;
    }
    if (bad > 0)
        printf("%s: %lld/%lld differ, first at %lld\n", label, (long long)bad, (long long)n,
               (long long)first);
    return bad;
}

double tu_rel_norm_err(const float *got, const float *want, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)got[i] - (double)want[i];
        num += d * d;
        den += (double)want[i] * (double)want[i];
    }
    if (den == 0)
        return num == 0 ? 0 : INFINITY;
    return sqrt(num / den);
}

int tu_compare_norm(const char *label, const float *got, const float *want, int64_t n,
                    double tol, double *err_out) {
    double r = tu_rel_norm_err(got, want, n);
    if (err_out != NULL)
        *err_out = r;
    if (r <= tol)
        return 0;
    tu_fail("%s: norm-wise rel err %.3g > %.1g", label, r, tol);
    /* Which elements carry the error: the element report at the same relative scale. */
    report_elements(label, got, want, n, 0, tol, 1);
    return 1;
}

int tu_ends_with(const char *msg, const char *want) {
    size_t n = strlen(msg), w = strlen(want);
    if (n >= w && strcmp(msg + n - w, want) == 0)
        return 1;
    printf("  got:  %s\n  want: ...%s\n", msg, want);
    return 0;
}

int tu_report(int64_t fails) {
    printf("%s: %lld failure(s)\n", fails ? "FAILED" : "PASSED", (long long)fails);
    return fails != 0;
}

int tu_system(const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    if (rc == -1)
        return -1;
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

const char *tu_fresh_dir(const char *path) {
    if (tu_system("rm -rf '%s'", path) != 0)
        fprintf(stderr, "tu_fresh_dir: cannot remove %s\n", path);
    return path;
}
