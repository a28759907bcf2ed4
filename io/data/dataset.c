/* io/data/dataset.c -- JSON-array / JSONL test streams (see dataset.h). Each file of the
 * stream has a Reader: a JSON array is cut into records by the scanner of dataset_scan.h,
 * a JSONL file is read line by line; each record is parsed on its own with jansson and
 * converted by its dataset's layout (dataset_record.h), so one broken record names its
 * own line and, with skip_bad, does not lose the rest. Several datasets of a registry
 * (dataset_info.h) are read one after the other. */
#include "io/data/dataset.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/base/log.h"
#include "io/data/dataset_info.h"
#include "io/data/dataset_scan.h"

/* One file of the stream. */
typedef struct Reader {
    const DsPart *part; /* borrowed from the Dataset */
    int is_array;
    char *buf; /* JSON array: the whole file (owned) */
    size_t n_bytes;
    Cursor cur;
    FILE *f; /* JSONL: open file (owned) */
    char *line_buf;
    size_t line_cap;
    int64_t line_no;   /* JSONL: lines read so far */
    int64_t n_records; /* records read (good or bad) */
    int64_t total;     /* records it will read: its count capped by max_samples */
    int64_t max_samples; /* -1: all */
} Reader;

struct Dataset {
    DsConfig cfg;
    DsPart parts[DS_MAX_DATASETS];
    Reader readers[DS_MAX_DATASETS];
    int n_parts, cur; /* the reader being read */
    int64_t n_samples; /* samples delivered */
    int64_t n_skipped;
    int64_t total;
};

static void reader_close(Reader *r) {
    if (r->f != NULL)
        fclose(r->f);
    free(r->line_buf);
    free(r->buf);
    memset(r, 0, sizeof *r);
}

/* Builds a sample from one record's text. Returns 1 ok, 0 a bad record (err filled),
 * -1 out of memory. */
static int make_sample(const Reader *r, const char *text, size_t n, int64_t line,
                       DsSample *out, Err *err) {
    const char *path = r->part->path;
    long long rec = (long long)r->n_records, ln = (long long)line;
    json_error_t jerr;
    json_t *root = json_loadb(text, n, JSON_DECODE_ANY, &jerr);
    if (root == NULL) {
        err_set(err, "%s:%lld: record %lld: malformed JSON: %s (line %lld, column %d)", path,
                ln, rec, jerr.text, ln + jerr.line - 1, jerr.column);
        return 0;
    }
    char why[512];
    const int rc = dsrec_convert(&r->part->fmt, root, &out->prompt, &out->label,
                                 &out->has_response, why, sizeof why);
    json_decref(root);
    if (rc == 0)
        err_set(err, "%s:%lld: record %lld: %s", path, ln, rec, why);
    if (rc == 1) {
        out->record = r->n_records;
        out->line = line;
    }
    return rc;
}

