/* jobs/job_yaml_guard.h -- internal to jobs/: the checks a job text passes before libyaml
 * builds a document from it. yaml_parser_load grows quadratically with flow nesting (a
 * 200 KB job nested 100k deep took > 120 s) and reads a string only up to its first NUL,
 * so these run first on the raw bytes and on libyaml's event stream, which they stop at
 * the first refusal: a NUL byte, a UTF-8 byte-order mark, nesting deeper than
 * JOB_YAML_MAX_DEPTH, a syntax error, or a second document. Messages name
 * file:line:column. Thread-safe (no state). */
#ifndef TLM_JOBS_JOB_YAML_GUARD_H
#define TLM_JOBS_JOB_YAML_GUARD_H

#include <stddef.h>

#include "io/base/err.h"

/* Mappings and lists inside one another; the schema needs 3 (method.eata.key), a list
 * value 4. */
#define JOB_YAML_MAX_DEPTH 64

/* 0 when text (n bytes, not necessarily NUL-terminated) may be handed to
 * yaml_parser_load; else -1 with err "name:line:col: what is wrong". what names the text
 * in messages ("job file", "value"). */
int job_yaml_guard(const char *text, size_t n, const char *name, const char *what, Err *err);

#endif
