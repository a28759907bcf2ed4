/* io/convert/gguf_pretok.c -- tokenizer.ggml.pre (llama.cpp's name for a byte-level
 * vocabulary's pre-tokenizer, llama-vocab.cpp LLAMA_VOCAB_PRE_TYPE_*) mapped to the Hugging
 * Face pre_tokenizer that performs the same splits: the regexes llama.cpp applies in
 * sequence become a Sequence of Split(Isolated) steps before a regex-free ByteLevel, or
 * the upstream tokenizer.json's own form where one exists (GPT-2's ByteLevel with its
 * built-in regex; SmolLM2/StarCoder's Digits(individual) + ByteLevel). A name not in
 * the table is refused, never mapped to a near neighbour: a wrong split changes every
 * token id without any other sign. */
#include "io/convert/gguf_tokenizer.h"

#include <string.h>

/* llama-vocab.cpp, LLAMA_VOCAB_PRE_TYPE_LLAMA3 (HF Llama 3 tokenizer.json's Split). */
static const char k_llama3[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}|"
    " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/* LLAMA_VOCAB_PRE_TYPE_QWEN2 (HF Qwen2 tokenizer.json's Split: single digits). */
static const char k_qwen2[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}|"
    " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

typedef enum PreKind { PRE_GPT2, PRE_SPLIT, PRE_DIGITS } PreKind;

typedef struct PreRow {
    const char *name;
    PreKind kind;
    const char *regex; /* PRE_SPLIT */
} PreRow;

static const PreRow PRES[] = {
    {"gpt-2", PRE_GPT2, NULL},
    {"llama3", PRE_SPLIT, k_llama3},
    {"llama-v3", PRE_SPLIT, k_llama3},
    {"llama-bpe", PRE_SPLIT, k_llama3},
    {"qwen2", PRE_SPLIT, k_qwen2},
    {"smollm", PRE_DIGITS, NULL},
    {"starcoder", PRE_DIGITS, NULL},
};
#define N_PRES ((int)(sizeof PRES / sizeof PRES[0]))

const char *gguf_pretok_names(void) {
    return "gpt-2, llama3, llama-v3, llama-bpe, qwen2, smollm, starcoder (byte-level); "
           "default (SentencePiece)";
}

static json_t *bytelevel(int use_regex) {
    return json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 0,
                     "trim_offsets", 1, "use_regex", use_regex);
}

json_t *gguf_pretok_json(const char *path, const char *pre, Err *err) {
    const PreRow *row = NULL;
    for (int i = 0; i < N_PRES && row == NULL; i++)
        if (strcmp(PRES[i].name, pre) == 0)
            row = &PRES[i];
    if (row == NULL) {
        err_set(err, "%s: key \"tokenizer.ggml.pre\": \"%s\" is not a pre-tokenizer tlm knows "
                "(known: %s); its split decides every token id, so it is not guessed", path,
                pre, gguf_pretok_names());
        return NULL;
    }
    json_t *j = NULL;
    switch (row->kind) {
    case PRE_GPT2:
        j = bytelevel(1);
        break;
    case PRE_SPLIT:
        j = json_pack("{s:s, s:[{s:s, s:{s:s}, s:s, s:b}, o]}", "type", "Sequence",
                      "pretokenizers", "type", "Split", "pattern", "Regex", row->regex,
                      "behavior", "Isolated", "invert", 0, bytelevel(0));
        break;
    case PRE_DIGITS:
        j = json_pack("{s:s, s:[{s:s, s:b}, o]}", "type", "Sequence", "pretokenizers", "type",
                      "Digits", "individual_digits", 1, bytelevel(1));
        break;
    }
    if (j == NULL)
        err_set(err, "%s: out of memory building the pre-tokenizer", path);
    return j;
}