static int is_blank(const char *s) {
    for (; *s != '\0'; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return 0;
    return 1;
}

/* Reads the next non-blank JSONL line into r->line_buf: 1 found, 0 at end. */
static int next_line(Reader *r, size_t *n, int64_t *line) {
    ssize_t got;
    while ((got = getline(&r->line_buf, &r->line_cap, r->f)) >= 0) {
        r->line_no++;
        if (!is_blank(r->line_buf)) {
            *n = (size_t)got;
            *line = r->line_no;
            return 1;
        }
    }
    return 0;
}

static void count_records(Reader *r, int64_t max_samples) {
    int64_t count = 0;
    if (r->is_array) {
        Cursor c = r->cur;
        size_t s, e;
        int64_t ln;
        const char *why;
        while (scan_next(r->buf, r->n_bytes, &c, &s, &e, &ln, &why) == 1)
            count++;
    } else {
        size_t n;
        int64_t ln;
        while (next_line(r, &n, &ln))
            count++;
        rewind(r->f);
        r->line_no = 0;
    }
    r->total = max_samples >= 0 && max_samples < count ? max_samples : count;
}

/* Opens the part's file, decides its format by content and counts its records. */
static int reader_open(Reader *r, const DsPart *part, int64_t max_samples, Err *err) {
    memset(r, 0, sizeof *r);
    r->part = part;
    r->max_samples = max_samples;
    const char *path = part->path;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return err_set(err, "%s: cannot open data file: %s", path, strerror(errno));
    struct stat sb; /* fopen opens a directory for reading; its reads fail as if empty */
    if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fclose(f);
        return err_set(err, "%s: is a directory, expected a JSON or JSONL data file (data.path)",
                       path);
    }
    int ch;
    int64_t line = 1;
    while ((ch = fgetc(f)) == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == 0xEF ||
           ch == 0xBB || ch == 0xBF) /* whitespace and a UTF-8 byte-order mark */
        line += ch == '\n';
    if (ch == EOF) {
        fclose(f);
        return err_set(err, "%s: empty data file (no records)", path);
    }
    r->is_array = ch == '[';
    if (!r->is_array) {
        rewind(f);
        r->f = f;
        count_records(r, max_samples);
        return 0;
    }
    long start = ftell(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    r->buf = malloc((size_t)n + 1);
    if (r->buf == NULL || fseek(f, 0, SEEK_SET) != 0 ||
        fread(r->buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        reader_close(r);
        return err_set(err, "%s: cannot read data file (%ld bytes)", path, n);
    }
    fclose(f);
    r->buf[n] = '\0';
    r->n_bytes = (size_t)n;
    r->cur = (Cursor){.pos = (size_t)start, .line = line, .state = SCAN_FIRST};
    count_records(r, max_samples);
    return 0;
}

/* The parts of the stream: the datasets of the registry, or the one native file. */
static int resolve_parts(Dataset *ds, Err *err) {
    const DsConfig *cfg = &ds->cfg;
    if (cfg->dataset_info == NULL) {
        if (cfg->n_prompt_fields < 1 || cfg->n_prompt_fields > DS_MAX_PROMPT_FIELDS)
            return err_set(err, "%s: %d prompt fields (1..%d allowed)", cfg->path,
                           cfg->n_prompt_fields, DS_MAX_PROMPT_FIELDS);
        dsinfo_native(cfg, &ds->parts[0]);
        ds->n_parts = 1;
        return 0;
    }
    if (dsinfo_resolve(cfg->dataset_info, cfg->datasets, cfg->n_datasets, ds->parts, err) != 0)
        return -1;
    ds->n_parts = cfg->n_datasets;
    return 0;
}

Dataset *ds_open(const DsConfig *cfg, Err *err) {
    Dataset *ds = calloc(1, sizeof *ds);
    if (ds == NULL) {
        err_set(err, "%s: out of memory", cfg->dataset_info ? cfg->dataset_info : cfg->path);
        return NULL;
    }
    ds->cfg = *cfg;
    if (resolve_parts(ds, err) != 0) {
        free(ds);
        return NULL;
    }
    for (int i = 0; i < ds->n_parts; i++) {
        if (reader_open(&ds->readers[i], &ds->parts[i], cfg->max_samples, err) != 0) {
            if (cfg->dataset_info != NULL)
                err_prefix(err, "dataset \"%s\" (%s): ", ds->parts[i].name, cfg->dataset_info);
            ds_close(ds);
            return NULL;
        }
        ds->total += ds->readers[i].total;
    }
    return ds;
}

/* The next record's text of reader r: 1 found, 0 at its end, -1 broken structure. */
static int next_record(Reader *r, const char **text, size_t *n, int64_t *line, Err *err) {
    if (r->max_samples >= 0 && r->n_records >= r->max_samples)
        return 0; /* not total: a broken structure after the count must still be seen */
    if (!r->is_array) {
        if (!next_line(r, n, line))
            return 0;
        *text = r->line_buf;
        return 1;
    }
    size_t start = 0, end = 0;
    const char *why = NULL;
    int rc = scan_next(r->buf, r->n_bytes, &r->cur, &start, &end, line, &why);
    if (rc < 0)
        return err_set(err, "%s:%lld: %s", r->part->path, (long long)r->cur.line, why);
    *text = r->buf + start;
    *n = end - start;
    return rc;
}

int ds_next(Dataset *ds, DsSample *out, Err *err) {
    memset(out, 0, sizeof *out);
    while (ds->cur < ds->n_parts) {
        Reader *r = &ds->readers[ds->cur];
        const char *text = NULL;
        size_t n = 0;
        int64_t line = 0;
        int rc = next_record(r, &text, &n, &line, err);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            ds->cur++;
            continue;
        }
        Err bad = {{0}};
        rc = make_sample(r, text, n, line, out, &bad);
        r->n_records++;
        if (rc < 0)
            return err_set(err, "%s:%lld: out of memory", r->part->path, (long long)line);
        if (rc == 1) {
            out->index = ds->n_samples++;
            out->part = ds->cur;
            out->file = r->part->path;
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
    return 0;
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
    for (int i = 0; i < ds->n_parts; i++)
        reader_close(&ds->readers[i]);
    free(ds);
}
