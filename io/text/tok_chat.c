/* io/text/tok_chat.c -- the model's own chat template, kept with the tokenizer as Hugging
 * Face keeps it (tokenizer.chat_template): chat_template.jinja beside tokenizer.json wins
 * (transformers >= 4.43 writes it and reads it first), else tokenizer_config.json's
 * "chat_template" string, or its "default" entry when it lists named templates. The text
 * is only stored here; io/text/chat_template.c recognises and reads it. */
#include "io/text/tok_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole of path (owned), NULL when it does not exist (*missing = 1) or on error. */
static char *read_text(const char *path, int *missing, Err *err) {
    *missing = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        if (errno == ENOENT) {
            *missing = 1;
            return NULL;
        }
        err_set(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    StrBuf b = {0};
    int rc = strbuf_read_stream(&b, f, err);
    fclose(f);
    if (rc != 0)
        err_prefix(err, "%s: ", path);
    if (rc == 0 && (memchr(b.data, '\0', b.n_bytes) != NULL || !utf8_valid(b.data, b.n_bytes)))
        rc = err_set(err, "%s: not UTF-8 text", path);
    if (rc != 0) {
        strbuf_free(&b);
        return NULL;
    }
    return b.data; /* NUL-terminated by strbuf_read_stream */
}

/* config's "chat_template" as text (borrowed), NULL when absent; -1 on a bad value. */
static int config_template(const json_t *config, const char *config_path, const char **out,
                           Err *err) {
    *out = NULL;
    const json_t *ct = config != NULL ? json_object_get(config, "chat_template") : NULL;
    if (ct == NULL || json_is_null(ct))
        return 0;
    if (json_is_string(ct)) {
        *out = json_string_value(ct);
        return 0;
    }
    for (size_t i = 0; json_is_array(ct) && i < json_array_size(ct); i++) {
        const json_t *e = json_array_get(ct, i);
        const char *name = json_string_value(json_object_get(e, "name"));
        if (name != NULL && strcmp(name, "default") == 0 &&
            json_is_string(json_object_get(e, "template"))) {
            *out = json_string_value(json_object_get(e, "template"));
            return 0;
        }
    }
    if (json_is_array(ct))
        return 0; /* named templates only, no default: the model has none to pick */
    return err_set(err, "%s: key \"chat_template\": expected a string or a list of {name, "
                   "template}", config_path);
}

int tok_load_chat_template(Tokenizer *tok, const json_t *config, const char *config_path,
                           const char *dir, size_t dir_bytes, Err *err) {
    const size_t n = dir_bytes + sizeof "chat_template.jinja";
    char *jinja = malloc(n);
    if (jinja == NULL)
        return err_set(err, "out of memory");
    memcpy(jinja, dir, dir_bytes);
    strcpy(jinja + dir_bytes, "chat_template.jinja");
    int missing;
    tok->chat_template = read_text(jinja, &missing, err);
    if (tok->chat_template != NULL) {
        tok->chat_template_path = jinja;
        return 0;
    }
    free(jinja);
    if (!missing)
        return -1;
    return tok_load_config_template(tok, config, config_path, err);
}

int tok_load_config_template(Tokenizer *tok, const json_t *config, const char *config_path,
                             Err *err) {
    const char *text;
    if (config_template(config, config_path, &text, err) != 0)
        return -1;
    if (text == NULL)
        return 0;
    tok->chat_template = strdup(text);
    tok->chat_template_path = strdup(config_path);
    if (tok->chat_template == NULL || tok->chat_template_path == NULL)
        return err_set(err, "out of memory");
    return 0;
}

const char *tok_chat_template(const Tokenizer *tok) { return tok->chat_template; }
const char *tok_chat_template_path(const Tokenizer *tok) { return tok->chat_template_path; }
