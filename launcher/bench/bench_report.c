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

void bench_print_profile(const BenchConfig *cfg, const BenchProfile *p) {
    const double n = (double)p->peak_n;
    const double peak = p->peak_s > 0 ? 2.0 * n * n * n / p->peak_s * 1e-9 : 1e-30;
    char title[96];
    printf("  profile (GFLOP/s: in the run; alone = the same op on that shape repeated; "
           "of peak = in the run / the %lld^3 matmul's %.1f GFLOP/s)\n", (long long)p->peak_n,
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
        const double bytes = weight_read_bytes(dec[i]);
        const double rate = dec[i]->wall_s > 0 ? bytes / dec[i]->wall_s : 0;
        printf("    weights read %.1f MB per step -> %.2f GB/s over the step; copy "
               "bandwidth %.2f GB/s (read + write): %.0f%%\n", bytes * 1e-6, rate * 1e-9,
               p->copy_bytes_s * 1e-9, 100.0 * rate / p->copy_bytes_s);
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
    const double n = (double)p->peak_n;
    printf("{\"copy_bytes_s\": %.6g, \"peak_n\": %lld, \"peak_gflops\": %.6g, ", p->copy_bytes_s,
           (long long)p->peak_n, p->peak_s > 0 ? 2.0 * n * n * n / p->peak_s * 1e-9 : 0.0);
    json_tally("forward", &p->fwd);
    printf(", ");
    json_tally("step", &p->step);
    printf(", ");
    json_tally("decode1", &p->dec1);
    printf(", ");
    json_tally("decodeB", &p->decb);
    printf("}");
}
