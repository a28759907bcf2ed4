/* io/text/tok_internal.h -- the pieces of io/text/tokenizer.c shared between its files (not a
 * public API: only io/text/tok_*.c and io/text/tokenizer.c include it).
 * Holds the Tokenizer struct, the pair->merge hash map, the normalizer / pre-tokenizer /
 * decoder step lists parsed from tokenizer.json, the span and id lists and the character
 * classes (strings, string maps and UTF-8 come from io/base). Everything here is
 * immutable after tok_open except the per-call StrBuf/TokSpans scratch that each
 * encode/decode call owns. */
#ifndef TLM_IO_TOK_INTERNAL_H
#define TLM_IO_TOK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <jansson.h>
#include <pcre2.h>

#include "io/base/err.h"
#include "io/base/strbuf.h"
#include "io/base/strmap.h"
#include "io/base/utf8.h"
#include "io/text/tokenizer.h"

/* ---- the BPE merge table (open addressing, power-of-two capacity, never shrinks) ---- */

/* (left id, right id) -> (rank, merged id): the BPE merge table. One 16-byte slot per
 * entry so that a probe touches one cache line (the lookup is the BPE hot spot). */
typedef struct TokPairSlot {
    uint64_t key;   /* left << 32 | right; UINT64_MAX = empty */
    int32_t rank;
    int32_t merged;
} TokPairSlot;

typedef struct TokPairMap {
    int64_t cap, count;
    TokPairSlot *slots; /* (cap) */
} TokPairMap;

int tok_pair_init(TokPairMap *m, int64_t expected, Err *err);
void tok_pair_free(TokPairMap *m);
/* Inserts or overwrites (HF builds its merge map the same way: a later duplicate wins). */
int tok_pair_put(TokPairMap *m, int32_t a, int32_t b, int32_t rank, int32_t merged, Err *err);
/* 1 and fills rank/merged when (a, b) is a merge, else 0. */
int tok_pair_get(const TokPairMap *m, int32_t a, int32_t b, int32_t *rank, int32_t *merged);

/* ---- span lists (per call scratch) ---- */

/* A piece of text in some StrBuf: bytes [off, off+len); at_origin = 1 when it starts at
 * offset 0 of the original input (Metaspace prepend_scheme "first" needs it); id >= 0
 * when the piece is already an added token. */
typedef struct TokSpan {
    size_t off, len;
    int at_origin;
    int32_t id;
} TokSpan;

typedef struct TokSpans {
    TokSpan *v;
    int64_t n, cap;
} TokSpans;

int tok_spans_push(TokSpans *s, TokSpan span, Err *err);
void tok_spans_free(TokSpans *s);

/* ---- character classes (UTF-8 itself: io/base/utf8.h) ---- */

/* Unicode White_Space (Rust's char::is_whitespace and regex \s). */
int tok_is_white(int32_t cp);
/* Rust regex \w: letters, marks, decimal digits, connector punctuation, joiners. */
int tok_is_word(int32_t cp);

/* ---- pipeline steps parsed from tokenizer.json ---- */

typedef enum TokNormKind {
    TOK_NORM_NFC, TOK_NORM_NFD, TOK_NORM_NFKC, TOK_NORM_NFKD,
    TOK_NORM_PREPEND, TOK_NORM_REPLACE, TOK_NORM_LOWERCASE, TOK_NORM_STRIP
} TokNormKind;

typedef struct TokNorm {
    TokNormKind kind;
    char *str;          /* PREPEND: the prefix; REPLACE: the literal pattern (NULL: regex) */
    size_t str_bytes;
    pcre2_code *re;     /* REPLACE with a Regex pattern */
    char *content;      /* REPLACE: the replacement */
    size_t content_bytes;
    int left, right;    /* STRIP */
} TokNorm;

typedef enum TokPreKind { TOK_PRE_BYTELEVEL, TOK_PRE_SPLIT, TOK_PRE_METASPACE } TokPreKind;

typedef enum TokSplitBehavior {
    TOK_SPLIT_REMOVED, TOK_SPLIT_ISOLATED, TOK_SPLIT_MERGED_PREV, TOK_SPLIT_MERGED_NEXT,
    TOK_SPLIT_CONTIGUOUS
} TokSplitBehavior;

typedef enum TokPrepend { TOK_PREPEND_ALWAYS, TOK_PREPEND_FIRST, TOK_PREPEND_NEVER } TokPrepend;

typedef struct TokPre {
    TokPreKind kind;
    pcre2_code *re;            /* SPLIT: the pattern; BYTELEVEL with use_regex: GPT-2's */
    TokSplitBehavior behavior; /* SPLIT */
    int invert;                /* SPLIT */
    int add_prefix_space;      /* BYTELEVEL */
    char replacement[8];       /* METASPACE (UTF-8, NUL-terminated) */
    TokPrepend prepend;        /* METASPACE */
    int split;                 /* METASPACE */
} TokPre;

typedef enum TokDecKind {
    TOK_DEC_BYTELEVEL, TOK_DEC_REPLACE, TOK_DEC_BYTEFALLBACK, TOK_DEC_FUSE, TOK_DEC_STRIP,
    TOK_DEC_METASPACE
} TokDecKind;

