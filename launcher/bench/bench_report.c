/* launcher/bench/bench_report.c -- printing a BenchProfile (see bench_report.h). */
#include "launcher/bench/bench_report.h"

#include <stdio.h>

static double shape_flops(const ProfShape *s) {
    return 2.0 * (double)s->M * (double)s->N * (double)s->K;
}

/* Bytes of frozen weights one run of the tally reads through its forward matmuls. */
static double weight_read_bytes(const ProfTally *t) {
    double b = 0;
    for (int i = 0; i < t->n_shapes; i++)
        if (!t->shape[i].bwd)
            b += (double)t->shape[i].calls * (double)t->shape[i].N * (double)t->shape[i].K *
                 t->shape[i].w_elem_bytes;
    return b;
}

static double ops_s(const ProfTally *t) {
    double s = 0;
    for (int g = 0; g < PROF_N_GROUPS; g++)
        s += t->group_s[g];
    return s;
}

static void print_tally(const char *title, const ProfTally *t, double peak_gflops) {
    /* a difference of noisy runs can come out <= 0 on a loaded machine: no shares then */
    const double wall = t->wall_s > 0 ? t->wall_s : 1e300;
    printf("  %s: %.4f s, %.4f s in ops\n", title, t->wall_s, ops_s(t));
    printf("    %-24s %10s %7s %7s\n", "op group", "s", "share", "calls");
    for (int g = 0; g < PROF_N_GROUPS; g++)
        if (t->group_calls[g] > 0)
            printf("    %-24s %10.5f %6.1f%% %7lld\n", prof_group_name((ProfGroup)g),
                   t->group_s[g], 100.0 * t->group_s[g] / wall, (long long)t->group_calls[g]);
    printf("    %-24s %10.5f %6.1f%%\n", "host (outside ops)", t->wall_s - ops_s(t),
           100.0 * (t->wall_s - ops_s(t)) / wall);
    printf("    %-30s %6s %9s %9s %8s %7s\n", "matmul (fwd: x(M,K) w(N,K)^T)", "calls", "s",
           "GFLOP/s", "alone", "of peak");
    for (int i = 0; i < t->n_shapes; i++) {
        const ProfShape *s = &t->shape[i];
        char shape[48];
        snprintf(shape, sizeof shape, "%s M %lld N %lld K %lld", s->bwd ? "bwd" : "fwd",
                 (long long)s->M, (long long)s->N, (long long)s->K);
        const double in_run = s->s > 0 ? shape_flops(s) * (double)s->calls / s->s * 1e-9 : 0;
        const double alone = s->alone_s > 0 ? shape_flops(s) / s->alone_s * 1e-9 : 0;
        printf("    %-30s %6lld %9.5f %9.1f %8.1f %6.0f%%\n", shape, (long long)s->calls, s->s,
               in_run, alone, 100.0 * in_run / peak_gflops);
    }
}

/* The fastest matmul measured in the run, GFLOP/s, named in what: the best square or, when
 * one is faster, the best shape of the model run alone. */
static double best_gflops(const BenchProfile *p, char *what, size_t n_what) {
    double best = p->peak.flop_s * 1e-9;
    snprintf(what, n_what, "%s %lld^3", p->peak.bwd ? "bwd" : "fwd", (long long)p->peak.n);
    const ProfTally *all[] = {&p->fwd, &p->step, &p->dec1, &p->decb};
    for (size_t a = 0; a < sizeof all / sizeof all[0]; a++)
        for (int i = 0; i < all[a]->n_shapes; i++) {
            const ProfShape *s = &all[a]->shape[i];
            const double g = s->alone_s > 0 ? shape_flops(s) / s->alone_s * 1e-9 : 0;
            if (g > best) {
                best = g;
                snprintf(what, n_what, "%s M %lld N %lld K %lld alone", s->bwd ? "bwd" : "fwd",
                         (long long)s->M, (long long)s->N, (long long)s->K);
            }
        }
    return best > 0 ? best : 1e-30;
}

/* A decode step's weight reads against the streaming-read bandwidth (what it does) and
 * the copy bandwidth (read + write, for comparison with other tools). */
static void print_decode_bytes(const ProfTally *t, const BenchProfile *p) {
    const double bytes = weight_read_bytes(t);
    const double rate = t->wall_s > 0 ? bytes / t->wall_s : 0;
    printf("    weights read %.1f MB per step -> %.2f GB/s over the step = %.0f%% of the read "
           "bandwidth %.2f GB/s (copy: %.2f GB/s read + write)\n", bytes * 1e-6, rate * 1e-9,
           p->read_bytes_s > 0 ? 100.0 * rate / p->read_bytes_s : 0.0, p->read_bytes_s * 1e-9,
           p->copy_bytes_s * 1e-9);
}

void bench_print_profile(const BenchConfig *cfg, const BenchProfile *p) {
    char title[96], what[64];
    const double peak = best_gflops(p, what, sizeof what);
    printf("  profile (GFLOP/s: in the run; alone = the same op on that shape repeated; "
           "of peak = in the run / the fastest matmul measured, %s, %.1f GFLOP/s)\n", what,
           peak);
    snprintf(title, sizeof title, "per forward (B %d x T %lld)", cfg->batch,
             (long long)cfg->n_tokens);
    print_tally(title, &p->fwd, peak);
    snprintf(title, sizeof title, "per update step (T %lld)", (long long)cfg->n_tokens);
    print_tally(title, &p->step, peak);
    const ProfTally *dec[] = {&p->dec1, &p->decb};
    const int batch[] = {1, cfg->batch};
    for (int i = 0; i < 2; i++) {
        snprintf(title, sizeof title, "per decode step, batch %d", batch[i]);
        print_tally(title, dec[i], peak);
        print_decode_bytes(dec[i], p);
    }
}

static void json_tally(const char *key, const ProfTally *t) {
    printf("\"%s\": {\"wall_s\": %.6g, \"host_s\": %.6g, \"weight_bytes\": %.6g, \"groups\": {",
           key, t->wall_s, t->wall_s - ops_s(t), weight_read_bytes(t));
    for (int g = 0; g < PROF_N_GROUPS; g++)
        printf("%s\"%s\": [%.6g, %lld]", g ? ", " : "", prof_group_key((ProfGroup)g),
               t->group_s[g], (long long)t->group_calls[g]);
    printf("}, \"matmuls\": [");
    for (int i = 0; i < t->n_shapes; i++) {
        const ProfShape *s = &t->shape[i];
        printf("%s{\"op\": \"%s\", \"M\": %lld, \"N\": %lld, \"K\": %lld, \"calls\": %lld, "
               "\"s\": %.6g, \"alone_s\": %.6g}", i ? ", " : "", s->bwd ? "bwd" : "fwd",
               (long long)s->M, (long long)s->N, (long long)s->K, (long long)s->calls, s->s,
               s->alone_s);
    }
    printf("]}");
}

void bench_json_profile(const BenchProfile *p) {
    printf("{\"copy_bytes_s\": %.6g, \"read_bytes_s\": %.6g, \"peak_n\": %lld, "
           "\"peak_bwd\": %d, \"peak_gflops\": %.6g, ", p->copy_bytes_s, p->read_bytes_s,
           (long long)p->peak.n, p->peak.bwd, p->peak.flop_s * 1e-9);
    json_tally("forward", &p->fwd);
    printf(", ");
    json_tally("step", &p->step);
    printf(", ");
    json_tally("decode1", &p->dec1);
    printf(", ");
    json_tally("decodeB", &p->decb);
    printf("}");
}
