/* io/text/chat_template.c -- LLaMA-Factory's llama3/llama2/qwen/mistral/empty templates for one
 * user turn (see chat_template.h). The table mirrors register_template(...) calls in the
 * reference's src/llamafactory/data/template.py; the formatting mirrors
 * StringFormatter.apply (formatter.py) and Template._encode / Llama2Template._encode. */
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

static const char *const template_names[] = {"llama3", "llama2", "qwen", "mistral", "none"};

const ChatTemplate *tmpl_find(const char *name) {
    for (int i = 0; name != NULL && i < N_TEMPLATES; i++)
        if (strcmp(templates[i].name, name) == 0)
            return &templates[i];
    return NULL;
}

const char *tmpl_name(const ChatTemplate *t) { return t->name; }

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
 * owned string (s is freed) or NULL on allocation failure. No match: s unchanged. */
static char *replace_first(char *s, const char *key, const char *value) {
    char *at = strstr(s, key);
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
 * too. Returns an owned string or NULL. */
static char *apply_slot(const char *slot, const char *content, int with_idx) {
    char *s = strdup(slot);
    if (s != NULL)
        s = replace_first(s, "{{content}}", content);
    if (s != NULL && with_idx)
        s = replace_first(s, "{{idx}}", "0");
    return s;
}

/* Appends an element; text (owned, may be NULL for BOS/EOS) is moved into e->buf later. */
typedef struct Pending {
    int n;
    TmplElemKind kind[TMPL_MAX_ELEMS];
    char *text[TMPL_MAX_ELEMS];
} Pending;

static void pending_add(Pending *p, TmplElemKind kind, char *text) {
    p->kind[p->n] = kind;
    p->text[p->n] = text;
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
    if (t->prefix_bos)
        pending_add(&p, TMPL_ELEM_BOS, NULL);
    if (!t->fuse_system) {
        /* Template._encode: the system turn is its own element, present when non-empty. */
        if (sys[0] != '\0')
            pending_add(&p, TMPL_ELEM_TEXT, apply_slot(t->system, sys, 0));
        if (t->user_bos)
            pending_add(&p, TMPL_ELEM_BOS, NULL);
        pending_add(&p, TMPL_ELEM_TEXT, apply_slot(t->user, prompt, t->user_idx));
        return pending_pack(&p, out, err);
    }
    /* Llama2Template._encode: the formatted system text is prepended to the content. */
    char *sys_text = sys[0] != '\0' ? apply_slot(t->system, sys, 0) : strdup("");
    char *fused = NULL;
    if (sys_text != NULL && (fused = malloc(strlen(sys_text) + strlen(prompt) + 1)) != NULL) {
        strcpy(fused, sys_text);
        strcat(fused, prompt);
    }
    free(sys_text);
    if (fused == NULL)
        return err_set(err, "out of memory formatting a chat turn");
    if (t->user_bos)
        pending_add(&p, TMPL_ELEM_BOS, NULL);
    pending_add(&p, TMPL_ELEM_TEXT, apply_slot(t->user, fused, 0));
    free(fused);
    return pending_pack(&p, out, err);
}

int tmpl_format_response(const ChatTemplate *t, const char *response, TmplElems *out,
                         Err *err) {
    Pending p = {0};
    pending_add(&p, TMPL_ELEM_TEXT, apply_slot(t->assistant, response, 0));
    if (t->assistant_eos)
        pending_add(&p, TMPL_ELEM_EOS, NULL);
    return pending_pack(&p, out, err);
}

int tmpl_encode_elems(const TmplElems *e, const Tokenizer *tok, int32_t **ids,
                      int64_t *n_ids, Err *err) {
    /* The caller's array carries no capacity: *n_ids is all that is known to be there. */
    int64_t cap = *n_ids;
    for (int i = 0; i < e->n_elems; i++) {
        const TmplElem *el = &e->elems[i];
        int32_t one = el->kind == TMPL_ELEM_BOS   ? tok_bos_id(tok)
                      : el->kind == TMPL_ELEM_EOS ? tok_eos_id(tok)
                                                  : -1;
        if (el->kind != TMPL_ELEM_TEXT) {
            /* _convert_elements_to_ids adds bos/eos only when the tokenizer has one. */
            if (one >= 0 && VEC_APPEND(*ids, *n_ids, cap, &one, 1, err) != 0)
                return err_prefix(err, "encoding a chat turn: ");
            continue;
        }
        size_t n_bytes = strlen(el->text);
        if (n_bytes == 0) /* `if len(elem) != 0` in _convert_elements_to_ids */
            continue;
        int32_t *part = NULL;
        int64_t n_part = 0;
        if (tok_encode(tok, el->text, n_bytes, 0, &part, &n_part, err) != 0)
            return err_prefix(err, "encoding chat template element %d: ", i);
        int rc = VEC_APPEND(*ids, *n_ids, cap, part, n_part, err);
        free(part);
        if (rc != 0)
            return err_prefix(err, "encoding a chat turn: ");
    }
    return 0;
}

/* Formats and encodes one turn into fresh owned ids. */
static int encode_turn(const ChatTemplate *t, const Tokenizer *tok, const char *text,
                       int is_prompt, int32_t **ids, int64_t *n_ids, Err *err) {
    TmplElems e = {0};
    *ids = NULL;
    *n_ids = 0;
    int rc = is_prompt ? tmpl_format_prompt(t, text, NULL, &e, err)
                       : tmpl_format_response(t, text, &e, err);
    if (rc == 0)
        rc = tmpl_encode_elems(&e, tok, ids, n_ids, err);
    tmpl_elems_free(&e);
    if (rc != 0) {
        free(*ids);
        *ids = NULL;
        *n_ids = 0;
    }
    return rc;
}

int tmpl_encode_prompt(const ChatTemplate *t, const Tokenizer *tok, const char *prompt,
                       int32_t **ids, int64_t *n_ids, Err *err) {
    return encode_turn(t, tok, prompt, 1, ids, n_ids, err);
}

void tmpl_infer_seqlen(int64_t source_len, int64_t target_len, int64_t cutoff_len,
                       int64_t *new_source_len, int64_t *new_target_len) {
    int64_t max_target;
    if (target_len * 2 < cutoff_len) /* short answer: truncate the prompt */
        max_target = cutoff_len;
    else if (source_len * 2 < cutoff_len) /* short prompt: truncate the answer */
        max_target = cutoff_len - source_len;
    else /* both long: share the cutoff in proportion, int() truncating as Python does */
        max_target = (int64_t)((double)cutoff_len *
                               ((double)target_len / (double)(source_len + target_len)));
    int64_t tgt = target_len < max_target ? target_len : max_target;
    int64_t max_source = cutoff_len - tgt > 0 ? cutoff_len - tgt : 0;
    *new_target_len = tgt;
    *new_source_len = source_len < max_source ? source_len : max_source;
}

int tmpl_encode_input(const ChatTemplate *t, const Tokenizer *tok, const char *prompt,
                      const char *response, int64_t cutoff_len, int32_t **ids,
                      int64_t *n_ids, int64_t *n_target_ids, Err *err) {
    if (cutoff_len <= 0)
        return err_set(err, "cutoff_len must be positive, got %lld", (long long)cutoff_len);
    int32_t *target = NULL;
    int64_t n_target = 0;
    /* No response turn in the record: the reference appends an empty assistant turn. */
    if (encode_turn(t, tok, response != NULL ? response : "", 0, &target, &n_target, err))
        return -1;
    free(target);
    if (encode_turn(t, tok, prompt, 1, ids, n_ids, err) != 0)
        return -1;
    int64_t n_src = 0, n_tgt = 0;
    tmpl_infer_seqlen(*n_ids, n_target, cutoff_len, &n_src, &n_tgt);
    *n_ids = n_src; /* input_ids[:source_len]: the head survives */
    if (n_target_ids != NULL)
        *n_target_ids = n_target;
    return 0;
}

int tmpl_stop_ids(const ChatTemplate *t, const Tokenizer *tok, int32_t *ids, int max_ids) {
    int32_t cand[1 + 2];
    int n_cand = 0, n = 0;
    cand[n_cand++] = tok_eos_id(tok);
    for (int i = 0; i < t->n_stop_words; i++)
        cand[n_cand++] = tok_id(tok, t->stop_words[i]);
    for (int i = 0; i < n_cand; i++) {
        int dup = cand[i] < 0;
        for (int j = 0; j < n && !dup; j++)
            dup = ids[j] == cand[i];
        if (!dup && n < max_ids)
            ids[n++] = cand[i];
    }
    return n;
}
