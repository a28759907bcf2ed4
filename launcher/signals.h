/* launcher/signals.h -- the stop flag of `tlm run` and the handlers that set it
 * (DESIGN §6, slurm/): SIGTERM (Slurm preemption, scancel) and SIGUSR1 (sbatch
 * --signal=USR1@N before the time limit) ask the loop to stop at its next consistent
 * point, write a checkpoint and exit 0; the first SIGINT does the same, a second SIGINT
 * kills the process at once (status 130). The handlers only store the signal number in
 * the flag, the one global of the program; the loop polls it through TtlHooks.stop and
 * agrees on it across ranks (worker/loop/ttl_ckpt.c). Install once, from the main thread. */
#ifndef TLM_LAUNCHER_SIGNALS_H
#define TLM_LAUNCHER_SIGNALS_H

#include <signal.h>

/* Installs the handlers and returns the flag (static storage; 0 until a signal arrives,
 * then the number of the first stop signal). */
volatile sig_atomic_t *sig_install(void);

/* Puts the default dispositions back (after the loop returns). */
void sig_restore(void);

/* "SIGTERM", "SIGUSR1", "SIGINT" or "signal N". */
const char *sig_name(int sig);

#endif
