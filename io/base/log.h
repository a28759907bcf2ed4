/* io/base/log.h -- leveled logging with a rank/host/GPU prefix, and the process abort hook.
 * log_set_identity() is called once by the launcher before any other thread starts; it
 * is the one write-once global of the project. Messages go to stderr, one write per
 * line so ranks do not interleave mid-line. log_fatal() prints and calls the abort hook
 * (the launcher points it at comm_abort so that one rank's failure stops every rank);
 * without a hook it exits with status 1. */
#ifndef TLM_IO_LOG_H
#define TLM_IO_LOG_H

#ifdef __cplusplus
#define TLM_NORETURN [[noreturn]] /* C++ (nvcc) spelling */
extern "C" {
#else
#define TLM_NORETURN _Noreturn
#endif

typedef enum LogLevel { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR } LogLevel;

/* rank/world: this process in the world; host: borrowed, copied; gpu: -1 for none. */
void log_set_identity(int rank, int world, const char *host, int gpu);

/* Messages below level are dropped (default LOG_INFO; TLM_LOG=debug lowers it). */
void log_set_level(LogLevel level);

/* Called by log_fatal with the exit status; must not return. */
typedef void (*LogAbortHook)(int status);
void log_set_abort_hook(LogAbortHook hook);

void log_msg(LogLevel level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
TLM_NORETURN void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The "[r3/8 node-a gpu1]" prefix of this process (borrowed, static storage). */
const char *log_identity(void);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
