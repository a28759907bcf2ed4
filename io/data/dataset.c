/* io/data/dataset.c -- JSON-array / JSONL test streams (see dataset.h). A JSON array is cut
 * into records by a small scanner that tracks strings, nesting and lines; each record is
 * then parsed on its own with jansson, so one broken record names its own line and, with
 * skip_bad, does not lose the rest of the file. */
#include "io/data/dataset.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/base/log.h"

/* Where the JSON-array scanner stands between records. */
typedef enum ScanState { SCAN_FIRST, SCAN_AFTER_VALUE, SCAN_DONE } ScanState;

typedef struct Cursor {
    size_t pos;   /* byte offset into the file */
    int64_t line; /* 1-based line of pos */
    ScanState state;
} Cursor;

struct Dataset {
    DsConfig cfg;
    int is_array;
    char *buf; /* JSON array: the whole file (owned) */
    size_t n_bytes;
    Cursor cur;
    FILE *f; /* JSONL: open file (owned) */
    char *line_buf;
    size_t line_cap;
    int64_t line_no;   /* JSONL: lines read so far */
    int64_t n_records; /* records read (good or bad) */
    int64_t n_samples; /* samples delivered */
    int64_t n_skipped;
    int64_t total;
};

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

/* Cuts the next record of the array: 1 with [*start, *end) and its line, 0 at the closing
 * ']', -1 on broken structure or a truncated file (*why says which). */
