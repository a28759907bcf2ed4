/* io/data/dataset_record.c -- one record to (prompt, label) by its dataset's layout (see
 * dataset_record.h). The alpaca rule is AlpacaDatasetConverter's: the prompt fields that
 * are non-empty strings joined by "\n", the response when it is a string; the sharegpt
 * rule is SharegptDatasetConverter's for one exchange: an optional leading system turn,
 * then the user's turn and the assistant's. */
#include "io/data/dataset_record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *dsrec_json_kind(const json_t *v) {
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

static int bad(char *why, size_t why_bytes, const char *fmt, const char *a, const char *b) {
    snprintf(why, why_bytes, fmt, a, b);
    return 0;
}

/* The per-record system prompt: tlm renders every sample with the template's default
 * system prompt (io/text/chat_template.h), so a record asking for its own is refused
 * rather than answered differently from the reference. */
static int check_system(const DsFormat *f, const json_t *root, const char *sys, char *why,
                        size_t why_bytes) {
    if (sys == NULL && f->system[0] != '\0') {
        const json_t *v = json_object_get(root, f->system);
        sys = json_is_string(v) ? json_string_value(v) : NULL;
    }
    if (sys != NULL && sys[0] != '\0')
        return bad(why, why_bytes,
                   "a system prompt of its own (column \"%s\"%s): not supported, every "
                   "sample uses the template's default system prompt",
                   f->system[0] != '\0' ? f->system : f->system_tag,
                   f->system[0] != '\0' ? "" : " turn");
    return 1;
}

/* Joins n non-empty parts with "\n" into *out (owned-after-return); -1 out of memory. */
static int join_parts(const char *const *parts, int n, char **out) {
    size_t total = 1;
    for (int i = 0; i < n; i++)
        total += strlen(parts[i]) + 1;
    if ((*out = malloc(total)) == NULL)
        return -1;
    (*out)[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (i > 0)
            strcat(*out, "\n");
        strcat(*out, parts[i]);
    }
    return 0;
}

static int alpaca(const DsFormat *f, const json_t *root, char **prompt, char **label,
                  int *has_response, char *why, size_t why_bytes) {
    if (f->history[0] != '\0') {
        const json_t *h = json_object_get(root, f->history);
        if (json_is_array(h) && json_array_size(h) > 0)
            return bad(why, why_bytes, "earlier turns in column \"%s\"%s: multi-turn chats "
                       "are not supported (one user turn per sample)", f->history, "");
    }
    if (check_system(f, root, NULL, why, why_bytes) != 1)
        return 0;
    const char *parts[DS_MAX_PROMPT_FIELDS];
    int n_parts = 0;
    for (int i = 0; i < f->n_prompt; i++) {
        const json_t *v = json_object_get(root, f->prompt[i]);
        if (v == NULL && f->missing_ok)
            continue;
        if (v == NULL)
            return bad(why, why_bytes, "missing prompt field \"%s\"%s", f->prompt[i], "");
        if (!json_is_string(v) && !json_is_null(v))
            return bad(why, why_bytes, "prompt field \"%s\": expected a string, got %s",
                       f->prompt[i], dsrec_json_kind(v));
        if (json_is_string(v) && json_string_length(v) > 0)
            parts[n_parts++] = json_string_value(v);
    }
    const json_t *resp = f->response[0] != '\0' ? json_object_get(root, f->response) : NULL;
    *has_response = json_is_string(resp);
    if (join_parts(parts, n_parts, prompt) != 0)
        return -1;
    *label = strdup(*has_response ? json_string_value(resp) : "");
    return *label == NULL ? -1 : 1;
}

/* The content of turn i with the role it must have; NULL with why filled otherwise. */
static const char *turn(const DsFormat *f, const json_t *msgs, size_t i, const char *role,
                        char *why, size_t why_bytes) {
    const json_t *m = json_array_get(msgs, i);
    const json_t *r = json_object_get(m, f->role_tag);
    const json_t *c = json_object_get(m, f->content_tag);
    char at[32];
    snprintf(at, sizeof at, "turn %zu", i + 1);
    if (!json_is_object(m) || !json_is_string(r) || !json_is_string(c)) {
        bad(why, why_bytes, "%s of \"%s\": expected an object with string role and content",
            at, f->messages);
        return NULL;
    }
    if (strcmp(json_string_value(r), role) != 0) {
        snprintf(why, why_bytes, "%s: role \"%s\", expected \"%s\" (one exchange: the user's "
                 "turn, then the assistant's)", at, json_string_value(r), role);
        return NULL;
    }
    return json_string_value(c);
}

static int sharegpt(const DsFormat *f, const json_t *root, char **prompt, char **label,
                    int *has_response, char *why, size_t why_bytes) {
    const json_t *msgs = json_object_get(root, f->messages);
    if (!json_is_array(msgs))
        return bad(why, why_bytes, "column \"%s\": expected a list of turns, got %s",
                   f->messages, msgs == NULL ? "nothing" : dsrec_json_kind(msgs));
    size_t first = 0, n = json_array_size(msgs);
    const json_t *r0 = json_object_get(json_array_get(msgs, 0), f->role_tag);
    if (n > 0 && f->system_tag[0] != '\0' && json_is_string(r0) &&
        strcmp(json_string_value(r0), f->system_tag) == 0) {
        const json_t *c0 = json_object_get(json_array_get(msgs, 0), f->content_tag);
        if (check_system(f, root, json_is_string(c0) ? json_string_value(c0) : "", why,
                         why_bytes) != 1)
            return 0;
        first = 1;
    } else if (check_system(f, root, NULL, why, why_bytes) != 1) {
        return 0;
    }
    if (n - first != 2) {
        char count[32];
        snprintf(count, sizeof count, "%zu", n - first);
        return bad(why, why_bytes, "%s turns in \"%s\": one exchange (the user's turn, then "
                   "the assistant's) per sample", count, f->messages);
    }
    const char *user = turn(f, msgs, first, f->user_tag, why, why_bytes);
    const char *answer = user ? turn(f, msgs, first + 1, f->assistant_tag, why, why_bytes) : NULL;
    if (answer == NULL)
        return 0;
    *has_response = 1;
    *prompt = strdup(user);
    *label = strdup(answer);
    return *prompt == NULL || *label == NULL ? -1 : 1;
}

int dsrec_convert(const DsFormat *f, const json_t *root, char **prompt, char **label,
                  int *has_response, char *why, size_t why_bytes) {
    *prompt = *label = NULL;
    *has_response = 0;
    if (!json_is_object(root))
        return bad(why, why_bytes, "expected a JSON object, got %s%s", dsrec_json_kind(root), "");
    const int rc = f->formatting == DS_SHAREGPT
                       ? sharegpt(f, root, prompt, label, has_response, why, why_bytes)
                       : alpaca(f, root, prompt, label, has_response, why, why_bytes);
    if (rc != 1) {
        free(*prompt);
        free(*label);
        *prompt = *label = NULL;
    }
    return rc;
}
