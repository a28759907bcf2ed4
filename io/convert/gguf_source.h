/* io/convert/gguf_source.h -- model.path as either a Hugging Face model directory or a
 * llama.cpp .gguf file read in place (issue 18): the model config and the tokenizer come
 * from whichever it names. For a GGUF file both are made in memory from its metadata by
 * the same builders `tlm convert gguf` writes files with (io/convert/gguf_convert.h), so
 * the file read in place and its conversion give the same config and tokenizer; nothing
 * is written to disk. The weights are worker/model/model_load_gguf.c's. */
#ifndef TLM_IO_GGUF_SOURCE_H
#define TLM_IO_GGUF_SOURCE_H

#include "io/base/err.h"
#include "io/convert/gguf.h"
#include "io/model/model_config.h"
#include "io/text/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when path (borrowed) names a GGUF file: it ends in ".gguf" (any case). A directory is
 * never one. */
int model_src_is_gguf(const char *path);

/* The config of path: cfg_load for a directory, or the GGUF metadata (as config.json and
 * generation_config.json `tlm convert gguf` would write) for a .gguf file. Errors name
 * the file and the key. */
int model_src_config(const char *path, ModelConfig *cfg, Err *err);

/* The tokenizer of path: dir/tokenizer.json (tok_open), or one built in memory from a
 * .gguf file's tokenizer.ggml.* metadata with its tokenizer.chat_template. Returns it
 * (owned-after-return; tok_close) or NULL + err. */
Tokenizer *model_src_tokenizer(const char *path, Err *err);

/* The config of an open GGUF file (borrowed). */
int gguf_model_config(const Gguf *g, ModelConfig *cfg, Err *err);

#ifdef __cplusplus
}
#endif
#endif
