/* io/convert/gguf_tokenizer.h -- the pieces of the GGUF tokenizer conversion shared between
 * io/convert/gguf_tokenizer.c (vocabulary, added tokens, tokenizer.json and
 * tokenizer_config.json) and io/convert/gguf_pretok.c (the tokenizer.ggml.pre table).
 * gguf_write_tokenizer itself is declared in io/convert/gguf_convert.h. Pure builders. */
#ifndef TLM_IO_GGUF_TOKENIZER_H
#define TLM_IO_GGUF_TOKENIZER_H

#include <jansson.h>

#include "io/base/err.h"

/* The Hugging Face pre_tokenizer (owned-after-return) for a byte-level vocabulary whose
 * tokenizer.ggml.pre is pre; NULL + err naming path, the key and the known names when
 * pre is not in the table. */
json_t *gguf_pretok_json(const char *path, const char *pre, Err *err);

/* The names gguf_pretok_json knows, for messages (static). */
const char *gguf_pretok_names(void);

#endif
