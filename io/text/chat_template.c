/* io/text/chat_template.c -- LLaMA-Factory's llama3/llama2/qwen/chatml/mistral/empty templates
 * for one user turn (see chat_template.h). The table mirrors register_template(...) calls
 * in the reference's src/llamafactory/data/template.py; the formatting mirrors
 * StringFormatter.apply (formatter.py) and Template._encode / Llama2Template._encode, and
 * records where the sample's own text lands in each element. Encoding into ids is
 * io/text/chat_template_encode.c; the model's own template, chat_template_model.c. */
#include "io/text/chat_template.h"

#include <stdlib.h>
#include <string.h>

#include "io/base/vec.h"

struct ChatTemplate {
    const char *name;
    int prefix_bos;             /* format_prefix = EmptyFormatter(slots=[{"bos_token"}]) */
    int user_bos;               /* format_user slots start with {"bos_token"} (llama2) */
    const char *user;           /* the format_user text slot, with {{content}} */
    const char *system;         /* the format_system text slot, with {{content}} */
    const char *default_system; /* used when the caller passes system == NULL */
    const char *assistant;      /* the format_assistant text slot */
    int assistant_eos;          /* format_assistant slots end with {"eos_token"} */
    int fuse_system;            /* Llama2Template: system text joins the user content */
    int user_idx;               /* Template._encode passes idx= to format_user */
    int system_from_model;      /* the default system prompt is the model's own (chatml) */
    const char *stop_words[2];
    int n_stop_words;
};

/* One entry per register_template(name=...) in template.py, same slot texts. Where a
 * formatter is not given there, register_template's defaults apply: system and user
 * "{{content}}", assistant ["{{content}}", {"eos_token"}]. */
static const ChatTemplate templates[] = {
    {.name = "llama3",
     .prefix_bos = 1,
     .user = "<|start_header_id|>user<|end_header_id|>\n\n{{content}}<|eot_id|>"
             "<|start_header_id|>assistant<|end_header_id|>\n\n",
     .system = "<|start_header_id|>system<|end_header_id|>\n\n{{content}}<|eot_id|>",
     .default_system = "",
     .assistant = "{{content}}<|eot_id|>",
     .user_idx = 1,
     .stop_words = {"<|eot_id|>", "<|eom_id|>"},
     .n_stop_words = 2},
    {.name = "llama2",
     .user_bos = 1,
     .user = "[INST] {{content}} [/INST]",
     .system = "<<SYS>>\n{{content}}\n<</SYS>>\n\n",
     .default_system = "",
     .assistant = "{{content}}",
     .assistant_eos = 1,
     .fuse_system = 1},
    /* The fork's qwen entry (copied from chatml) has this default system prompt and
     * <|im_end|> as its only stop word; it does not replace the EOS token. */
    {.name = "qwen",
     .user = "<|im_start|>user\n{{content}}<|im_end|>\n<|im_start|>assistant\n",
     .system = "<|im_start|>system\n{{content}}<|im_end|>\n",
     .default_system = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
     .assistant = "{{content}}<|im_end|>\n",
     .user_idx = 1,
     .stop_words = {"<|im_end|>"},
     .n_stop_words = 1},
    /* chatml as the reference registers it (stop words <|im_end|> and <|im_start|>;
     * replace_eos makes <|im_end|> the EOS, which tmpl_stop_ids covers), except the
     * default system prompt: the model's own, parsed out of its chat template
     * (tmpl_default_system), as LLaMA-Factory's parse_template derives it, where the
     * registered chatml has none -- never another family's (qwen's Alibaba prompt). */
    {.name = "chatml",
     .user = "<|im_start|>user\n{{content}}<|im_end|>\n<|im_start|>assistant\n",
     .system = "<|im_start|>system\n{{content}}<|im_end|>\n",
     .default_system = "",
     .system_from_model = 1,
     .assistant = "{{content}}<|im_end|>\n",
     .user_idx = 1,
     .stop_words = {"<|im_end|>", "<|im_start|>"},
     .n_stop_words = 2},
    /* "mistral tokenizer v3": a Llama2Template with a BOS prefix. */
    {.name = "mistral",
     .prefix_bos = 1,
     .user = "[INST] {{content}}[/INST]",
     .system = "{{content}}\n\n",
     .default_system = "",
     .assistant = " {{content}}",
     .assistant_eos = 1,
     .fuse_system = 1},
    /* LLaMA-Factory's "empty": the text alone, no BOS, no EOS after the answer. */
    {.name = "none",
     .user = "{{content}}",
     .system = "{{content}}",
     .default_system = "",
     .assistant = "{{content}}",
     .user_idx = 1},
};
#define N_TEMPLATES ((int)(sizeof templates / sizeof templates[0]))

