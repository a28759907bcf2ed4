/* io/data/dataset.h -- the test stream: records of a JSON-array or JSONL file, in file order,
 * mapped to (prompt, label) as the reference's Alpaca converter does
 * (src/llamafactory/data/converter.py, AlpacaDatasetConverter): the prompt is the
 * configured fields that are non-empty, joined by "\n"; the label is the response field.
 * Or several datasets named in a LLaMA-Factory registry (dataset_info.json: alpaca or
 * sharegpt layouts, io/data/dataset_info.h), read one after the other as one stream.
 * The format is decided by content (first non-space byte '[' = JSON array, else JSONL),
 * not by extension. JSONL is read line by line; a JSON array is read into memory once and
 * its records are cut out and parsed one at a time, so each record knows its line.
 * No tokenization and no chat template here (io/text/chat_template.h). Not thread-safe: one
 * reader per Dataset. */
#ifndef TLM_IO_DATASET_H
#define TLM_IO_DATASET_H

#include <stdint.h>

#include "io/base/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DS_MAX_PROMPT_FIELDS 8
#define DS_MAX_DATASETS 8

typedef struct DsConfig {
    const char *path;                                /* borrowed; NULL with dataset_info */
    /* borrowed; a dataset_info.json: the stream is datasets[0..n_datasets) resolved
     * through it, concatenated in order, and path, prompt_fields and response_field are
     * not used. NULL: the one file at path. */
    const char *dataset_info;
    const char *datasets[DS_MAX_DATASETS]; /* borrowed; names in the registry */
    int n_datasets;
    const char *prompt_fields[DS_MAX_PROMPT_FIELDS]; /* borrowed; e.g. instruction, input */
    int n_prompt_fields;                             /* 1..DS_MAX_PROMPT_FIELDS */
    const char *response_field; /* borrowed; NULL: no labels */
    int64_t max_samples;        /* the first N records of each file; -1: all */
    int skip_bad;               /* 1: skip malformed records and count them; 0: fail */
} DsConfig;

typedef struct DsSample {
    int64_t index;    /* position in the stream of delivered samples, from 0 */
    int64_t record;   /* position of the record in its file, from 0 */
    int64_t line;     /* 1-based line of the record's first byte in its file */
    int part;         /* which of the datasets it came from (0 for a single file) */
    const char *file; /* borrowed from the Dataset (valid until ds_close): its data file */
    char *prompt;     /* owned: the joined prompt fields ("" when all are empty) */
    char *label;      /* owned: the response ("" when absent, null or not a string) */
    int has_response; /* 1 when the response field is a string: the reference then
                         encodes it as the assistant turn (affects cutoff_len truncation) */
} DsSample;

typedef struct Dataset Dataset;

/* Opens cfg->path (or resolves and opens every dataset of cfg->dataset_info), decides each
 * file's format and counts its records; cfg is copied (its strings stay borrowed: they
 * must outlive the Dataset). Errors name the file (unreadable, empty) or the registry.
 * Returns an owned handle or NULL. */
Dataset *ds_open(const DsConfig *cfg, Err *err);
void ds_close(Dataset *ds); /* accepts NULL */

/* Reads the next sample into *out (its strings owned-after-return: ds_sample_free).
 * Returns 1 for a sample, 0 at the end of the stream, -1 on error. A record that is not
 * a JSON object, lacks a prompt field, or has a non-string prompt field is an error
 * naming file:line, or with skip_bad is skipped and counted. Malformed JSON inside a
 * record is one such bad record; a JSON array whose structure is broken between records
 * is always an error (the next record cannot be found). */
int ds_next(Dataset *ds, DsSample *out, Err *err);
void ds_sample_free(DsSample *s); /* accepts a zeroed sample; safe twice */

int64_t ds_skipped(const Dataset *ds); /* bad records skipped so far */
/* Records the stream will read (each file's count capped by max_samples, summed),
 * counted at open; skipped records are included. */
int64_t ds_total(const Dataset *ds);

#ifdef __cplusplus
}
#endif
#endif
