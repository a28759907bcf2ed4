/* io/base/log.c -- stderr logging with the process identity prefix. */
#include "io/base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Write-once process identity (set by the launcher before threads start). */
static char g_identity[128] = "[r0/1]";
static LogLevel g_level = LOG_INFO;
static int g_level_from_env_done;
static LogAbortHook g_abort_hook;

void log_set_identity(int rank, int world, const char *host, int gpu) {
    if (gpu >= 0)
        snprintf(g_identity, sizeof g_identity, "[r%d/%d %s gpu%d]", rank, world, host, gpu);
    else
        snprintf(g_identity, sizeof g_identity, "[r%d/%d %s]", rank, world, host);
}

const char *log_identity(void) { return g_identity; }

void log_set_level(LogLevel level) {
    g_level = level;
    g_level_from_env_done = 1;
}

void log_set_abort_hook(LogAbortHook hook) { g_abort_hook = hook; }

static void apply_env_level(void) {
    if (g_level_from_env_done)
        return;
    g_level_from_env_done = 1;
    const char *v = getenv("TLM_LOG");
    if (v != NULL && strcmp(v, "debug") == 0)
        g_level = LOG_DEBUG;
}

static void emit(LogLevel level, const char *fmt, va_list ap) {
    static const char *const names[] = {"debug", "info", "warn", "error"};
    char line[2048];
    int n = snprintf(line, sizeof line, "%s %s: ", g_identity, names[level]);
    if (n < 0 || (size_t)n >= sizeof line)
        return;
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    /* One write() per line keeps lines from different ranks whole in a shared log. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void log_msg(LogLevel level, const char *fmt, ...) {
    apply_env_level();
    if (level < g_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(level, fmt, ap);
    va_end(ap);
}

void log_fatal(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    emit(LOG_ERROR, fmt, ap);
    va_end(ap);
    if (g_abort_hook != NULL)
        g_abort_hook(1);
    exit(1);
}
