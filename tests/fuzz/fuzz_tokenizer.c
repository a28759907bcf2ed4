/* tests/fuzz/fuzz_tokenizer.c -- tok_open on an arbitrary tokenizer.json, then encode and
 * decode. Input: the tokenizer.json bytes, a NUL, then the text to encode (without a NUL
 * a fixed text is used). Every id an accepted tokenizer produces must decode, and must
 * name a piece. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "io/text/tokenizer.h"

static void encode_decode(const Tokenizer *tok, const char *text, size_t n, int special) {
    Err err = {0};
    int32_t *ids = NULL;
    int64_t n_ids = 0;
    if (tok_encode(tok, text, n, special, &ids, &n_ids, &err) != 0) {
        FUZZ_CHECK(err.msg[0] != '\0');
        return;
    }
    for (int64_t i = 0; i < n_ids; i++)
        FUZZ_CHECK(tok_piece(tok, ids[i]) != NULL);
    for (int skip = 0; skip < 2; skip++) {
        char *out = NULL;
        if (tok_decode(tok, ids, n_ids, skip, &out, &err) == 0)
            free(out);
    }
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    const size_t json_bytes = nul != NULL ? (size_t)(nul - data) : size;
    static const char fixed[] = "Hello world, 123 <s> \xc3\xa9t\xc3\xa9\n\n  x";
    const char *text = nul != NULL ? (const char *)nul + 1 : fixed;
    const size_t text_bytes = nul != NULL ? size - json_bytes - 1 : sizeof fixed - 1;
    Err err = {0};
    Tokenizer *tok = tok_open(fuzz_write("tokenizer.json", data, json_bytes), &err);
    if (tok == NULL) {
        FUZZ_CHECK(err.msg[0] != '\0');
        return 0;
    }
    encode_decode(tok, text, text_bytes, 0);
    encode_decode(tok, text, text_bytes, 1);
    /* decoding ids it never produced: every id of the vocabulary, and one past it */
    const int64_t v = tok_vocab_size(tok);
    int32_t probe[3] = {0, (int32_t)(v > 0 ? v - 1 : 0), (int32_t)(v < INT32_MAX ? v : 0)};
    char *out = NULL;
    if (tok_decode(tok, probe, 3, 0, &out, &err) == 0)
        free(out);
    tok_close(tok);
    return 0;
}
