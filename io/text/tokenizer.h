/* io/text/tokenizer.h -- a Hugging Face tokenizer.json (BPE) for encoding and decoding.
 * Two families: byte-level BPE with the file's split regex (Llama 3, Qwen2, GPT-2; PCRE2)
 * and SentencePiece-style BPE (Metaspace or Prepend/Replace normalizer, byte fallback:
 * Llama 2, Mistral, llama2.c); NFC normalization when the file asks (utf8proc); added and
 * special tokens matched before the model runs. Output equals HF `tokenizers`.
 * A Tokenizer is immutable after tok_open; encode/decode are safe from many threads. */
#ifndef TLM_IO_TOKENIZER_H
#define TLM_IO_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "io/base/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct Tokenizer Tokenizer;

/* Opens a tokenizer.json (path to the file); tokenizer_config.json beside it, when
 * present, supplies add_bos_token/add_eos_token, the bos/eos token strings and the chat
 * template (chat_template.jinja beside it takes priority, as in transformers). */
Tokenizer *tok_open(const char *path, Err *err);
void tok_close(Tokenizer *tok); /* accepts NULL */

/* Encodes text (UTF-8, n_bytes long) into *ids (owned-after-return, free()), *n_ids long.
 * add_special != 0 adds what the post-processor adds (BOS for Llama), as HF
 * encode(add_special_tokens=True). */
int tok_encode(const Tokenizer *tok, const char *text, size_t n_bytes, int add_special,
               int32_t **ids, int64_t *n_ids, Err *err);

/* Decodes ids into a NUL-terminated string (owned-after-return, free()); skip_special
 * drops special tokens, as HF decode(skip_special_tokens=...). */
int tok_decode(const Tokenizer *tok, const int32_t *ids, int64_t n_ids, int skip_special,
               char **text, Err *err);

int64_t tok_vocab_size(const Tokenizer *tok);
/* The id of a token string (vocab or added token), or -1. */
int32_t tok_id(const Tokenizer *tok, const char *token);
/* The token string of an id (borrowed), or NULL. */
const char *tok_piece(const Tokenizer *tok, int32_t id);
/* The model's own chat template (Jinja text, borrowed) read beside tokenizer.json, as
 * transformers reads it: chat_template.jinja when present, else tokenizer_config.json's
 * "chat_template"; NULL when the model has none. tok_chat_template_path: that file. */
const char *tok_chat_template(const Tokenizer *tok);
const char *tok_chat_template_path(const Tokenizer *tok);
const char *tok_file(const Tokenizer *tok); /* the tokenizer.json path (borrowed) */
int32_t tok_bos_id(const Tokenizer *tok); /* -1 when none */
int32_t tok_eos_id(const Tokenizer *tok); /* -1 when none */

/* GPT-2's byte-level alphabet (bytes_to_unicode): the code point that stands for byte b
 * in a byte-level vocabulary, and the inverse (-1 for a code point that stands for no
 * byte). Public because converters write byte-level vocabularies too. */
int32_t tok_byte_to_cp(unsigned char b);
int tok_cp_to_byte(int32_t cp);

#ifdef __cplusplus
}
#endif
#endif
