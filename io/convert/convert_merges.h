/* io/convert/convert_merges.h -- BPE merges recovered from a vocabulary that ships without
 * them (SentencePiece models, GGUF "llama" vocabularies), exactly as transformers'
 * generate_merges (tokenization_utils_base.py) builds them, so the converted tokenizer
 * merges as Hugging Face's does. Pure computation over borrowed pieces. */
#ifndef TLM_IO_CONVERT_MERGES_H
#define TLM_IO_CONVERT_MERGES_H

#include <jansson.h>
#include <stdint.h>

#include "io/base/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* pieces: (n) UTF-8, NUL-terminated, borrowed; id i is pieces[i], and a repeated piece
 * keeps its last id (a Python dict). scores: (n) or NULL. Every split of a piece into two
 * vocabulary pieces (at character boundaries) becomes a merge; with scores they are
 * ordered by the piece's score, then the lengths of the left and right parts (in
 * characters), all descending; without, by the piece's id, then the lengths ascending;
 * ties keep the order pieces first appear in, splits of one piece sorted by (left id,
 * right id). Appends [left, right] pairs to merges (a JSON array, borrowed). */
int conv_generate_merges(const char *const *pieces, int64_t n, const float *scores,
                         json_t *merges, Err *err);

#ifdef __cplusplus
}
#endif
#endif
