/* io/text/tok_json.h -- a Tokenizer made from tokenizer.json and tokenizer_config.json
 * already parsed in memory (a GGUF file's tokenizer, io/convert/gguf_source.h), for callers
 * that hold jansson values; tok_open (io/text/tokenizer.h) is the file path. Same checks
 * and results as tok_open on the files these values would be written as, except that no
 * chat_template.jinja is looked for: the template comes from config alone. */
#ifndef TLM_IO_TOK_JSON_H
#define TLM_IO_TOK_JSON_H

#include <jansson.h>

#include "io/text/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* root (tokenizer.json's object) and config (tokenizer_config.json's, or NULL) are
 * borrowed; label (borrowed, copied) stands for the source in messages and is what
 * tok_file and tok_chat_template_path return. Returns the tokenizer (owned-after-return;
 * tok_close) or NULL + err. */
Tokenizer *tok_open_json(const char *label, const json_t *root, const json_t *config,
                         Err *err);

#ifdef __cplusplus
}
#endif
#endif
