/* jobs/job.c -- reading a job file with libyaml's document API into a JobSpec (sections
 * and subsections such as method.eata nest), --set overrides, defaults and job_diff (see
 * job.h). The key table and the typed setters live in job_schema.c, the checks across
 * keys in job_validate.c, the YAML writer in job_emit.c; this file walks YAML and places
 * messages. */
#include "jobs/job.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "io/base/strbuf.h"
#include "jobs/job_schema.h"
#include "jobs/job_yaml_guard.h"

/* The reference's example jobs: online uses a constant lr without warmup, offline a
 * cosine schedule with warmup_ratio 0.1 (examples/train_lora/{online,offline}_ttl.yaml).
 * Applies to the keys the job did not give. */
static void resolve_defaults(JobSpec *spec) {
    int offline = spec->method.setting == JOB_OFFLINE;
    if (!jf_given(spec, "optim.schedule"))
        spec->optim.schedule = offline ? JOB_COSINE : JOB_CONSTANT;
    if (!jf_given(spec, "optim.warmup_ratio"))
        spec->optim.warmup_ratio = offline ? 0.1 : 0.0;
}

static const char *node_kind(const yaml_node_t *n) {
    return n->type == YAML_MAPPING_NODE ? "a mapping" : n->type == YAML_SEQUENCE_NODE ? "a list" : "a scalar";
}

/* Sets field f from a YAML node; fills why on failure and leaves spec as it was. */
static int set_from_node(const JobField *f, yaml_document_t *doc, yaml_node_t *v,
                         JobSpec *spec, char *why, size_t why_bytes) {
    char want[200];
    if (v->type == YAML_SCALAR_NODE) {
        return jf_set_scalar(f, spec, (const char *)v->data.scalar.value,
                             v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE, why, why_bytes);
    }
    jf_expect(f, want, sizeof want);
    if (v->type != YAML_SEQUENCE_NODE || f->kind != JF_LIST) {
        snprintf(why, why_bytes, "expected %s, got %s", want, node_kind(v));
        return -1;
    }
    const char *items[JOB_MAX_FIELDS + JOB_MAX_TARGETS];
    int n = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
        yaml_node_t *item = yaml_document_get_node(doc, *it);
        if (item->type != YAML_SCALAR_NODE || n == (int)(sizeof items / sizeof items[0])) {
            snprintf(why, why_bytes, "expected %s, got %s in the list", want,
                     item->type != YAML_SCALAR_NODE ? node_kind(item) : "too many items");
            return -1;
        }
        items[n++] = (const char *)item->data.scalar.value;
    }
    return jf_set_list(f, spec, items, n, why, why_bytes);
}

/* Sections and subsections one document may open ("method", "method.eata"); the schema
 * has 10 sections and a subsection per method with parameters. */
#define WALK_MAX_SECTIONS 32
#define WALK_KEY_BYTES 160 /* a dotted key ("method.eata.fisher_alpha") */

/* Walking state for one document. */
typedef struct Walk {
    const char *name; /* file name for messages */
    yaml_document_t *doc;
    JobSpec *spec;
    char seen[WALK_MAX_SECTIONS][WALK_KEY_BYTES]; /* sections opened so far */
    int n_seen;
    Err *err;
} Walk;

/* key opens a section, unless it is a section's scalar shorthand (`backend: cpu`). */
static int as_section(const char *key, const yaml_node_t *vn) {
    if (!jf_is_section(key))
        return 0;
    return !(vn->type == YAML_SCALAR_NODE && vn->data.scalar.length > 0 && jf_find(key) != NULL);
}

static int walk_key(Walk *w, const char *key, yaml_node_t *kn, yaml_node_t *vn) {
    int line = (int)kn->start_mark.line + 1, col = (int)kn->start_mark.column + 1;
    const JobField *f = jf_find(key);
    if (f == NULL) {
        char hint[300];
        jf_suggest(key, hint, sizeof hint);
        return err_set(w->err, "%s:%d:%d: %s: unknown key%s", w->name, line, col, key, hint);
    }
    const int idx = jf_index(f);
    if (w->spec->given_line[idx] > 0)
        return err_set(w->err, "%s:%d:%d: %s: duplicate key (first given on line %d)", w->name,
                       line, col, key, (int)w->spec->given_line[idx]);
    char why[400];
    if (set_from_node(f, w->doc, vn, w->spec, why, sizeof why) != 0)
        return err_set(w->err, "%s:%d:%d: %s: %s", w->name, (int)vn->start_mark.line + 1,
                       (int)vn->start_mark.column + 1, key, why);
    w->spec->given_line[idx] = line;
    w->spec->given_col[idx] = col;
    return 0;
}