typedef struct TokDec {
    TokDecKind kind;
    char *pattern, *content; /* REPLACE (literal strings) */
    int32_t strip_cp;        /* STRIP: the character */
    int start, stop;         /* STRIP */
    char replacement[8];     /* METASPACE */
    TokPrepend prepend;      /* METASPACE */
} TokDec;

/* An added token (special or not) matched in the text before the model runs. */
typedef struct TokAdded {
    char *content;
    size_t content_bytes;
    char *match;        /* what is searched for: content, normalized when normalized */
    size_t match_bytes;
    int32_t id;
    int special, single_word, lstrip, rstrip, normalized;
} TokAdded;

/* Leftmost-longest matcher over a set of added tokens (index into Tokenizer.added). */
typedef struct TokMatcher {
    int32_t *order;   /* (n) token indices sorted by first byte, then longest first */
    int32_t first[257]; /* order[first[c] .. first[c+1]) start with byte c */
    int32_t n;
} TokMatcher;

struct Tokenizer {
    char *path;
    /* model (BPE) */
    StrMap vocab;             /* model vocabulary: piece -> id */
    TokPairMap merges;
    int byte_fallback, fuse_unk, ignore_merges;
    int32_t unk_id;           /* -1 when the model has no unk token */
    int32_t byte_id[256];     /* id of "<0xNN>", -1 when absent (byte fallback) */
    /* id -> piece for decoding: added tokens override the model's (as HF does) */
    char **id_piece;          /* (n_ids) NULL for holes */
    uint32_t *id_piece_bytes; /* (n_ids) */
    uint8_t *id_special;      /* (n_ids) 1 for special added tokens */
    int64_t n_ids;
    TokAdded *added;
    int32_t n_added;
    TokMatcher match_raw, match_norm; /* normalized == 0 / normalized == 1 tokens */
    TokNorm *norm;            /* (n_norm) growable (io/base/vec.h) while loading */
    int64_t n_norm, cap_norm;
    TokPre *pre;              /* (n_pre) */
    int64_t n_pre, cap_pre;
    TokDec *dec;              /* (n_dec) */
    int64_t n_dec, cap_dec;
    int has_decoder;
    int32_t *post;            /* (n_post) template for add_special: ids, -1 for the sequence */
    int64_t n_post, cap_post;
    int32_t bos_id, eos_id;
    char *chat_template;      /* the model's own chat template text, or NULL (owned) */
    char *chat_template_path; /* the file it came from, or NULL (owned) */
};

/* ---- functions shared between the files ---- */

/* tok_load.c: fills the normalizer/pre-tokenizer/decoder steps from tokenizer.json. */
int tok_load_json(Tokenizer *tok, const json_t *root, Err *err);
/* tok_model.c: fills the model, added tokens, template and bos/eos (after tok_load_json:
 * normalized added tokens are matched in normalized form); config may be NULL. */
int tok_load_model(Tokenizer *tok, const json_t *root, const json_t *config, Err *err);
/* tok_chat.c: the chat template beside the tokenizer: chat_template.jinja in dir (dir_bytes
 * long, ending in '/' or empty) when present, else config's "chat_template" (a string, or
 * a list of {name, template} of which "default" is taken); config may be NULL. */
int tok_load_chat_template(Tokenizer *tok, const json_t *config, const char *config_path,
                           const char *dir, size_t dir_bytes, Err *err);
/* tok_chat.c: the template of config's "chat_template" alone (no file beside it is
 * read: a tokenizer built in memory); config_path names config in messages. */
int tok_load_config_template(Tokenizer *tok, const json_t *config, const char *config_path,
                             Err *err);
/* tok_load.c: frees what tok_load_json allocated. */
void tok_free_parts(Tokenizer *tok);
/* tok_model.c: the id of a token string, an added token's before the vocab's (as HF
 * looks them up), or -1; what tok_id returns (token borrowed). */
int32_t tok_find_id(const Tokenizer *tok, const char *token);
/* tok_model.c: builds a matcher over the added tokens with the given normalized flag. */
int tok_matcher_build(const Tokenizer *tok, int normalized, TokMatcher *m, Err *err);

/* tok_norm.c: applies the normalizers to src (n bytes), appending the result to out. */
int tok_normalize(const Tokenizer *tok, const char *src, size_t n, StrBuf *out, Err *err);
/* tok_pretok.c: runs the pre-tokenizers over the pieces in spans (text in buf), which
 * it replaces by the resulting pieces (new text appended to buf). */
int tok_pretokenize(const Tokenizer *tok, StrBuf *buf, TokSpans *spans, Err *err);
/* tok_bpe.c: growable id list, and the BPE of one pre-token (word, n bytes; borrowed)
 * appending its ids to out. */
typedef struct TokIds {
    int32_t *v;
    int64_t n, cap;
} TokIds;
int tok_ids_push(TokIds *ids, int32_t id, Err *err);
int tok_bpe_word(const Tokenizer *tok, const char *word, size_t n, TokIds *out, Err *err);
/* tok_decode.c: runs the decoder chain. */
int tok_run_decoders(const Tokenizer *tok, char **pieces, size_t *piece_bytes, int64_t n,
                     char **text, Err *err);

#endif
