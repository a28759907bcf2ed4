/* io/eval/eval_porter.h -- nltk's PorterStemmer in its default NLTK_EXTENSIONS mode
 * (nltk/stem/porter.py), the stemmer rouge_score applies with use_stemmer=True.
 * ASCII only: rouge_score stems tokens that are already [a-z0-9]+. No MARTIN or
 * ORIGINAL_ALGORITHM modes. Pure function; thread-safe. */
#ifndef TLM_IO_EVAL_PORTER_H
#define TLM_IO_EVAL_PORTER_H

#include <stddef.h>

/* Writes PorterStemmer().stem(word[0..n_bytes)) to out, NUL-terminated, and returns its
 * length. out (caller-owned) must hold n_bytes + 2 bytes: stems are never longer than
 * the word (the +2 covers the scratch of the "ies" / "e" rules). Upper-case ASCII is
 * lowered first, as stem(to_lowercase=True) does. */
size_t eval_porter_stem(const char *word, size_t n_bytes, char *out);

#endif