static int scan_next(const char *b, size_t n, Cursor *c, size_t *start, size_t *end,
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

static const char *json_kind(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* Builds a sample from one record's text. Returns 1 ok, 0 a bad record (err filled),
 * -1 out of memory. */
static int make_sample(const Dataset *ds, const char *text, size_t n, int64_t line,
                       DsSample *out, Err *err) {
    const char *path = ds->cfg.path;
    long long rec = (long long)ds->n_records, ln = (long long)line;
    json_error_t jerr;
    json_t *root = json_loadb(text, n, JSON_DECODE_ANY, &jerr);
    if (root == NULL) {
        err_set(err, "%s:%lld: record %lld: malformed JSON: %s (line %lld, column %d)", path,
                ln, rec, jerr.text, ln + jerr.line - 1, jerr.column);
        return 0;
    }
    int rc = 0;
    if (!json_is_object(root)) {
        err_set(err, "%s:%lld: record %lld: expected a JSON object, got %s", path, ln, rec,
                json_kind(root));
        goto done;
    }
    /* AlpacaDatasetConverter: `if example[field]` skips empty (and null) parts, then
     * "\n".join(query). */
    size_t total = 1;
    const char *parts[DS_MAX_PROMPT_FIELDS];
    int n_parts = 0;
    for (int i = 0; i < ds->cfg.n_prompt_fields; i++) {
        const char *field = ds->cfg.prompt_fields[i];
        json_t *v = json_object_get(root, field);
        if (v == NULL) {
            err_set(err, "%s:%lld: record %lld: missing prompt field \"%s\"", path, ln, rec,
                    field);
            goto done;
        }
        if (!json_is_string(v) && !json_is_null(v)) {
            err_set(err, "%s:%lld: record %lld: prompt field \"%s\": expected a string, got %s",
                    path, ln, rec, field, json_kind(v));
            goto done;
        }
        if (json_is_string(v) && json_string_length(v) > 0) {
            parts[n_parts++] = json_string_value(v);
            total += json_string_length(v) + 1;
        }
    }
    json_t *resp = ds->cfg.response_field ? json_object_get(root, ds->cfg.response_field) : NULL;
    const char *label = json_is_string(resp) ? json_string_value(resp) : "";
    out->prompt = malloc(total);
    out->label = strdup(label);
    if (out->prompt == NULL || out->label == NULL) {
        ds_sample_free(out);
        rc = -1;
        goto done;
    }
    out->prompt[0] = '\0';
    for (int i = 0; i < n_parts; i++) {
        if (i > 0)
            strcat(out->prompt, "\n");
        strcat(out->prompt, parts[i]);
    }
    out->has_response = json_is_string(resp);
    out->index = ds->n_samples;
    out->record = ds->n_records;
    out->line = line;
    rc = 1;
done:
    json_decref(root);
    return rc;
}

static int is_blank(const char *s) {
    for (; *s != '\0'; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return 0;
    return 1;
}

/* Reads the next non-blank JSONL line into ds->line_buf: 1 found, 0 at end. */
static int next_line(Dataset *ds, size_t *n, int64_t *line) {
    ssize_t got;
    while ((got = getline(&ds->line_buf, &ds->line_cap, ds->f)) >= 0) {
        ds->line_no++;
        if (!is_blank(ds->line_buf)) {
            *n = (size_t)got;
            *line = ds->line_no;
            return 1;
        }
    }
    return 0;
}

static int count_records(Dataset *ds) {
    int64_t count = 0;
    if (ds->is_array) {
        Cursor c = ds->cur;
        size_t s, e;
        int64_t ln;
        const char *why;
        while (scan_next(ds->buf, ds->n_bytes, &c, &s, &e, &ln, &why) == 1)
            count++;
    } else {
        size_t n;
        int64_t ln;
        while (next_line(ds, &n, &ln))
            count++;
        rewind(ds->f);
        ds->line_no = 0;
    }
    ds->total = ds->cfg.max_samples >= 0 && ds->cfg.max_samples < count ? ds->cfg.max_samples
                                                                        : count;
    return 0;
}

Dataset *ds_open(const DsConfig *cfg, Err *err) {
    if (cfg->n_prompt_fields < 1 || cfg->n_prompt_fields > DS_MAX_PROMPT_FIELDS) {
        err_set(err, "%s: %d prompt fields (1..%d allowed)", cfg->path, cfg->n_prompt_fields,
                DS_MAX_PROMPT_FIELDS);
        return NULL;
    }
    FILE *f = fopen(cfg->path, "rb");
    if (f == NULL) {
        err_set(err, "%s: cannot open data file: %s", cfg->path, strerror(errno));
        return NULL;
    }
    struct stat sb; /* fopen opens a directory for reading; its reads fail as if empty */
    if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        err_set(err, "%s: is a directory, expected a JSON or JSONL data file (data.path)",
                cfg->path);
        fclose(f);
        return NULL;
    }
    Dataset *ds = calloc(1, sizeof *ds);
    if (ds == NULL) {
        err_set(err, "%s: out of memory", cfg->path);
        goto fail;
    }
    ds->cfg = *cfg;
    int ch;
    int64_t line = 1;
    while ((ch = fgetc(f)) == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == 0xEF ||
           ch == 0xBB || ch == 0xBF) /* whitespace and a UTF-8 byte-order mark */
        line += ch == '\n';
    if (ch == EOF) {
        err_set(err, "%s: empty data file (no records)", cfg->path);
        goto fail;
    }
    ds->is_array = ch == '[';
    if (ds->is_array) {
        long start = ftell(f);
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        ds->buf = malloc((size_t)n + 1);
        if (ds->buf == NULL || fseek(f, 0, SEEK_SET) != 0 ||
            fread(ds->buf, 1, (size_t)n, f) != (size_t)n) {
            err_set(err, "%s: cannot read data file (%ld bytes)", cfg->path, n);
            goto fail;
        }
        ds->buf[n] = '\0';
        ds->n_bytes = (size_t)n;
        ds->cur = (Cursor){.pos = (size_t)start, .line = line, .state = SCAN_FIRST};
        fclose(f);
        f = NULL;
    } else {
        rewind(f);
        ds->f = f;
        f = NULL;
    }
    count_records(ds);
    return ds;
fail:
    if (f != NULL)
        fclose(f);
    ds_close(ds);
    return NULL;
}

int ds_next(Dataset *ds, DsSample *out, Err *err) {
    memset(out, 0, sizeof *out);
    for (;;) {
        if (ds->cfg.max_samples >= 0 && ds->n_records >= ds->cfg.max_samples)
            return 0;
        size_t start = 0, end = 0, n = 0;
        int64_t line = 0;
        const char *text;
        if (ds->is_array) {
            const char *why = NULL;
            int rc = scan_next(ds->buf, ds->n_bytes, &ds->cur, &start, &end, &line, &why);
            if (rc == 0)
                return 0;
            if (rc < 0)
                return err_set(err, "%s:%lld: %s", ds->cfg.path, (long long)ds->cur.line, why);
            text = ds->buf + start;
            n = end - start;
        } else {
            if (!next_line(ds, &n, &line))
                return 0;
            text = ds->line_buf;
        }
        Err bad = {{0}};
        int rc = make_sample(ds, text, n, line, out, &bad);
        ds->n_records++;
        if (rc < 0)
            return err_set(err, "%s:%lld: out of memory", ds->cfg.path, (long long)line);
        if (rc == 1) {
            ds->n_samples++;
            return 1;
        }
        if (!ds->cfg.skip_bad) {
            if (err != NULL)
                *err = bad;
            return -1;
        }
        ds->n_skipped++;
        log_warn("skipping a bad record (data.on_error: skip): %s", bad.msg);
    }
}

void ds_sample_free(DsSample *s) {
    if (s == NULL)
        return;
    free(s->prompt);
    free(s->label);
    s->prompt = s->label = NULL;
}

int64_t ds_skipped(const Dataset *ds) { return ds->n_skipped; }
int64_t ds_total(const Dataset *ds) { return ds->total; }

void ds_close(Dataset *ds) {
    if (ds == NULL)
        return;
    if (ds->f != NULL)
        fclose(ds->f);
    free(ds->line_buf);
    free(ds->buf);
    free(ds);
}
