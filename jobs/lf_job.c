/* jobs/lf_job.c -- reading a LLaMA-Factory flat job file with libyaml's document API into
 * key entries, the key=value overrides over them, and the entry points of lf_job.h. The
 * keys' meaning lives in lf_map.c. */
#include "jobs/lf_job.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "io/base/strbuf.h"
#include "jobs/job_yaml_guard.h"
#include "jobs/lf_map.h"

/* The root mapping of a parsed document, or NULL. */
static yaml_node_t *root_mapping(yaml_document_t *doc) {
    yaml_node_t *root = yaml_document_get_root_node(doc);
    return root != NULL && root->type == YAML_MAPPING_NODE ? root : NULL;
}

static int parse(const char *text, yaml_parser_t *parser, yaml_document_t *doc) {
    if (!yaml_parser_initialize(parser))
        return 0;
    yaml_parser_set_input_string(parser, (const unsigned char *)text, strlen(text));
    if (!yaml_parser_load(parser, doc)) {
        yaml_parser_delete(parser);
        return 0;
    }
    return 1;
}

int lf_is_flat(const char *text, size_t n) {
    yaml_parser_t parser;
    yaml_document_t doc;
    /* The guard first: libyaml's document grows quadratically with deep nesting. */
    if (job_yaml_guard(text, n, "job", "job file", NULL) != 0 || !parse(text, &parser, &doc))
        return 0;
    int flat = 0;
    yaml_node_t *root = root_mapping(&doc);
    for (yaml_node_pair_t *p = root ? root->data.mapping.pairs.start : NULL;
         root != NULL && p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&doc, p->key);
        if (k->type == YAML_SCALAR_NODE &&
            (strcmp((const char *)k->data.scalar.value, "stage") == 0 ||
             strcmp((const char *)k->data.scalar.value, "model_name_or_path") == 0))
            flat = 1;
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return flat;
}

/* The value of one key: a scalar as written, a list of scalars joined with "," (as
 * LLaMA-Factory's comma lists), anything else refused. */
static int take_value(const char *name, yaml_document_t *doc, yaml_node_t *kn,
                      yaml_node_t *vn, LfEntry *e, Err *err) {
    const char *key = (const char *)kn->data.scalar.value;
    const int line = (int)vn->start_mark.line + 1, col = (int)vn->start_mark.column + 1;
    if (vn->type == YAML_SCALAR_NODE) {
        if (vn->data.scalar.length >= LF_VALUE_BYTES)
            return err_set(err, "%s:%d:%d: %s: longer than %d bytes", name, line, col, key,
                           LF_VALUE_BYTES - 1);
        snprintf(e->value, sizeof e->value, "%s", (const char *)vn->data.scalar.value);
        e->plain = vn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        return 0;
    }
    if (vn->type != YAML_SEQUENCE_NODE)
        return err_set(err, "%s:%d:%d: %s: expected a value or a list, got a mapping (a flat "
                       "LLaMA-Factory file has no sections)", name, line, col, key);
    size_t at = 0;
    for (yaml_node_item_t *it = vn->data.sequence.items.start; it < vn->data.sequence.items.top; it++) {
        yaml_node_t *item = yaml_document_get_node(doc, *it);
        if (item->type != YAML_SCALAR_NODE)
            return err_set(err, "%s:%d:%d: %s: expected a list of names", name, line, col, key);
        int w = snprintf(e->value + at, sizeof e->value - at, "%s%s", at ? "," : "",
                         (const char *)item->data.scalar.value);
        if (w < 0 || at + (size_t)w >= sizeof e->value)
            return err_set(err, "%s:%d:%d: %s: longer than %d bytes", name, line, col, key,
                           LF_VALUE_BYTES - 1);
        at += (size_t)w;
    }
    e->plain = 0; /* a list is names, never a number */
    return 0;
}

