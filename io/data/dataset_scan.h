/* io/data/dataset_scan.h -- internal to io/data: cutting a JSON array into its records
 * without parsing them, tracking strings, nesting and lines, so each record can be parsed
 * on its own and a broken one names its own line. Pure function on caller data. */
#ifndef TLM_IO_DATASET_SCAN_H
#define TLM_IO_DATASET_SCAN_H

#include <stddef.h>
#include <stdint.h>

/* Where the scanner stands between records. */
typedef enum ScanState { SCAN_FIRST, SCAN_AFTER_VALUE, SCAN_DONE } ScanState;

typedef struct Cursor {
    size_t pos;   /* byte offset into the file */
    int64_t line; /* 1-based line of pos */
    ScanState state;
} Cursor;

/* Cuts the next record of the array b[0..n): 1 with [*start, *end) and its line, 0 at the
 * closing ']', -1 on broken structure or a truncated file (*why says which, static). */
int scan_next(const char *b, size_t n, Cursor *c, size_t *start, size_t *end, int64_t *line,
              const char **why);

#endif
