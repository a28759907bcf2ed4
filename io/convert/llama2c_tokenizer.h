/* io/convert/llama2c_tokenizer.h -- converts a llama2.c tokenizer.bin to a Hugging Face
 * tokenizer.json + tokenizer_config.json, equal to what transformers 5.23 writes for
 * LlamaTokenizerFast built from a SentencePiece model with the same pieces: same vocab,
 * merges generated and ordered as its generate_merges does, Metaspace pre-tokenizer
 * (prepend_scheme "first", no split), byte fallback, BOS template, <unk>/<s>/</s> special.
 * Does not read or write model weights (tlm convert llama2c does that). */
#ifndef TLM_IO_LLAMA2C_TOKENIZER_H
#define TLM_IO_LLAMA2C_TOKENIZER_H

#include <stdint.h>

#include "io/base/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reads tok_bin_path (borrowed): int32 max_token_len, then per piece {f32 score,
 * i32 length, bytes}; id 0 <unk>, 1 BOS (stored "\n<s>\n"), 2 EOS ("\n</s>\n"), spaces
 * stored as ' ' (written back as U+2581). Fails when the file holds other than
 * vocab_size pieces (the model's vocabulary size), a piece is truncated or not UTF-8.
 * Writes out_dir/tokenizer.json and out_dir/tokenizer_config.json (out_dir is created
 * when missing; existing files are replaced). */
int l2c_tokenizer_convert(const char *tok_bin_path, int64_t vocab_size, const char *out_dir,
                          Err *err);

#ifdef __cplusplus
}
#endif
#endif