static int read_entries(const char *text, const char *name, LfEntries *out, Err *err) {
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        return err_set(err, "%s: cannot initialise the YAML parser", name);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
    if (!yaml_parser_load(&parser, &doc)) {
        err_set(err, "%s:%d:%d: YAML syntax error: %s", name, (int)parser.problem_mark.line + 1,
                (int)parser.problem_mark.column + 1, parser.problem ? parser.problem : "?");
        yaml_parser_delete(&parser);
        return -1;
    }
    int rc = 0;
    yaml_node_t *root = root_mapping(&doc);
    if (root == NULL)
        rc = err_set(err, "%s: expected a mapping of keys (model_name_or_path:, stage:, ...)", name);
    for (yaml_node_pair_t *p = root ? root->data.mapping.pairs.start : NULL;
         rc == 0 && p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(&doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(&doc, p->value);
        const int line = (int)kn->start_mark.line + 1, col = (int)kn->start_mark.column + 1;
        if (kn->type != YAML_SCALAR_NODE || kn->data.scalar.length >= LF_KEY_BYTES) {
            rc = err_set(err, "%s:%d:%d: expected a key (a name under %d bytes)", name, line,
                         col, LF_KEY_BYTES);
            break;
        }
        const char *key = (const char *)kn->data.scalar.value;
        for (int i = 0; rc == 0 && i < out->n; i++)
            if (strcmp(out->e[i].key, key) == 0)
                rc = err_set(err, "%s:%d:%d: %s: duplicate key (first given on line %d)", name,
                             line, col, key, out->e[i].line);
        if (rc == 0 && out->n == LF_MAX_ENTRIES)
            rc = err_set(err, "%s:%d:%d: more than %d keys", name, line, col, LF_MAX_ENTRIES);
        if (rc != 0)
            break;
        LfEntry *e = &out->e[out->n];
        memset(e, 0, sizeof *e);
        snprintf(e->key, sizeof e->key, "%s", key);
        e->line = line;
        e->col = col;
        if ((rc = take_value(name, &doc, kn, vn, e, err)) == 0)
            out->n++;
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

int lf_is_override(const char *arg) {
    const char *eq = strchr(arg, '=');
    if (eq == NULL || eq == arg)
        return 0;
    for (const char *p = arg; p < eq; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            return 0;
    return 1;
}

/* key=value over the file's keys: replaces the key's value or adds the key. A value in
 * quotes is a string; otherwise typed as YAML would (numbers, booleans, null). */
static int apply_override(LfEntries *entries, const char *arg, Err *err) {
    if (!lf_is_override(arg))
        return err_set(err, "%s: expected key=value (a flat LLaMA-Factory key; native keys "
                       "go through --set section.key=value)", arg);
    const char *eq = strchr(arg, '=');
    char key[LF_KEY_BYTES];
    if ((size_t)(eq - arg) >= sizeof key)
        return err_set(err, "%s: key longer than %d bytes", arg, LF_KEY_BYTES - 1);
    snprintf(key, sizeof key, "%.*s", (int)(eq - arg), arg);
    LfEntry *e = NULL;
    for (int i = 0; i < entries->n && e == NULL; i++)
        if (strcmp(entries->e[i].key, key) == 0)
            e = &entries->e[i];
    if (e == NULL) {
        if (entries->n == LF_MAX_ENTRIES)
            return err_set(err, "%s: more than %d keys", arg, LF_MAX_ENTRIES);
        e = &entries->e[entries->n++];
        snprintf(e->key, sizeof e->key, "%s", key);
    }
    const char *v = eq + 1;
    size_t n = strlen(v);
    const int quoted = n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0];
    if (n >= LF_VALUE_BYTES)
        return err_set(err, "%s: value longer than %d bytes", key, LF_VALUE_BYTES - 1);
    snprintf(e->value, sizeof e->value, "%.*s", (int)(quoted ? n - 2 : n), v + quoted);
    e->plain = !quoted;
    e->line = e->col = -1;
    return 0;
}

int lf_job_load_string(const char *text, const char *name, const char *const *overrides,
                       int n_overrides, JobSpec *spec, LfNotes *notes, Err *err) {
    return lf_job_load_text(text, strlen(text), name, overrides, n_overrides, spec, notes, err);
}

int lf_job_load_text(const char *text, size_t n, const char *name, const char *const *overrides,
                     int n_overrides, JobSpec *spec, LfNotes *notes, Err *err) {
    /* NUL bytes, a BOM, a second document, deep nesting: refused before libyaml builds
     * the document, as for native jobs. */
    if (job_yaml_guard(text, n, name, "job file", err) != 0)
        return -1;
    LfEntries *entries = calloc(1, sizeof *entries); /* ~100 KiB: off the stack */
    LfNotes scratch;
    if (entries == NULL)
        return err_set(err, "%s: out of memory", name);
    if (notes == NULL)
        notes = &scratch;
    notes->n_notes = 0;
    notes->overwrite_output_dir = 0;
    int rc = read_entries(text, name, entries, err);
    for (int i = 0; rc == 0 && i < n_overrides; i++)
        if ((rc = apply_override(entries, overrides[i], err)) != 0)
            err_prefix(err, "%s: override ", name);
    if (rc == 0)
        rc = lf_map(entries, name, spec, notes, err);
    free(entries);
    return rc;
}

int lf_job_load(const char *path, const char *const *overrides, int n_overrides,
                JobSpec *spec, LfNotes *notes, Err *err) {
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return err_set(err, "%s: cannot open job file: %s", path, strerror(errno));
    StrBuf text = {0};
    int rc = strbuf_read_stream(&text, f, err);
    fclose(f);
    if (rc == 0)
        rc = lf_job_load_text(text.data != NULL ? text.data : "", text.n_bytes, path, overrides,
                              n_overrides, spec, notes, err);
    else
        err_prefix(err, "%s: cannot read job file: ", path);
    strbuf_free(&text);
    return rc;
}
