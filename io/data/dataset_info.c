/* io/data/dataset_info.c -- a LLaMA-Factory dataset registry read with jansson (see
 * dataset_info.h). Defaults are DatasetAttr's: alpaca with columns instruction, input,
 * output; sharegpt with conversations and the tags from, value, human, gpt, system. */
#include "io/data/dataset_info.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static void copy(char *dst, const char *src) { snprintf(dst, DS_COLUMN_BYTES, "%s", src); }

static void defaults(DsFormat *f) {
    memset(f, 0, sizeof *f);
    f->formatting = DS_ALPACA;
    f->n_prompt = 2;
    copy(f->prompt[0], "instruction");
    copy(f->prompt[1], "input");
    copy(f->response, "output");
    copy(f->messages, "conversations");
    copy(f->role_tag, "from");
    copy(f->content_tag, "value");
    copy(f->user_tag, "human");
    copy(f->assistant_tag, "gpt");
    copy(f->system_tag, "system");
    f->missing_ok = 1;
}

void dsinfo_native(const DsConfig *cfg, DsPart *part) {
    memset(part, 0, sizeof *part);
    defaults(&part->fmt);
    part->fmt.missing_ok = 0;
    snprintf(part->path, sizeof part->path, "%s", cfg->path);
    part->fmt.n_prompt = cfg->n_prompt_fields;
    for (int i = 0; i < cfg->n_prompt_fields; i++)
        copy(part->fmt.prompt[i], cfg->prompt_fields[i]);
    copy(part->fmt.response, cfg->response_field != NULL ? cfg->response_field : "");
}

/* Reads a string-or-null column/tag value into dst ("" for null: not used). */
static int take(const json_t *obj, const char *key, char *dst, const char *at, Err *err) {
    const json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return 0;
    if (json_is_null(v)) {
        dst[0] = '\0';
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) >= DS_COLUMN_BYTES)
        return err_set(err, "%s: \"%s\": expected a column name (a string under %d bytes)",
                       at, key, DS_COLUMN_BYTES);
    copy(dst, json_string_value(v));
    return 0;
}

/* Keys of an entry or its columns that ask for what tlm does not do, with the reason. */
static int refuse_unsupported(const json_t *entry, const char *at, Err *err) {
    static const char *const sources[] = {"hf_hub_url", "ms_hub_url", "om_hub_url",
                                          "script_url", "cloud_file_name"};
    for (size_t i = 0; i < sizeof sources / sizeof sources[0]; i++)
        if (json_object_get(entry, sources[i]) != NULL)
            return err_set(err, "%s: \"%s\": tlm downloads nothing and runs no dataset "
                           "scripts; give a local file as \"file_name\"", at, sources[i]);
    if (json_is_true(json_object_get(entry, "ranking")))
        return err_set(err, "%s: \"ranking\": true: preference pairs have no meaning for "
                       "test-time learning (one prompt per sample)", at);
    if (json_object_get(entry, "num_samples") != NULL)
        return err_set(err, "%s: \"num_samples\": random sampling of a dataset is not "
                       "supported; use max_samples (the first N records)", at);
    static const char *const columns[] = {"images", "videos", "audios", "tools",
                                          "chosen", "rejected", "kto_tag"};
    const json_t *cols = json_object_get(entry, "columns");
    for (size_t i = 0; i < sizeof columns / sizeof columns[0]; i++) {
        const json_t *v = json_object_get(cols, columns[i]);
        if (v != NULL && !json_is_null(v))
            return err_set(err, "%s: columns.%s: not supported (text-only, single-turn "
                           "prompts)", at, columns[i]);
    }
    return 0;
}