static const char *const template_names[] = {"llama3", "llama2", "qwen", "chatml", "mistral",
                                             "none"};

const ChatTemplate *tmpl_find(const char *name) {
    for (int i = 0; name != NULL && i < N_TEMPLATES; i++)
        if (strcmp(templates[i].name, name) == 0)
            return &templates[i];
    return NULL;
}

const char *tmpl_name(const ChatTemplate *t) { return t->name; }
int tmpl_system_from_model(const ChatTemplate *t) { return t->system_from_model; }

int tmpl_default_system(const ChatTemplate *t, const Tokenizer *tok, char **out, Err *err) {
    const char *text = tok != NULL ? tok_chat_template(tok) : NULL;
    if (t->system_from_model && text != NULL)
        return tmpl_model_system(text, out, err);
    if ((*out = strdup(t->default_system)) == NULL)
        return err_set(err, "out of memory");
    return 0;
}

const char *const *tmpl_names(int *n_names) {
    *n_names = (int)(sizeof template_names / sizeof template_names[0]);
    return template_names;
}

const char *const *tmpl_stop_words(const ChatTemplate *t, int *n_words) {
    *n_words = t->n_stop_words;
    return t->stop_words;
}

void tmpl_elems_free(TmplElems *e) {
    if (e == NULL)
        return;
    free(e->buf);
    memset(e, 0, sizeof *e);
}

/* Python's str.replace(key, value, 1) on the NUL-terminated s (owned), returning a new
 * owned string (s is freed) or NULL on allocation failure. No match: s unchanged. *pos
 * receives the byte offset of the replacement, -1 for no match. */
static char *replace_first(char *s, const char *key, const char *value, int64_t *pos) {
    char *at = strstr(s, key);
    *pos = at != NULL ? at - s : -1;
    if (at == NULL)
        return s;
    size_t head = (size_t)(at - s), n_key = strlen(key), n_val = strlen(value);
    size_t tail = strlen(at + n_key);
    char *r = malloc(head + n_val + tail + 1);
    if (r != NULL) {
        memcpy(r, s, head);
        memcpy(r + head, value, n_val);
        memcpy(r + head + n_val, at + n_key, tail + 1);
    }
    free(s);
    return r;
}

/* StringFormatter.apply for one text slot: "{{content}}" then (when the reference passes
 * idx=, Template._encode for user turns) "{{idx}}" are each replaced once, in that order,
 * over the whole string -- so a literal "{{idx}}" inside the content becomes "0" there
 * too. Returns an owned string or NULL; range[0..1] receive where the content ended up
 * ([-1, -1] when the slot has no {{content}}). */
static char *apply_slot(const char *slot, const char *content, int with_idx, int64_t range[2]) {
    int64_t at = -1, idx_at = -1;
    char *s = strdup(slot);
    if (s != NULL)
        s = replace_first(s, "{{content}}", content, &at);
    range[0] = at;
    range[1] = at >= 0 ? at + (int64_t)strlen(content) : -1;
    if (s != NULL && with_idx)
        s = replace_first(s, "{{idx}}", "0", &idx_at);
    const int64_t shift = 1 - (int64_t)strlen("{{idx}}"); /* "{{idx}}" -> "0" */
    if (idx_at >= 0 && at >= 0 && idx_at < range[1]) {
        range[1] += shift;
        if (idx_at < range[0])
            range[0] += shift;
    }
    return s;
}

/* Appends an element; text (owned, may be NULL for BOS/EOS) is moved into e->buf later. */
typedef struct Pending {
    int n;
    TmplElemKind kind[TMPL_MAX_ELEMS];
    char *text[TMPL_MAX_ELEMS];
    int64_t range[TMPL_MAX_ELEMS][2];
} Pending;