/* The keys under section (kn: its key node, vn: its value); subsections recurse. */
static int walk_section(Walk *w, const char *section, yaml_node_t *kn, yaml_node_t *vn) {
    const int line = (int)kn->start_mark.line + 1, col = (int)kn->start_mark.column + 1;
    for (int i = 0; i < w->n_seen; i++)
        if (strcmp(w->seen[i], section) == 0)
            return err_set(w->err, "%s:%d:%d: %s: duplicate section", w->name, line, col,
                           section);
    if (w->n_seen == WALK_MAX_SECTIONS)
        return err_set(w->err, "%s:%d:%d: %s: more than %d sections", w->name, line, col,
                       section, WALK_MAX_SECTIONS);
    snprintf(w->seen[w->n_seen++], WALK_KEY_BYTES, "%s", section);
    if (vn->type == YAML_SCALAR_NODE && vn->data.scalar.length == 0)
        return 0; /* "lora:" with nothing under it */
    if (vn->type != YAML_MAPPING_NODE)
        return err_set(w->err, "%s:%d:%d: %s: expected a mapping of keys, got %s", w->name,
                       (int)vn->start_mark.line + 1, (int)vn->start_mark.column + 1, section,
                       node_kind(vn));
    for (yaml_node_pair_t *q = vn->data.mapping.pairs.start; q < vn->data.mapping.pairs.top; q++) {
        yaml_node_t *skn = yaml_document_get_node(w->doc, q->key);
        yaml_node_t *svn = yaml_document_get_node(w->doc, q->value);
        char full[WALK_KEY_BYTES];
        if (skn->type != YAML_SCALAR_NODE)
            return err_set(w->err, "%s:%d:%d: %s: expected a key, got %s", w->name,
                           (int)skn->start_mark.line + 1, (int)skn->start_mark.column + 1,
                           section, node_kind(skn));
        snprintf(full, sizeof full, "%s.%s", section, (const char *)skn->data.scalar.value);
        const int rc = as_section(full, svn) ? walk_section(w, full, skn, svn)
                                             : walk_key(w, full, skn, svn);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static int walk_root(Walk *w, yaml_node_t *root) {
    if (root == NULL)
        return err_set(w->err, "%s: empty job file (model.path and data.path are required)",
                       w->name);
    if (root->type != YAML_MAPPING_NODE)
        return err_set(w->err, "%s:%d:%d: expected a mapping of sections (model:, data:, ...)",
                       w->name, (int)root->start_mark.line + 1, (int)root->start_mark.column + 1);
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(w->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(w->doc, p->value);
        if (kn->type != YAML_SCALAR_NODE)
            return err_set(w->err, "%s:%d:%d: expected a key, got %s", w->name,
                           (int)kn->start_mark.line + 1, (int)kn->start_mark.column + 1,
                           node_kind(kn));
        const char *key = (const char *)kn->data.scalar.value;
        const int rc = as_section(key, vn) ? walk_section(w, key, kn, vn)
                                           : walk_key(w, key, kn, vn);
        if (rc != 0)
            return -1;
    }
    return 0;
}

int job_load_text(const char *text, size_t n, const char *name, JobSpec *spec, Err *err) {
    job_defaults(spec);
    snprintf(spec->source, sizeof spec->source, "%s", name);
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        return err_set(err, "%s: cannot initialise the YAML parser", name);
    if (job_yaml_guard(text, n, name, "job file", err) != 0) {
        yaml_parser_delete(&parser);
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, n);
    if (!yaml_parser_load(&parser, &doc)) {
        err_set(err, "%s:%d:%d: YAML syntax error: %s%s%s", name,
                (int)parser.problem_mark.line + 1, (int)parser.problem_mark.column + 1,
                parser.problem ? parser.problem : "?", parser.context ? " " : "",
                parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return -1;
    }
    Walk w = {.name = name, .doc = &doc, .spec = spec, .err = err};
    int rc = walk_root(&w, yaml_document_get_root_node(&doc));
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rc != 0)
        return -1;
    resolve_defaults(spec);
    return job_validate(spec, err);
}

int job_load_string(const char *text, const char *name, JobSpec *spec, Err *err) {
    return job_load_text(text, strlen(text), name, spec, err);
}

int job_read_file(const char *path, StrBuf *text, Err *err) {
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return err_set(err, "%s: cannot open job file: %s", path, strerror(errno));
    struct stat sb; /* fopen opens a directory; its first read fails with EISDIR */
    if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fclose(f);
        return err_set(err, "%s: is a directory, expected a YAML job file", path);
    }
    const int rc = strbuf_read_stream(text, f, err);
    fclose(f);
    if (rc != 0) {
        strbuf_free(text);
        return err_prefix(err, "%s: cannot read job file: ", path);
    }
    return 0;
}

int job_load(const char *path, JobSpec *spec, Err *err) {
    StrBuf text = {0};
    if (job_read_file(path, &text, err) != 0)
        return -1;
    const int rc =
        job_load_text(text.data != NULL ? text.data : "", text.n_bytes, path, spec, err);
    strbuf_free(&text);
    return rc;
}

int job_set(JobSpec *spec, const char *assignment, Err *err) {
    const char *eq = strchr(assignment, '=');
    if (eq == NULL || eq == assignment)
        return err_set(err, "--set %s: expected key=value", assignment);
    char key[160];
    snprintf(key, sizeof key, "%.*s", (int)(eq - assignment), assignment);
    const JobField *f = jf_find(key);
    if (f == NULL) {
        char hint[300];
        if (jf_is_section(key)) {
            jf_section_keys(key, hint, sizeof hint);
            return err_set(err, "--set %s: a section; set one of its keys%s", key, hint);
        }
        jf_suggest(key, hint, sizeof hint);
        return err_set(err, "--set %s: unknown key%s", key, hint);
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        return err_set(err, "--set %s: cannot initialise the YAML parser", key);
    char name[200];
    snprintf(name, sizeof name, "--set %s", key);
    if (job_yaml_guard(eq + 1, strlen(eq + 1), name, "value", err) != 0) {
        yaml_parser_delete(&parser);
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)(eq + 1), strlen(eq + 1));
    if (!yaml_parser_load(&parser, &doc)) {
        err_set(err, "--set %s: cannot read \"%s\" as a YAML value: %s", key, eq + 1,
                parser.problem ? parser.problem : "?");
        yaml_parser_delete(&parser);
        return -1;
    }
    JobSpec next = *spec;
    char why[400];
    int rc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root == NULL) /* "key=" : an empty plain scalar */
        rc = jf_set_scalar(f, &next, "", 1, why, sizeof why);
    else
        rc = set_from_node(f, &doc, root, &next, why, sizeof why);
    if (rc == 0) {
        next.given_line[jf_index(f)] = -1;
        next.given_col[jf_index(f)] = -1;
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rc != 0)
        return err_set(err, "--set %s: %s", key, why);
    resolve_defaults(&next);
    if (job_validate(&next, err) != 0)
        return err_prefix(err, "after --set %s: ", key);
    *spec = next;
    return 0;
}

