/* io/data/dataset_record.h -- internal to io/data: one parsed record (a JSON object) turned
 * into (prompt, label) by the layout of its dataset, as the reference's converters do
 * (src/llamafactory/data/converter.py): alpaca (prompt fields joined by "\n", the response
 * field as label) and sharegpt (a list of turns: one user turn, then the assistant's).
 * One user turn per sample: a record carrying history, several turns, a per-record
 * system prompt, tools or function turns is a bad record with a reason. Pure functions
 * on caller-owned data; thread-safe. */
#ifndef TLM_IO_DATASET_RECORD_H
#define TLM_IO_DATASET_RECORD_H

#include <jansson.h>
#include <stddef.h>

#include "io/data/dataset.h"

#define DS_COLUMN_BYTES 64

typedef enum DsFormatting { DS_ALPACA = 0, DS_SHAREGPT } DsFormatting;

/* How one dataset's records read. A column or tag "" is not used. */
typedef struct DsFormat {
    DsFormatting formatting;
    int n_prompt; /* alpaca: the prompt fields (prompt, query), joined by "\n" */
    char prompt[DS_MAX_PROMPT_FIELDS][DS_COLUMN_BYTES];
    char response[DS_COLUMN_BYTES]; /* alpaca: the label */
    char system[DS_COLUMN_BYTES];   /* both: a per-record system prompt (must be empty) */
    char history[DS_COLUMN_BYTES];  /* alpaca: earlier turns (must be empty) */
    char messages[DS_COLUMN_BYTES]; /* sharegpt: the list of turns */
    char role_tag[DS_COLUMN_BYTES], content_tag[DS_COLUMN_BYTES];
    char user_tag[DS_COLUMN_BYTES], assistant_tag[DS_COLUMN_BYTES];
    char system_tag[DS_COLUMN_BYTES];
    /* 1: a column the record lacks reads as empty (the HF datasets loader behind
     * dataset_info.json fills absent columns with None); 0: a missing prompt field is an
     * error (a native job's data.prompt names fields every record has). */
    int missing_ok;
} DsFormat;

/* Converts root. Returns 1 with *prompt and *label owned-after-return (free()) and
 * *has_response set (1 when the record has a string answer); 0 for a bad record with
 * the reason in why ("missing prompt field \"input\""); -1 out of memory. */
int dsrec_convert(const DsFormat *f, const json_t *root, char **prompt, char **label,
                  int *has_response, char *why, size_t why_bytes);

/* "an object", "a string", ... for messages. */
const char *dsrec_json_kind(const json_t *v);

#endif
