/* io/data/dataset_scan.c -- the JSON-array record scanner (see dataset_scan.h). */
#include "io/data/dataset_scan.h"

static int scan_fail(const char **why, const char *msg) {
    *why = msg;
    return -1;
}

static void skip_space(const char *b, size_t n, Cursor *c) {
    while (c->pos < n && (b[c->pos] == ' ' || b[c->pos] == '\t' || b[c->pos] == '\n' ||
                          b[c->pos] == '\r')) {
        if (b[c->pos] == '\n')
            c->line++;
        c->pos++;
    }
}

int scan_next(const char *b, size_t n, Cursor *c, size_t *start, size_t *end,
                     int64_t *line, const char **why) {
    if (c->state == SCAN_DONE)
        return 0;
    skip_space(b, n, c);
    if (c->state == SCAN_AFTER_VALUE) {
        if (c->pos < n && b[c->pos] == ']') {
            c->state = SCAN_DONE;
            return 0;
        }
        if (c->pos >= n)
            return scan_fail(why, "unexpected end of file (truncated array?)");
        if (b[c->pos] != ',')
            return scan_fail(why, "expected ',' or ']' after a record");
        c->pos++;
        skip_space(b, n, c);
    } else if (c->pos < n && b[c->pos] == ']') { /* "[]" */
        c->state = SCAN_DONE;
        return 0;
    }
    if (c->pos >= n)
        return scan_fail(why, "unexpected end of file (truncated array?)");
    if (b[c->pos] == ']' || b[c->pos] == ',')
        return scan_fail(why, "expected a record");
    *start = c->pos;
    *line = c->line;
    int depth = 0, in_str = 0;
    for (; c->pos < n; c->pos++) {
        char ch = b[c->pos];
        if (ch == '\n')
            c->line++;
        if (in_str) {
            if (ch == '\\' && c->pos + 1 < n && b[c->pos + 1] != '\n')
                c->pos++;
            else if (ch == '"')
                in_str = 0;
        } else if (ch == '"') {
            in_str = 1;
        } else if (ch == '{' || ch == '[') {
            depth++;
        } else if (ch == '}' || ch == ']') {
            if (depth == 0)
                break; /* the array's own ']' after a bare scalar */
            if (--depth == 0) {
                c->pos++;
                break;
            }
        } else if (depth == 0 && (ch == ',' || ch == ' ' || ch == '\n' || ch == '\t' ||
                                  ch == '\r')) {
            break;
        }
    }
    if (depth > 0 || in_str)
        return scan_fail(why, "unexpected end of file inside a record (truncated file?)");
    *end = c->pos;
    c->state = SCAN_AFTER_VALUE;
    return 1;
}
