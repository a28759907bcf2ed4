/* worker/loop/progress.h -- the run's progress on stderr (DESIGN §6): samples done/total,
 * tokens/s, selected %, running perplexity and ETA. On a TTY one line redrawn in place
 * (throttled to ~10 redraws/s); otherwise (Slurm logs, pipes) a plain line every ~5 s, so
 * logs stay readable. Only the writer rank (world rank 0) should enable it. Pure
 * bookkeeping and printing: no allocation, no collectives. Not thread-safe. */
#ifndef TLM_WORKER_PROGRESS_H
#define TLM_WORKER_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

/* Plain data; prog_init fills it. */
typedef struct Progress {
    FILE *out;          /* borrowed (stderr) */
    int enabled, tty;
    int64_t total;      /* samples expected (0: unknown) */
    int64_t done, selected, tokens;
    int64_t done0;      /* samples a resumed run started with (not this run's work) */
    double ce_recent;   /* exponential average of the scored ce (running ppl) */
    int have_ce;
    double t_start, t_last; /* monotonic seconds: start, last line drawn */
    const char *phase;  /* "generate", "update", ... (static string) */
    int drawn;          /* a TTY line is on screen (needs a newline before other output) */
} Progress;

void prog_init(Progress *p, FILE *out, int enabled, int64_t total);
/* n samples scored (one update step): sel of them selected, tok input tokens, mean_ce
 * their mean ce (into the running perplexity). Redraws when due. */
void prog_scored(Progress *p, int64_t n, int64_t sel, int64_t tok, double mean_ce);
/* A resumed run: done samples (sel selected) were scored before it; ce (host, done
 * floats, borrowed) their ce in stream order, which the running perplexity continues
 * from. tokens/s and the ETA count only what this run does after it. */
void prog_resumed(Progress *p, int64_t done, int64_t sel, const float *ce);
/* Tokens generated (counted into tokens/s) and the phase shown. */
void prog_generated(Progress *p, int64_t tok);
void prog_phase(Progress *p, const char *phase);
/* Ends the TTY line (newline) so other messages start on a fresh line. */
void prog_finish(Progress *p);

#endif
