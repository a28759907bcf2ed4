/* tests/kernels/cpu/test_ops_cpu_entropy.c -- the entropy ops of the CPU backend (tent, eata,
 * come objectives): entropy_fwd against a plain double reference written from the
 * definition H = -sum q log q over the softmax of the row extended by the extra logit,
 * and entropy_bwd against central finite differences (in double) of L = sum_t r_t H_t,
 * for extra = -inf (softmax entropy) and extra = log V (COME's opinion), and with the
 * radial constraint, whose reference is H(z |z0| / |z|) with |z0| the row norm at the
 * point of evaluation held fixed (COME's z / |z| * sg(|z|)). Sizes 1 (H = 0 and no
 * gradient: the degenerate row), 7, 33, 300; rows
 * masked off; one row with dent 0; peaked rows (logits up to +-40) for the forward.
 * Tolerances: forward |got - want| <= 1e-5 + 1e-5 |want| (double sums, one fp32 rounding);
 * gradients as tests/kernels/cpu/test_ops_cpu_grad.c: 1e-5 max|numeric| + 1e-4 |numeric|,
 * and the check must reject the same gradient scaled by 1.001. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "tests/kernels/cpu/kref.h"
#include "tests/testutil.h"

/* H of softmax(w ++ extra) in double, straight from the definition (q then -sum q log q). */
static double ref_row_entropy(const double *z, int64_t V, double extra, double norm0) {
    double nz = 0;
    for (int64_t j = 0; j < V; j++)
        nz += z[j] * z[j];
    const double sc = norm0 > 0 && nz > 0 ? norm0 / sqrt(nz) : 1.0;
    double mx = extra;
    for (int64_t j = 0; j < V; j++)
        mx = fmax(mx, z[j] * sc);
    double s = isinf(extra) ? 0.0 : exp(extra - mx);
    for (int64_t j = 0; j < V; j++)
        s += exp(z[j] * sc - mx);
    double h = 0;
    for (int64_t j = 0; j <= V; j++) {
        if (j == V && isinf(extra))
            break;
        const double q = exp((j < V ? z[j] * sc : extra) - mx) / s;
        if (q > 0)
            h -= q * log(q);
    }
    return h;
}

typedef struct Case {
    int64_t T, V;
    double extra;   /* -INFINITY or log V */
    int radial;
    double scale;   /* logits uniform in [-scale, scale) */
} Case;

static double objective(const double *z, const double *r, const double *norm0,
                        const int32_t *mask, const Case *c) {
    double L = 0;
    for (int64_t t = 0; t < c->T; t++)
        if (mask[t] && r[t] != 0)
            L += r[t] * ref_row_entropy(z + t * c->V, c->V, c->extra, c->radial ? norm0[t] : 0);
    return L;
}