/* range: where the sample's own text sits in text, or NULL for none. */
static void pending_add(Pending *p, TmplElemKind kind, char *text, const int64_t *range) {
    p->kind[p->n] = kind;
    p->text[p->n] = text;
    p->range[p->n][0] = range != NULL ? range[0] : -1;
    p->range[p->n][1] = range != NULL ? range[1] : -1;
    p->n++;
}

/* Packs the pending texts into one owned buffer so the caller frees once. */
static int pending_pack(Pending *p, TmplElems *out, Err *err) {
    size_t total = 0;
    int ok = 1;
    for (int i = 0; i < p->n; i++) {
        if (p->kind[i] == TMPL_ELEM_TEXT && p->text[i] == NULL)
            ok = 0;
        total += p->text[i] != NULL ? strlen(p->text[i]) + 1 : 0;
    }
    memset(out, 0, sizeof *out);
    out->buf = ok ? malloc(total + 1) : NULL;
    if (out->buf == NULL) {
        for (int i = 0; i < p->n; i++)
            free(p->text[i]);
        return err_set(err, "out of memory formatting a chat turn");
    }
    size_t at = 0;
    for (int i = 0; i < p->n; i++) {
        out->elems[i].kind = p->kind[i];
        out->elems[i].text = NULL;
        out->elems[i].content_begin = p->range[i][0];
        out->elems[i].content_end = p->range[i][1];
        if (p->text[i] != NULL) {
            size_t n = strlen(p->text[i]) + 1;
            memcpy(out->buf + at, p->text[i], n);
            out->elems[i].text = out->buf + at;
            at += n;
            free(p->text[i]);
        }
    }
    out->n_elems = p->n;
    return 0;
}

int tmpl_format_prompt(const ChatTemplate *t, const char *prompt, const char *system,
                       TmplElems *out, Err *err) {
    Pending p = {0};
    /* `system = system or self.default_system` in _encode: "" means the default too. */
    const char *sys = (system != NULL && system[0] != '\0') ? system : t->default_system;
    int64_t range[2];
    if (t->prefix_bos)
        pending_add(&p, TMPL_ELEM_BOS, NULL, NULL);
    if (!t->fuse_system) {
        /* Template._encode: the system turn is its own element, present when non-empty. */
        if (sys[0] != '\0')
            pending_add(&p, TMPL_ELEM_TEXT, apply_slot(t->system, sys, 0, range), NULL);
        if (t->user_bos)
            pending_add(&p, TMPL_ELEM_BOS, NULL, NULL);
        char *user = apply_slot(t->user, prompt, t->user_idx, range);
        pending_add(&p, TMPL_ELEM_TEXT, user, range);
        return pending_pack(&p, out, err);
    }
    /* Llama2Template._encode: the formatted system text is prepended to the content. */
    char *sys_text = sys[0] != '\0' ? apply_slot(t->system, sys, 0, range) : strdup("");
    char *fused = NULL;
    if (sys_text != NULL && (fused = malloc(strlen(sys_text) + strlen(prompt) + 1)) != NULL) {
        strcpy(fused, sys_text);
        strcat(fused, prompt);
    }
    free(sys_text);
    if (fused == NULL)
        return err_set(err, "out of memory formatting a chat turn");
    const int64_t sys_bytes = (int64_t)(strlen(fused) - strlen(prompt));
    if (t->user_bos)
        pending_add(&p, TMPL_ELEM_BOS, NULL, NULL);
    char *user = apply_slot(t->user, fused, 0, range);
    if (range[0] >= 0)
        range[0] += sys_bytes; /* the sample's text follows the fused system text */
    pending_add(&p, TMPL_ELEM_TEXT, user, range);
    free(fused);
    return pending_pack(&p, out, err);
}

int tmpl_format_response(const ChatTemplate *t, const char *response, TmplElems *out,
                         Err *err) {
    Pending p = {0};
    int64_t range[2];
    char *text = apply_slot(t->assistant, response, 0, range);
    pending_add(&p, TMPL_ELEM_TEXT, text, range);
    if (t->assistant_eos)
        pending_add(&p, TMPL_ELEM_EOS, NULL, NULL);
    return pending_pack(&p, out, err);
}
