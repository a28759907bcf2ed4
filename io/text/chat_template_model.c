/* io/text/chat_template_model.c -- the model's own chat template (Jinja text, kept by the
 * tokenizer: tok_chat_template): which registered family it is, and the default system
 * prompt a ChatML template writes. tlm does not run Jinja; it reads the few things it
 * needs out of the text and refuses what it cannot recognise rather than guess. */
#include "io/text/chat_template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char k_sys_head[] = "<|im_start|>system\n";
static const char k_end[] = "<|im_end|>";

/* Undoes a Jinja (Python) string escape sequence at s[0] == '\\'; returns the bytes read. */
static size_t unescape(const char *s, char *out, size_t *n_out) {
    static const char from[] = "ntr\\'\"", to[] = "\n\t\r\\'\"";
    const char *k = s[1] != '\0' ? strchr(from, s[1]) : NULL;
    if (k == NULL) { /* Python keeps an unknown escape as written */
        out[(*n_out)++] = s[0];
        return 1;
    }
    out[(*n_out)++] = to[k - from];
    return 2;
}

/* The text of the string literal opened by quote q at lit (lit[0] == q), escapes undone,
 * into out (capacity > its length); NULL when it never closes. */
static char *literal(const char *lit, char *out) {
    const char q = lit[0];
    size_t n = 0;
    for (const char *p = lit + 1; *p != '\0';) {
        if (*p == q) {
            out[n] = '\0';
            return out;
        }
        if (*p == '\\')
            p += unescape(p, out, &n);
        else
            out[n++] = *p++;
    }
    return NULL;
}

/* The system text of one "<|im_start|>system\n...<|im_end|>" occurrence at at (in a
 * string literal when the character before it is a quote, else template text up to the
 * first Jinja tag), copied into buf; NULL when it holds no fixed text. */
static const char *system_at(const char *text, const char *at, char *buf) {
    const char *body;
    if (at > text && (at[-1] == '\'' || at[-1] == '"')) {
        if (literal(at - 1, buf) == NULL || strncmp(buf, k_sys_head, strlen(k_sys_head)) != 0)
            return NULL;
        body = buf + strlen(k_sys_head);
    } else {
        const char *nl = at + strlen("<|im_start|>system");
        if (*nl != '\n')
            return NULL;
        size_t n = 0;
        for (const char *p = nl + 1; *p != '\0' && strncmp(p, "{{", 2) != 0 &&
                                     strncmp(p, "{%", 2) != 0; p++)
            buf[n++] = *p;
        buf[n] = '\0';
        body = buf;
    }
    char *end = strstr(body, k_end);
    if (end == NULL || end == body)
        return NULL;
    *end = '\0';
    return body;
}

int tmpl_model_system(const char *text, char **out, Err *err) {
    /* "<|im_start|>system\n" in the Jinja source is written with a real newline or "\n". */
    char *buf = malloc(strlen(text) + 1);
    if (buf == NULL)
        return err_set(err, "out of memory reading the chat template");
    const char *found = NULL;
    for (const char *at = strstr(text, "<|im_start|>system"); at != NULL && found == NULL;
         at = strstr(at + 1, "<|im_start|>system")) {
        const char *after = at + strlen("<|im_start|>system");
        if (after[0] != '\n' && !(after[0] == '\\' && after[1] == 'n'))
            continue;
        found = system_at(text, at, buf);
    }
    *out = strdup(found != NULL ? found : "");
    free(buf);
    return *out != NULL ? 0 : err_set(err, "out of memory");
}

static void choices(char *buf, size_t n) {
    int n_names;
    const char *const *names = tmpl_names(&n_names);
    buf[0] = '\0';
    for (int i = 0; i < n_names; i++)
        snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", i ? ", " : "", names[i]);
}

int tmpl_detect(const Tokenizer *tok, const ChatTemplate **out, Err *err) {
    char list[128];
    choices(list, sizeof list);
    const char *text = tok_chat_template(tok), *path = tok_chat_template_path(tok);
    if (text == NULL)
        return err_set(err, "%s: the model has no chat template (no \"chat_template\" in "
                       "tokenizer_config.json, no chat_template.jinja beside it), so "
                       "model.template auto cannot pick one; set model.template to one of: %s",
                       tok_file(tok), list);
    static const struct { const char *name, *a, *b, *absent; } FAMILIES[] = {
        {"llama3", "<|start_header_id|>", "<|eot_id|>", NULL},
        {"chatml", "<|im_start|>", "<|im_end|>", NULL},
        {"llama2", "[INST]", "<<SYS>>", NULL},
        {"mistral", "[INST]", "[/INST]", "<<SYS>>"},
    };
    const char *hit = NULL;
    for (size_t i = 0; i < sizeof FAMILIES / sizeof FAMILIES[0]; i++) {
        if (strstr(text, FAMILIES[i].a) == NULL || strstr(text, FAMILIES[i].b) == NULL ||
            (FAMILIES[i].absent != NULL && strstr(text, FAMILIES[i].absent) != NULL))
            continue;
        if (hit != NULL)
            return err_set(err, "%s: the chat template has the markers of both %s and %s, so "
                           "model.template auto cannot pick one; set model.template to one "
                           "of: %s", path, hit, FAMILIES[i].name, list);
        hit = FAMILIES[i].name;
    }
    if (hit == NULL)
        return err_set(err, "%s: the chat template is none of the families tlm recognises "
                       "(llama3, chatml, llama2, mistral markers), so model.template auto "
                       "cannot pick one; set model.template to one of: %s", path, list);
    *out = tmpl_find(hit);
    return 0;
}

int tmpl_resolve(const char *name, const Tokenizer *tok, const ChatTemplate **out, Err *err) {
    if (strcmp(name, TMPL_AUTO) == 0)
        return tmpl_detect(tok, out, err);
    if ((*out = tmpl_find(name)) != NULL)
        return 0;
    char list[128];
    choices(list, sizeof list);
    return err_set(err, "model.template: unknown template \"%s\" (auto, %s)", name, list);
}