int job_diff(const JobSpec *a, const JobSpec *b, char *diff, size_t diff_bytes) {
    int n_fields;
    const JobField *t = jf_table(&n_fields);
    for (int i = 0; i < n_fields; i++) {
        char va[JOB_PATH_BYTES + 8], vb[JOB_PATH_BYTES + 8];
        if (!jf_applies(&t[i], a) && !jf_applies(&t[i], b))
            continue; /* a parameter of a method neither job runs */
        jf_format(&t[i], a, va, sizeof va);
        jf_format(&t[i], b, vb, sizeof vb);
        if (strcmp(va, vb) != 0) {
            if (diff != NULL)
                snprintf(diff, diff_bytes, "%s: %s vs %s", t[i].key, va, vb);
            return 1;
        }
    }
    return 0;
}

void job_dataset_config(const JobSpec *spec, DsConfig *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->path = spec->data.path;
    if (spec->data.n_datasets > 0) {
        cfg->dataset_info = spec->data.dataset_info;
        cfg->n_datasets = spec->data.n_datasets;
        for (int i = 0; i < spec->data.n_datasets; i++)
            cfg->datasets[i] = spec->data.datasets[i];
    }
    cfg->n_prompt_fields = spec->data.n_prompt;
    for (int i = 0; i < spec->data.n_prompt; i++)
        cfg->prompt_fields[i] = spec->data.prompt[i];
    cfg->response_field = spec->data.response[0] != '\0' ? spec->data.response : NULL;
    cfg->max_samples = spec->data.max_samples;
    cfg->skip_bad = spec->data.on_error == JOB_SKIP;
}

const char *job_setting_name(JobSetting s) { return s == JOB_OFFLINE ? "offline" : "online"; }
const char *job_loss_tokens_name(JobLossTokens l) {
    return l == JOB_LOSS_CONTENT ? "content" : "all";
}
const char *job_schedule_name(JobSchedule s) { return s == JOB_COSINE ? "cosine" : "constant"; }
const char *job_backend_name(JobBackend b) {
    return b == JOB_CPU ? "cpu" : b == JOB_CUDA ? "cuda" : "auto";
}
const char *job_ttt_loss_name(JobTttLoss l) { return l == JOB_TTT_LOSS_ALL ? "all" : "output"; }
