/* worker/loop/progress.c -- progress on stderr (see progress.h). The TTY form rewrites one
 * line with "\r" and clears its tail with ESC[K; the log form prints a whole line every
 * PROG_LOG_EVERY_S seconds and at the end. */
#include "worker/loop/progress.h"

#include <math.h>
#include <time.h>
#include <unistd.h>

#define PROG_LOG_EVERY_S 5.0
#define PROG_TTY_EVERY_S 0.1
#define PROG_CE_DECAY 0.9 /* running ppl: exp of an exponential average of recent ce */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void prog_init(Progress *p, FILE *out, int enabled, int64_t total) {
    *p = (Progress){.out = out, .enabled = enabled && out != NULL, .total = total,
                    .phase = "start"};
    p->tty = p->enabled && isatty(fileno(out));
    p->t_start = p->t_last = now_s();
}

/* "12m03s", "4.2s" */
static void fmt_eta(char *buf, size_t n, double s) {
    if (!(s >= 0) || s > 1e7)
        snprintf(buf, n, "?");
    else if (s < 60)
        snprintf(buf, n, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

static void draw(Progress *p, int force) {
    if (!p->enabled)
        return;
    const double t = now_s();
    if (!force && t - p->t_last < (p->tty ? PROG_TTY_EVERY_S : PROG_LOG_EVERY_S))
        return;
    p->t_last = t;
    const double el = t - p->t_start;
    const double tps = el > 0 ? (double)p->tokens / el : 0;
    const double sel = p->done > 0 ? 100.0 * (double)p->selected / (double)p->done : 0;
    const int64_t mine = p->done - p->done0; /* this run's samples: the rate of the ETA */
    char eta[32], ppl[32];
    fmt_eta(eta, sizeof eta,
            p->total > 0 && mine > 0 ? el * (double)(p->total - p->done) / (double)mine : -1);
    if (p->have_ce)
        snprintf(ppl, sizeof ppl, "%.3g", exp(p->ce_recent));
    else
        snprintf(ppl, sizeof ppl, "-");
    char bar[24] = "";
    if (p->tty && p->total > 0) {
        const int w = 20, k = (int)(w * (double)p->done / (double)p->total);
        for (int i = 0; i < w; i++)
            bar[i] = i < k ? '#' : '.';
        bar[w] = '\0';
    }
    if (p->tty) {
        fprintf(p->out, "\r[%s] %lld/%lld samples | %.0f tok/s | selected %.1f%% | ppl %s | "
                "ETA %s | %s\x1b[K", bar, (long long)p->done, (long long)p->total, tps, sel,
                ppl, eta, p->phase);
        p->drawn = 1;
    } else {
        fprintf(p->out, "progress: %lld/%lld samples, %.0f tok/s, selected %.1f%%, ppl %s, "
                "ETA %s, %s, %.0fs elapsed\n", (long long)p->done, (long long)p->total, tps,
                sel, ppl, eta, p->phase, el);
    }
    fflush(p->out);
}

static void add_ce(Progress *p, double ce) {
    p->ce_recent = p->have_ce ? PROG_CE_DECAY * p->ce_recent + (1 - PROG_CE_DECAY) * ce : ce;
    p->have_ce = 1;
}

void prog_scored(Progress *p, int64_t n, int64_t sel, int64_t tok, double mean_ce) {
    p->done += n;
    p->selected += sel;
    p->tokens += tok;
    for (int64_t i = 0; i < n; i++)
        add_ce(p, mean_ce);
    draw(p, 0);
}

void prog_resumed(Progress *p, int64_t done, int64_t sel, const float *ce) {
    p->done = p->done0 = done;
    p->selected = sel;
    for (int64_t i = 0; i < done; i++)
        add_ce(p, (double)ce[i]);
    draw(p, 0);
}

void prog_generated(Progress *p, int64_t tok) {
    p->tokens += tok;
    draw(p, 0);
}

void prog_phase(Progress *p, const char *phase) {
    p->phase = phase;
    draw(p, 0);
}

void prog_finish(Progress *p) {
    if (!p->enabled)
        return;
    p->phase = "done";
    draw(p, 1);
    if (p->tty && p->drawn)
        fputc('\n', p->out);
    p->drawn = 0;
    fflush(p->out);
}
