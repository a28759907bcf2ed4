/* io/text/chat_template.h -- the chat templates llama3, llama2, qwen, chatml, mistral and none,
 * turning one test prompt into the token ids the model adapts on and answers from, and
 * `auto`: the family recognised from the model's own chat template.
 * Reproduces the reference's LLaMA-Factory templates (Fhujinwu/TLM,
 * src/llamafactory/data/template.py: register_template, Template._encode,
 * Llama2Template._encode, _convert_elements_to_ids) for one user turn followed by the
 * assistant turn: `<bos> [system] user-turn assistant-header`, each text element encoded
 * separately without special tokens, and the reference's cutoff_len truncation
 * (processor_utils.py infer_seqlen). Multi-turn chats, tools and images are out of scope.
 * Templates are immutable static data; every function is thread-safe. */
#ifndef TLM_IO_CHAT_TEMPLATE_H
#define TLM_IO_CHAT_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

#include "io/base/err.h"
#include "io/text/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ChatTemplate ChatTemplate; /* static, never freed */

/* The template registered under name ("llama3", "llama2", "qwen", "chatml", "mistral",
 * "none"), or NULL ("auto" is not a template: see tmpl_resolve). "none" is LLaMA-Factory's
 * `empty` template: the prompt alone, no BOS. */
const ChatTemplate *tmpl_find(const char *name);
const char *tmpl_name(const ChatTemplate *t); /* borrowed, static */
/* The names tmpl_find accepts, in a fixed order (borrowed, static); *n_names set. */
const char *const *tmpl_names(int *n_names);

/* One element of a formatted turn, as the reference's formatter slots produce them: a
 * text encoded on its own, or a special token resolved through the tokenizer. */
typedef enum TmplElemKind { TMPL_ELEM_TEXT = 0, TMPL_ELEM_BOS, TMPL_ELEM_EOS } TmplElemKind;

typedef struct TmplElem {
    TmplElemKind kind;
    const char *text; /* TEXT only: points into TmplElems.buf, NUL-terminated */
    /* TEXT only: the sample's own text (the prompt of a user turn, the response of an
     * assistant turn) is text[content_begin, content_end); -1, -1 in elements that hold
     * only the template's fixed text or a system prompt. What a loss over the sample's
     * own tokens needs, with the element token ranges of tmpl_encode_elems_spans. */
    int64_t content_begin, content_end;
} TmplElem;

#define TMPL_MAX_ELEMS 8

typedef struct TmplElems {
    int n_elems;
    TmplElem elems[TMPL_MAX_ELEMS];
    char *buf; /* owned; tmpl_elems_free releases it */
} TmplElems;

void tmpl_elems_free(TmplElems *e); /* accepts a zeroed struct; safe twice */

/* Formats the first message: prefix, system (system == NULL: the template's default
 * system prompt; "" none) and the user turn with prompt, ending in the assistant header.
 * Empty text elements are kept here (the encoder skips them, as the reference does).
 * *out is owned-after-return. */
int tmpl_format_prompt(const ChatTemplate *t, const char *prompt, const char *system,
                       TmplElems *out, Err *err);
/* Formats the assistant turn carrying response ("" for the reference's empty turn). */
int tmpl_format_response(const ChatTemplate *t, const char *response, TmplElems *out,
                         Err *err);

/* Encodes formatted elements: each text with tok_encode(add_special = 0), BOS/EOS as the
 * tokenizer's ids (dropped when it has none). Appends to *ids (owned, realloc'ed). */
int tmpl_encode_elems(const TmplElems *e, const Tokenizer *tok, int32_t **ids,
                      int64_t *n_ids, Err *err);

/* The token range of one element in the ids: [begin, end) (empty for a skipped one). */
typedef struct TmplSpan {
    int64_t begin, end;
} TmplSpan;

/* tmpl_encode_elems, also filling spans[i] (e->n_elems entries, caller-owned; may be
 * NULL) with where element i's ids landed in *ids. Elements are encoded separately, so
 * these ranges are exact. */
int tmpl_encode_elems_spans(const TmplElems *e, const Tokenizer *tok, int32_t **ids,
                            int64_t *n_ids, TmplSpan *spans, Err *err);

