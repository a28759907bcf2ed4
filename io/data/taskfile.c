/* io/data/taskfile.c -- the JSONL task file of method ttt (see taskfile.h): read line by
 * line, each non-blank line parsed on its own with jansson and checked key by key, so a
 * defect names its own line and key. */
#include "io/data/taskfile.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct TaskFile {
    TfConfig cfg;
    FILE *f;
    char *line_buf;
    size_t line_cap;
    int64_t line_no;  /* lines read so far */
    int64_t n_tasks;  /* tasks delivered (or skipped) */
    int64_t total;
};

static const char *or_default(const char *name, const char *def) {
    return name != NULL && name[0] != '\0' ? name : def;
}

static int blank(const char *s) {
    for (; *s != '\0'; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
            return 0;
    return 1;
}

/* Reads the next non-blank line into tf->line_buf: 1, or 0 at the end of the file. */
static int next_line(TaskFile *tf, Err *err) {
    for (;;) {
        errno = 0;
        const ssize_t n = getline(&tf->line_buf, &tf->line_cap, tf->f);
        if (n < 0) {
            if (ferror(tf->f))
                return err_set(err, "%s: read error after line %" PRId64 ": %s",
                               tf->cfg.path, tf->line_no, strerror(errno));
            return 0;
        }
        tf->line_no++;
        if (!blank(tf->line_buf))
            return 1;
    }
}

TaskFile *tf_open(const TfConfig *cfg, Err *err) {
    TaskFile *tf = calloc(1, sizeof *tf);
    if (tf == NULL) {
        err_set(err, "out of memory");
        return NULL;
    }
    tf->cfg = *cfg;
    TfFields *fl = &tf->cfg.fields;
    fl->id = or_default(fl->id, "id");
    fl->train = or_default(fl->train, "train");
    fl->test = or_default(fl->test, "test");
    fl->input = or_default(fl->input, "input");
    fl->output = or_default(fl->output, "output");
    if ((tf->f = fopen(cfg->path, "r")) == NULL) {
        err_set(err, "%s: cannot open the task file: %s", cfg->path, strerror(errno));
        free(tf);
        return NULL;
    }
    int rc;
    while ((rc = next_line(tf, err)) == 1)
        tf->total++;
    if (rc < 0 || fseek(tf->f, 0, SEEK_SET) != 0) {
        if (rc == 0)
            err_set(err, "%s: cannot rewind: %s", cfg->path, strerror(errno));
        tf_close(tf);
        return NULL;
    }
    tf->line_no = 0;
    if (tf->total == 0) {
        err_set(err, "%s: no tasks (expected one JSON object per line)", cfg->path);
        tf_close(tf);
        return NULL;
    }
    if (cfg->max_tasks >= 0 && cfg->max_tasks < tf->total)
        tf->total = cfg->max_tasks;
    return tf;
}

void tf_close(TaskFile *tf) {
    if (tf == NULL)
        return;
    if (tf->f != NULL)
        fclose(tf->f);
    free(tf->line_buf);
    free(tf);
}

int64_t tf_total(const TaskFile *tf) { return tf->total; }
const char *tf_path(const TaskFile *tf) { return tf->cfg.path; }

static void pairs_free(TfPair *p, int32_t n) {
    for (int32_t i = 0; p != NULL && i < n; i++) {
        free(p[i].input);
        free(p[i].output);
    }
    free(p);
}

void tf_task_free(TfTask *t) {
    free(t->id);
    pairs_free(t->train, t->n_train);
    pairs_free(t->test, t->n_test);
    memset(t, 0, sizeof *t);
}

/* "file:line: " + the message: every defect of a task names where it is. */
static int fail_at(const TaskFile *tf, Err *err, const char *key, const char *what) {
    return err_set(err, "%s:%" PRId64 ": %s: %s", tf->cfg.path, tf->line_no, key, what);
}

/* A text field of item `key` (e.g. "train[2].output"), copied; *out NULL when absent. */
static int get_text(const TaskFile *tf, json_t *item, const char *field, const char *key,
                    char **out, Err *err) {
    *out = NULL;
    json_t *v = json_object_get(item, field);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return fail_at(tf, err, key, "expected a string");
    if (json_string_length(v) > TF_MAX_TEXT_BYTES)
        return fail_at(tf, err, key, "longer than 1 MiB");
    if ((*out = strdup(json_string_value(v))) == NULL)
        return err_set(err, "out of memory");
    return 0;
}

/* The list `name` of demonstrations (outputs required) or queries (optional). */
static int get_pairs(const TaskFile *tf, json_t *obj, const char *name, int need_output,
                     TfPair **out, int32_t *n_out, Err *err) {
    const TfFields *fl = &tf->cfg.fields;
    json_t *a = json_object_get(obj, name);
    char key[256], what[128];
    if (a == NULL)
        return fail_at(tf, err, name, "missing (expected a list of {input, output} objects)");
    if (!json_is_array(a) || json_array_size(a) == 0)
        return fail_at(tf, err, name, "expected a non-empty list of {input, output} objects");
    if (json_array_size(a) > TF_MAX_ITEMS) {
        snprintf(what, sizeof what, "%zu items, at most %d", json_array_size(a), TF_MAX_ITEMS);
        return fail_at(tf, err, name, what);
    }
    const int32_t n = (int32_t)json_array_size(a);
    TfPair *p = calloc((size_t)n, sizeof *p);
    if (p == NULL)
        return err_set(err, "out of memory");
    *out = p;
    *n_out = n;
    for (int32_t i = 0; i < n; i++) {
        json_t *item = json_array_get(a, (size_t)i);
        snprintf(key, sizeof key, "%s[%d]", name, i);
        if (!json_is_object(item))
            return fail_at(tf, err, key, "expected an object");
        snprintf(key, sizeof key, "%s[%d].%s", name, i, fl->input);
        if (get_text(tf, item, fl->input, key, &p[i].input, err) != 0)
            return -1;
        if (p[i].input == NULL)
            return fail_at(tf, err, key, "missing (expected a string)");
        snprintf(key, sizeof key, "%s[%d].%s", name, i, fl->output);
        if (get_text(tf, item, fl->output, key, &p[i].output, err) != 0)
            return -1;
        p[i].has_output = p[i].output != NULL;
        if (!p[i].has_output && need_output)
            return fail_at(tf, err, key, "missing (a demonstration needs its output string)");
        if (p[i].output == NULL && (p[i].output = strdup("")) == NULL)
            return err_set(err, "out of memory");
    }
    return 0;
}

/* The id: a non-empty string, or an integer written in decimal. */
static int get_id(const TaskFile *tf, json_t *obj, char **out, Err *err) {
    const char *name = tf->cfg.fields.id;
    json_t *v = json_object_get(obj, name);
    char num[32];
    const char *s = NULL;
    if (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) < 256)
        s = json_string_value(v);
    else if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        s = num;
    }
    if (s == NULL)
        return fail_at(tf, err, name,
                       v == NULL ? "missing (expected a string or an integer)"
                                 : "expected a non-empty string (< 256 bytes) or an integer");
    if ((*out = strdup(s)) == NULL)
        return err_set(err, "out of memory");
    return 0;
}