static int read_format(const json_t *entry, DsFormat *f, const char *at, Err *err) {
    defaults(f);
    const json_t *fm = json_object_get(entry, "formatting");
    if (fm != NULL) {
        const char *s = json_is_string(fm) ? json_string_value(fm) : "";
        if (strcmp(s, "sharegpt") == 0)
            f->formatting = DS_SHAREGPT;
        else if (strcmp(s, "alpaca") != 0)
            return err_set(err, "%s: \"formatting\": expected alpaca or sharegpt", at);
    }
    const json_t *cols = json_object_get(entry, "columns");
    const json_t *tags = json_object_get(entry, "tags");
    if ((cols != NULL && !json_is_object(cols)) || (tags != NULL && !json_is_object(tags)))
        return err_set(err, "%s: \"columns\" and \"tags\" must be objects", at);
    if (take(cols, "prompt", f->prompt[0], at, err) || take(cols, "query", f->prompt[1], at, err) ||
        take(cols, "response", f->response, at, err) || take(cols, "system", f->system, at, err) ||
        take(cols, "history", f->history, at, err) || take(cols, "messages", f->messages, at, err) ||
        take(tags, "role_tag", f->role_tag, at, err) ||
        take(tags, "content_tag", f->content_tag, at, err) ||
        take(tags, "user_tag", f->user_tag, at, err) ||
        take(tags, "assistant_tag", f->assistant_tag, at, err) ||
        take(tags, "system_tag", f->system_tag, at, err))
        return -1;
    /* A column set to null is not read: drop an empty prompt slot. */
    if (f->prompt[0][0] == '\0') {
        copy(f->prompt[0], f->prompt[1]);
        f->prompt[1][0] = '\0';
    }
    f->n_prompt = (f->prompt[0][0] != '\0') + (f->prompt[1][0] != '\0');
    if (f->formatting == DS_ALPACA && f->n_prompt == 0)
        return err_set(err, "%s: columns: no prompt column (prompt and query are null)", at);
    return 0;
}

/* The data file of an entry: file_name relative to the registry's folder. */
static int resolve_file(const json_t *entry, const char *info_path, char *out, const char *at,
                        Err *err) {
    const json_t *fn = json_object_get(entry, "file_name");
    if (!json_is_string(fn) || json_string_length(fn) == 0)
        return err_set(err, "%s: \"file_name\": required (a data file next to the registry)", at);
    const char *name = json_string_value(fn);
    const char *slash = strrchr(info_path, '/');
    int n = name[0] == '/' || slash == NULL
                ? snprintf(out, DS_PATH_BYTES, "%s", name)
                : snprintf(out, DS_PATH_BYTES, "%.*s/%s", (int)(slash - info_path), info_path, name);
    if (n < 0 || n >= DS_PATH_BYTES)
        return err_set(err, "%s: \"file_name\": path too long", at);
    struct stat st;
    if (stat(out, &st) == 0 && S_ISDIR(st.st_mode))
        return err_set(err, "%s: \"file_name\": %s is a folder; name one JSON or JSONL file", at, out);
    return 0;
}

/* "a, b, c" of the registry's names, for the not-defined message. */
static void list_names(const json_t *root, char *out, size_t out_bytes) {
    const char *key;
    const json_t *v;
    size_t at = 0;
    out[0] = '\0';
    json_object_foreach((json_t *)root, key, v) {
        int w = snprintf(out + at, out_bytes - at, "%s%s", at ? ", " : "", key);
        if (w < 0 || at + (size_t)w >= out_bytes)
            break;
        at += (size_t)w;
    }
}

int dsinfo_resolve(const char *info_path, const char *const *names, int n_names,
                   DsPart *parts, Err *err) {
    if (n_names < 1 || n_names > DS_MAX_DATASETS)
        return err_set(err, "%s: %d datasets named (1..%d allowed)", info_path, n_names,
                       DS_MAX_DATASETS);
    json_error_t jerr;
    json_t *root = json_load_file(info_path, 0, &jerr);
    if (root == NULL)
        return err_set(err, "%s:%d:%d: cannot read the dataset registry: %s", info_path,
                       jerr.line, jerr.column, jerr.text);
    int rc = 0;
    if (!json_is_object(root))
        rc = err_set(err, "%s: expected an object of datasets by name", info_path);
    for (int i = 0; rc == 0 && i < n_names; i++) {
        char at[DS_PATH_BYTES + 96];
        snprintf(at, sizeof at, "%s: dataset \"%s\"", info_path, names[i]);
        const json_t *entry = json_object_get(root, names[i]);
        if (entry == NULL) {
            char defined[512];
            list_names(root, defined, sizeof defined);
            rc = err_set(err, "%s: not defined (defined: %s)", at, defined);
        } else if (!json_is_object(entry)) {
            rc = err_set(err, "%s: expected an object", at);
        } else if (strlen(names[i]) >= DS_COLUMN_BYTES) {
            rc = err_set(err, "%s: name longer than %d bytes", at, DS_COLUMN_BYTES - 1);
        } else {
            memset(&parts[i], 0, sizeof parts[i]);
            copy(parts[i].name, names[i]);
            rc = refuse_unsupported(entry, at, err);
            if (rc == 0)
                rc = read_format(entry, &parts[i].fmt, at, err);
            if (rc == 0)
                rc = resolve_file(entry, info_path, parts[i].path, at, err);
        }
    }
    json_decref(root);
    return rc;
}
