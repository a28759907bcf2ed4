/* jobs/job_schema.h -- internal to jobs/: the table of every job key (dotted name, type,
 * range, where it lives in JobSpec), typed setters shared by the YAML reader and --set,
 * the value formatter used by job_to_yaml/job_diff (job_emit.c), and the nearest-key
 * suggestion (job_suggest.c). Method names and parameters come from jobs/job_methods.h.
 * Setters write a reason ("expected a positive integer, got \"sixteen\"") into why and
 * leave the spec untouched on failure. Static data only; thread-safe. */
#ifndef TLM_JOBS_JOB_SCHEMA_H
#define TLM_JOBS_JOB_SCHEMA_H

#include <stddef.h>

#include "jobs/job.h"

typedef enum JfKind {
    JF_STRING, /* char[size], non-empty unless lo == 0 */
    JF_CHOICE, /* char[size] holding one of choices (model.template) */
    JF_ENUM,   /* int-sized enum: index into choices */
    JF_INT,    /* int64_t in lo..hi (hi: what the reading code holds, e.g. INT32_MAX) */
    JF_REAL,   /* finite double in the range lo..hi */
    JF_BOOL,   /* int 0/1 */
    JF_LIST,   /* char[max_items][JOB_NAME_BYTES] + int count; items from choices if set */
    JF_SAMPLES, /* int64_t: positive, or "all" / null = -1 */
    JF_SEED    /* uint64_t */
} JfKind;

typedef struct JobField {
    const char *key; /* "lora.rank"; top-level keys have no dot */
    JfKind kind;
    size_t off;                  /* offsetof(JobSpec, ...) of the value */
    size_t size;                 /* JF_STRING/JF_CHOICE: buffer bytes */
    const char *const *choices;  /* NULL-terminated; JF_ENUM/JF_CHOICE/JF_LIST */
    double lo, hi;               /* JF_INT/JF_REAL range; JF_STRING: lo 0 allows "" */
    int lo_open, hi_open;        /* exclusive bounds */
    size_t count_off;            /* JF_LIST: offsetof the int count */
    int max_items;               /* JF_LIST */
    const JobMethodParamInfo *param; /* a method's own parameter (method.<name>.<param>):
                                      * its registry row; NULL for the job's other keys */
    int method_only;             /* JobMethod + 1 of the method whose own section the key
                                  * is in (ttt.*), 0 for a key of every job */
} JobField;

/* All fields in output order (grouped by section); *n_fields set. */
const JobField *jf_table(int *n_fields);
/* The field named key, or NULL; a section with a name key answers for its shorthand
 * (`backend` is backend.name). */
const JobField *jf_find(const char *key);
/* f's index in the table (the index of JobSpec's per-key bookkeeping). */
int jf_index(const JobField *f);
/* 1 when f belongs to spec: every key does except a method parameter or a method section
 * key (ttt.*) of another method than spec's (written and compared only for the job's own
 * method). */
int jf_applies(const JobField *f, const JobSpec *spec);
/* 1 when spec's job gave key (in its file or by job_set), 0 when it is a default or not a
 * key. */
int jf_given(const JobSpec *spec, const char *key);
/* 1 when name is a section ("lora") or a subsection ("method.eata"): a prefix of keys
 * followed by a dot; 0 otherwise. */
int jf_is_section(const char *name);

/* Writes into hint the nearest known key to key ("lora.rank") when one is close, else
 * "" -- or, for a key inside a known section, the list of that section's keys, as
 * " (valid keys under lora: rank, alpha, targets)". hint_bytes >= 1. */
void jf_suggest(const char *key, char *hint, size_t hint_bytes);

/* Optimal-string-alignment distance between two short keys (longer ones are capped):
 * the nearest-key suggestions of job_suggest.c and the flat keys of lf_map.c. */
int jf_edit_distance(const char *a, const char *b);

/* Writes " (valid keys under lora: rank, alpha, targets)" for a section name; keys of a
 * subsection are listed with their rest ("eata.fisher_alpha" under method). */
void jf_section_keys(const char *section, char *out, size_t out_bytes);

/* Sets a scalar value. plain: the YAML scalar was unquoted (numbers, booleans and null
 * must be; so must null/~, which strings refuse). */
int jf_set_scalar(const JobField *f, JobSpec *spec, const char *text, int plain,
                  char *why, size_t why_bytes);
/* Sets a list field from n items (each a scalar text). */
int jf_set_list(const JobField *f, JobSpec *spec, const char *const *items, int n_items,
                char *why, size_t why_bytes);
/* What the field expects, for messages ("a positive integer"). */
void jf_expect(const JobField *f, char *out, size_t out_bytes);

/* The field's value as YAML-scalar text (lists: "[q_proj, v_proj]"); numbers are written
 * so that they read back bit-exactly. */
void jf_format(const JobField *f, const JobSpec *spec, char *out, size_t out_bytes);

#endif