static int run_case(const Case *c, uint64_t seed) {
    const Ops *ops = ops_cpu();
    const int64_t T = c->T, V = c->V, n = T * V;
    KRng rng = {seed};
    float *z = kalloc_f(n), *ent = kalloc_f(T), *lse = kalloc_f(T), *dent = kalloc_f(T);
    float *dz = kalloc_f(n), *want = kalloc_f(T);
    int32_t *mask = malloc((size_t)T * sizeof *mask);
    kfill(z, n, &rng, -c->scale, c->scale);
    for (int64_t t = 0; t < T; t++) {
        mask[t] = t % 3 != 1; /* rows 1, 4, ... masked off */
        dent[t] = mask[t] && t != 2 ? (float)krng_uniform(&rng, 0.2, 1.5) : 0.0f;
    }
    const float extra = (float)c->extra;
    ops->entropy_fwd(ent, lse, z, mask, extra, T, V);
    double *zd = kto_double(z, n), *r = kalloc_d(T), *norm0 = kalloc_d(T);
    for (int64_t t = 0; t < T; t++) {
        double nz = 0;
        for (int64_t j = 0; j < V; j++)
            nz += zd[t * V + j] * zd[t * V + j];
        norm0[t] = sqrt(nz);
        r[t] = dent[t];
        want[t] = mask[t] ? (float)ref_row_entropy(zd + t * V, V, c->extra, 0) : 0.0f;
    }
    char label[96];
    snprintf(label, sizeof label, "entropy_fwd T%lld V%lld%s x%.0f", (long long)T,
             (long long)V, isinf(c->extra) ? "" : " +logV", c->scale);
    int fails = tu_compare(label, ent, want, T, 1e-5, 1e-5) > 0;

    ops->entropy_bwd(dz, z, lse, ent, dent, extra, c->radial, T, V);
    /* in place must give the same result */
    float *zin = kalloc_f(n);
    memcpy(zin, z, (size_t)n * sizeof *zin);
    ops->entropy_bwd(zin, zin, lse, ent, dent, extra, c->radial, T, V);
    snprintf(label, sizeof label, "entropy_bwd in place T%lld V%lld", (long long)T, (long long)V);
    fails += tu_compare(label, zin, dz, n, 0, 0) > 0;

    float *num = kalloc_f(n);
    double maxabs = 0;
    for (int64_t i = 0; i < n; i++) {
        const double x0 = zd[i], h = 1e-5 * fmax(1.0, fabs(x0));
        zd[i] = x0 + h;
        const double lp = objective(zd, r, norm0, mask, c);
        zd[i] = x0 - h;
        const double lm = objective(zd, r, norm0, mask, c);
        zd[i] = x0;
        num[i] = (float)((lp - lm) / (2 * h));
        maxabs = fmax(maxabs, fabs(num[i]));
    }
    const double atol = 1e-5 * maxabs + 1e-12;
    snprintf(label, sizeof label, "entropy_bwd T%lld V%lld%s%s", (long long)T, (long long)V,
             isinf(c->extra) ? "" : " +logV", c->radial ? " radial" : "");
    const int64_t bad = tu_compare(label, dz, num, n, atol, 1e-4);
    int64_t bad_scaled = 0;
    for (int64_t i = 0; i < n; i++)
        if (!(fabs(1.001 * dz[i] - num[i]) <= atol + 1e-4 * fabs(num[i])))
            bad_scaled++;
    double err_max = 0;
    for (int64_t i = 0; i < n; i++)
        err_max = fmax(err_max, fabs((double)dz[i] - num[i]));
    printf("%-4s %-40s max|g| %.2e  max err %.1e of it; x1.001 rejected at %lld elems\n",
           bad == 0 && (bad_scaled > 0 || maxabs == 0) ? "ok" : "FAIL", label, maxabs,
           err_max / (maxabs + 1e-30), (long long)bad_scaled);
    fails += bad > 0 || (maxabs > 0 && bad_scaled == 0);
    free(z), free(ent), free(lse), free(dent), free(dz), free(want), free(mask), free(zd);
    free(r), free(norm0), free(zin), free(num);
    return fails;
}

/* Peaked rows (a logit of 40: lse - sum q z would cancel to fp32 noise there), tied
 * maxima and a flat row (H = ln V); forward only, against the reference. */
static int run_peaked(void) {
    const Ops *ops = ops_cpu();
    const int64_t T = 3, V = 5000;
    KRng rng = {77};
    float *z = kalloc_f(T * V), ent[3], lse[3], want[3];
    int32_t mask[3] = {1, 1, 1};
    kfill(z, T * V, &rng, -3, 3);
    z[0 * V + 17] = 40.0f;                      /* one dominant token: H ~ 1e-15 */
    z[1 * V + 3] = 12.0f, z[1 * V + 9] = 12.0f; /* two tied tokens over a noisy floor */
    for (int64_t j = 0; j < V; j++)            /* flat row: H = ln V */
        z[2 * V + j] = 7.5f;
    int fails = 0;
    for (int k = 0; k < 2; k++) {
        const double ex = k ? log((double)V) : -INFINITY;
        ops->entropy_fwd(ent, lse, z, mask, (float)ex, T, V);
        double *zd = kto_double(z, T * V);
        for (int64_t t = 0; t < T; t++)
            want[t] = (float)ref_row_entropy(zd + t * V, V, ex, 0);
        free(zd);
        fails += tu_compare(k ? "entropy_fwd peaked +logV" : "entropy_fwd peaked", ent, want,
                            T, 1e-5, 1e-5) > 0;
        printf("     peaked rows%s: H = %.3g %.6f %.6f (want %.3g %.6f %.6f)\n",
               k ? " +logV" : "", ent[0], ent[1], ent[2], want[0], want[1], want[2]);
    }
    free(z);
    return fails;
}

int main(void) {
    const Case cases[] = {
        {4, 1, -INFINITY, 0, 1.0},   {5, 7, -INFINITY, 0, 2.0},  {5, 33, -INFINITY, 0, 3.0},
        {4, 300, -INFINITY, 0, 4.0}, {5, 7, 0, 0, 2.0},          {5, 33, 0, 0, 3.0},
        {5, 33, -INFINITY, 1, 3.0},  {5, 33, 0, 1, 3.0},         {4, 300, 0, 1, 4.0},
    };
    int fails = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Case c = cases[i];
        if (!isinf(c.extra))
            c.extra = log((double)c.V); /* COME: K = V */
        fails += run_case(&c, 1000 + i);
    }
    fails += run_peaked();
    printf("%s: %d failure(s)\n", fails ? "FAILED" : "PASSED", fails);
    return fails != 0;
}