/* The default system prompt t uses with tok's model (owned-after-return, free(); "" for
 * none): the registered one, or for chatml the model's own, parsed out of
 * tok_chat_template(tok) (tmpl_model_system). tmpl_encode_prompt/tmpl_encode_input use it;
 * tmpl_format_prompt's system == NULL means the registered one only. */
int tmpl_default_system(const ChatTemplate *t, const Tokenizer *tok, char **out, Err *err);
int tmpl_system_from_model(const ChatTemplate *t); /* 1 for chatml */

/* The default system prompt a ChatML chat template (Jinja text) writes when the chat has
 * no system message: the text of a string literal "<|im_start|>system\n...<|im_end|>"
 * (Jinja escapes undone), the first one that holds text. *out owned-after-return; ""
 * when the template has none. Fails only on allocation. */
int tmpl_model_system(const char *template_text, char **out, Err *err);

/* The value of model.template that picks the family from the model's own template. */
#define TMPL_AUTO "auto"

/* The family of a model's chat template, recognised by its markers: llama3
 * (<|start_header_id|>, <|eot_id|>), chatml (<|im_start|>, <|im_end|>; Qwen's templates
 * too, with their own default system prompt), llama2 ([INST] with <<SYS>>), mistral
 * ([INST] without). tok's template text and its file come from tok_chat_template. A
 * model with no template, or one matching no family or several, is an error naming the
 * file and listing the templates to name instead. */
int tmpl_detect(const Tokenizer *tok, const ChatTemplate **out, Err *err);

/* name "auto": tmpl_detect; any other name: tmpl_find, an unknown one an error listing
 * the choices. */
int tmpl_resolve(const char *name, const Tokenizer *tok, const ChatTemplate **out, Err *err);

/* The full, untruncated input of a sample: `<bos> user-turn assistant-header` with the
 * template's default system prompt (tmpl_default_system). *ids owned-after-return. */
int tmpl_encode_prompt(const ChatTemplate *t, const Tokenizer *tok, const char *prompt,
                       int32_t **ids, int64_t *n_ids, Err *err);

/* tmpl_encode_prompt, with *mask (owned-after-return, *n_ids bytes): 1 where ids[i]
 * carries the sample's own text (the prompt inside the user turn), 0 for the template's
 * fixed text, its special tokens and the system prompt. A token that straddles the
 * boundary between template text and the prompt counts as the prompt's. The ids equal
 * tmpl_encode_prompt's. For method.loss_tokens: content. */
int tmpl_encode_prompt_content(const ChatTemplate *t, const Tokenizer *tok, const char *prompt,
                               int32_t **ids, int64_t *n_ids, uint8_t **mask, Err *err);

/* The reference's infer_seqlen: how many source (prompt) and target (response) tokens
 * survive a cutoff of cutoff_len tokens. */
void tmpl_infer_seqlen(int64_t source_len, int64_t target_len, int64_t cutoff_len,
                       int64_t *new_source_len, int64_t *new_target_len);

/* The input exactly as the reference's TTL data path builds it (SelfSupervised- and
 * UnsupervisedDatasetProcessor._encode_data_example): the prompt ids are cut to the
 * source length infer_seqlen gives for the encoded assistant turn, which carries
 * response when it is non-NULL (the record had a string response field) and is empty
 * otherwise. The first tokens are kept. *n_target_ids (may be NULL) receives the encoded
 * assistant turn's length. *ids owned-after-return (free()). */
int tmpl_encode_input(const ChatTemplate *t, const Tokenizer *tok, const char *prompt,
                      const char *response, int64_t cutoff_len, int32_t **ids,
                      int64_t *n_ids, int64_t *n_target_ids, Err *err);

/* Generation stops at any of these: the tokenizer's EOS plus the template's stop words
 * that the vocabulary has (llama3: <|eot_id|> <|eom_id|>; qwen: <|im_end|>), without
 * duplicates, as Template.get_stop_token_ids. Writes at most max_ids; returns the count. */
int tmpl_stop_ids(const ChatTemplate *t, const Tokenizer *tok, int32_t *ids, int max_ids);
/* The template's stop words (borrowed, static); *n_words set. */
const char *const *tmpl_stop_words(const ChatTemplate *t, int *n_words);

#ifdef __cplusplus
}
#endif
#endif