static int parse_task(const TaskFile *tf, TfTask *t, Err *err) {
    json_error_t je;
    json_t *obj = json_loads(tf->line_buf, 0, &je);
    if (obj == NULL)
        return err_set(err, "%s:%" PRId64 ": malformed JSON at column %d: %s", tf->cfg.path,
                       tf->line_no, je.column, je.text);
    int rc = 0;
    if (!json_is_object(obj))
        rc = fail_at(tf, err, "task", "expected a JSON object per line");
    if (rc == 0)
        rc = get_id(tf, obj, &t->id, err);
    if (rc == 0)
        rc = get_pairs(tf, obj, tf->cfg.fields.train, 1, &t->train, &t->n_train, err);
    if (rc == 0)
        rc = get_pairs(tf, obj, tf->cfg.fields.test, 0, &t->test, &t->n_test, err);
    json_decref(obj);
    return rc;
}

int tf_next(TaskFile *tf, TfTask *out, Err *err) {
    memset(out, 0, sizeof *out);
    if (tf->n_tasks >= tf->total)
        return 0;
    const int rc = next_line(tf, err);
    if (rc <= 0)
        return rc;
    out->index = tf->n_tasks;
    out->line = tf->line_no;
    if (parse_task(tf, out, err) != 0) {
        tf_task_free(out);
        return -1;
    }
    tf->n_tasks++;
    return 1;
}

int tf_skip(TaskFile *tf, int64_t n, Err *err) {
    for (int64_t i = 0; i < n; i++) {
        const int rc = tf->n_tasks < tf->total ? next_line(tf, err) : 0;
        if (rc < 0)
            return -1;
        if (rc == 0)
            return err_set(err, "%s: has %" PRId64 " tasks, cannot skip %" PRId64,
                           tf->cfg.path, tf->n_tasks, n);
        tf->n_tasks++;
    }
    return 0;
}
