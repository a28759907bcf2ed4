/* io/text/tokenizer.c -- tok_open/tok_encode/tok_decode (see io/text/tokenizer.h): the HF
 * pipeline in order: added tokens split out of the raw text, normalizer on each
 * remaining piece, added tokens with normalized=true split out of the normalized text,
 * pre-tokenizers, BPE per pre-token, post-processor template. Loading lives in
 * io/text/tok_load.c and io/text/tok_model.c, the steps in io/tok_{norm,pretok,bpe,decode}.c. */
#include "io/text/tokenizer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/text/tok_internal.h"
#include "io/text/tok_json.h"

static json_t *load_json(const char *path, int optional, Err *err) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        if (!optional || errno != ENOENT)
            err_set(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    json_error_t jerr;
    /* tokenizer_config.json holds model_max_length = 1e30 as an integer literal. */
    json_t *root = json_loadf(f, optional ? JSON_DECODE_INT_AS_REAL : 0, &jerr);
    fclose(f);
    if (root == NULL)
        err_set(err, "%s:%d:%d: invalid JSON: %s", path, jerr.line, jerr.column, jerr.text);
    else if (!json_is_object(root)) {
        err_set(err, "%s: expected a JSON object at the top level", path);
        json_decref(root);
        root = NULL;
    }
    return root;
}

Tokenizer *tok_open(const char *path, Err *err) {
    Tokenizer *tok = calloc(1, sizeof *tok);
    json_t *root = NULL, *cfg = NULL;
    char *cfg_path = NULL;
    if (tok == NULL || (tok->path = strdup(path)) == NULL) {
        err_set(err, "out of memory");
        goto fail;
    }
    if ((root = load_json(path, 0, err)) == NULL)
        goto fail;
    /* tokenizer_config.json sits beside tokenizer.json. */
    const char *slash = strrchr(path, '/');
    size_t dir_bytes = slash ? (size_t)(slash - path) + 1 : 0;
    cfg_path = malloc(dir_bytes + sizeof "tokenizer_config.json");
    if (cfg_path == NULL) {
        err_set(err, "out of memory");
        goto fail;
    }
    memcpy(cfg_path, path, dir_bytes);
    strcpy(cfg_path + dir_bytes, "tokenizer_config.json");
    Err cfg_err = {{0}};
    cfg = load_json(cfg_path, 1, &cfg_err);
    if (cfg == NULL && cfg_err.msg[0] != '\0') {
        if (err != NULL)
            *err = cfg_err;
        goto fail;
    }
    if (tok_load_json(tok, root, err) != 0 || tok_load_model(tok, root, cfg, err) != 0 ||
        tok_load_chat_template(tok, cfg, cfg_path, path, dir_bytes, err) != 0)
        goto fail;
    json_decref(root);
    json_decref(cfg);
    free(cfg_path);
    return tok;
fail:
    json_decref(root);
    json_decref(cfg);
    free(cfg_path);
    tok_close(tok);
    return NULL;
}

Tokenizer *tok_open_json(const char *label, const json_t *root, const json_t *config,
                         Err *err) {
    Tokenizer *tok = calloc(1, sizeof *tok);
    if (tok == NULL || (tok->path = strdup(label)) == NULL) {
        err_set(err, "out of memory");
        tok_close(tok);
        return NULL;
    }
    if (!json_is_object(root) || (config != NULL && !json_is_object(config))) {
        err_set(err, "%s: expected JSON objects for tokenizer.json and tokenizer_config.json",
                label);
        tok_close(tok);
        return NULL;
    }
    if (tok_load_json(tok, root, err) != 0 || tok_load_model(tok, root, config, err) != 0 ||
        tok_load_config_template(tok, config, label, err) != 0) {
        tok_close(tok);
        return NULL;
    }
    return tok;
}

void tok_close(Tokenizer *tok) {
    if (tok == NULL)
        return;
    tok_free_parts(tok);
    strmap_free(&tok->vocab);
    tok_pair_free(&tok->merges);
    for (int64_t i = 0; i < tok->n_ids && tok->id_piece != NULL; i++)
        free(tok->id_piece[i]);
    free(tok->id_piece);
    free(tok->id_piece_bytes);
    free(tok->id_special);
    for (int32_t i = 0; i < tok->n_added; i++) {
        free(tok->added[i].content);
        free(tok->added[i].match);
    }
    free(tok->added);
    free(tok->match_raw.order);
    free(tok->match_norm.order);
    free(tok->post);
    free(tok->chat_template);
    free(tok->chat_template_path);
    free(tok->path);
    free(tok);
}

static int32_t last_cp(const char *s, size_t n) {
    size_t p = n - 1;
    while (p > 0 && ((unsigned char)s[p] & 0xC0) == 0x80)
        p--;
    int len;
    return utf8_decode(s + p, n - p, &len);
}

/* Splits piece sp of buf around the added tokens of matcher m, as HF's
 * AddedVocabulary::find_matches (leftmost-longest; single_word, lstrip, rstrip). */
static int split_added(const Tokenizer *tok, const TokMatcher *m, const StrBuf *buf,
                       TokSpan sp, TokSpans *out, Err *err) {
    const char *s = buf->data + sp.off;
    size_t n = sp.len, pos = 0, start_offset = 0;
    if (n == 0)
        return 0;
    while (m->n > 0 && pos < n) {
        const TokAdded *t = NULL;
        size_t i;
        for (i = pos; i < n && t == NULL; i++) {
            unsigned char c = (unsigned char)s[i];
            for (int32_t k = m->first[c]; k < m->first[c + 1]; k++) {
                const TokAdded *cand = &tok->added[m->order[k]];
                if (i + cand->match_bytes <= n && memcmp(s + i, cand->match, cand->match_bytes) == 0) {
                    t = cand;
                    break;
                }
            }
        }
        if (t == NULL)
            break;
        size_t start = i - 1, stop = start + t->match_bytes;
        int len;
        pos = stop; /* the search resumes after the match even if it is discarded */
        if (t->single_word && ((start > 0 && tok_is_word(last_cp(s, start))) ||
                               (stop < n && tok_is_word(utf8_decode(s + stop, n - stop, &len)))))
            continue;
        if (t->lstrip) {
            size_t ns = start;
            while (ns > 0 && tok_is_white(last_cp(s, ns))) {
                ns--;
                while (ns > 0 && ((unsigned char)s[ns] & 0xC0) == 0x80)
                    ns--;
            }
            start = ns > start_offset ? ns : start_offset;
        }
        if (t->rstrip)
            while (stop < n && tok_is_white(utf8_decode(s + stop, n - stop, &len)))
                stop += (size_t)len;
        if (start_offset < start &&
            tok_spans_push(out, (TokSpan){sp.off + start_offset, start - start_offset,
                                          sp.at_origin && start_offset == 0, -1}, err) != 0)
            return -1;
        if (tok_spans_push(out, (TokSpan){sp.off + start, stop - start, 0, t->id}, err) != 0)
            return -1;
        start_offset = stop;
    }
    if (start_offset < n)
        return tok_spans_push(out, (TokSpan){sp.off + start_offset, n - start_offset,
                                             sp.at_origin && start_offset == 0, -1}, err);
    return 0;
}

/* Added tokens, normalizer, normalized added tokens: the pieces the pre-tokenizer sees. */
static int extract_and_normalize(const Tokenizer *tok, StrBuf *buf, TokSpans *out, Err *err) {
    TokSpans raw = {0};
    StrBuf norm = {0};
    int rc = split_added(tok, &tok->match_raw, buf, (TokSpan){0, buf->n_bytes, 1, -1}, &raw, err);
    for (int64_t i = 0; i < raw.n && rc == 0; i++) {
        TokSpan sp = raw.v[i];
        if (sp.id >= 0) {
            rc = tok_spans_push(out, sp, err);
            continue;
        }
        norm.n_bytes = 0;
        rc = tok_normalize(tok, buf->data + sp.off, sp.len, &norm, err);
        size_t at = buf->n_bytes;
        if (rc == 0)
            rc = strbuf_append(buf, norm.data, norm.n_bytes, err);
        if (rc == 0)
            rc = split_added(tok, &tok->match_norm, buf, (TokSpan){at, norm.n_bytes, sp.at_origin, -1},
                             out, err);
    }
    tok_spans_free(&raw);
    strbuf_free(&norm);
    return rc;
}

int tok_encode(const Tokenizer *tok, const char *text, size_t n_bytes, int add_special,
               int32_t **ids, int64_t *n_ids, Err *err) {
    *ids = NULL;
    *n_ids = 0;
    if (!utf8_valid(text, n_bytes))
        return err_set(err, "%s: input text is not valid UTF-8", tok->path);
    StrBuf buf = {0};
    TokSpans spans = {0};
    TokIds model = {0}, out = {0};
    int rc = strbuf_append(&buf, text, n_bytes, err);
    if (rc == 0)
        rc = extract_and_normalize(tok, &buf, &spans, err);
    if (rc == 0)
        rc = tok_pretokenize(tok, &buf, &spans, err);
    for (int64_t i = 0; i < spans.n && rc == 0; i++)
        rc = spans.v[i].id >= 0 ? tok_ids_push(&model, spans.v[i].id, err)
                                : tok_bpe_word(tok, buf.data + spans.v[i].off, spans.v[i].len,
                                               &model, err);
    if (add_special) {
        for (int64_t k = 0; k < tok->n_post && rc == 0; k++) {
            if (tok->post[k] >= 0) {
                rc = tok_ids_push(&out, tok->post[k], err);
                continue;
            }
            for (int64_t i = 0; i < model.n && rc == 0; i++)
                rc = tok_ids_push(&out, model.v[i], err);
        }
        free(model.v);
    } else {
        out = model;
    }
    strbuf_free(&buf);
    tok_spans_free(&spans);
    if (rc != 0) {
        free(out.v);
        return -1;
    }
    if (out.v == NULL && (out.v = malloc(sizeof *out.v)) == NULL)
        return err_set(err, "out of memory");
    *ids = out.v;
    *n_ids = out.n;
    return 0;
}

int tok_decode(const Tokenizer *tok, const int32_t *ids, int64_t n_ids, int skip_special,
               char **text, Err *err) {
    *text = NULL;
    char **pieces = malloc((size_t)(n_ids > 0 ? n_ids : 1) * sizeof *pieces);
    size_t *bytes = malloc((size_t)(n_ids > 0 ? n_ids : 1) * sizeof *bytes);
    if (pieces == NULL || bytes == NULL) {
        free(pieces);
        free(bytes);
        return err_set(err, "out of memory (decoding %lld ids)", (long long)n_ids);
    }
    int64_t n = 0;
    /* Unknown ids are dropped, as HF's decode does. */
    for (int64_t i = 0; i < n_ids; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= tok->n_ids || tok->id_piece[id] == NULL ||
            (skip_special && tok->id_special[id]))
            continue;
        pieces[n] = tok->id_piece[id];
        bytes[n++] = tok->id_piece_bytes[id];
    }
    int rc = tok_run_decoders(tok, pieces, bytes, n, text, err);
    free(pieces);
    free(bytes);
    return rc;
}

int64_t tok_vocab_size(const Tokenizer *tok) { return tok->n_ids; }

int32_t tok_id(const Tokenizer *tok, const char *token) { return tok_find_id(tok, token); }

const char *tok_piece(const Tokenizer *tok, int32_t id) {
    return (id >= 0 && id < tok->n_ids) ? tok->id_piece[id] : NULL;
}

const char *tok_file(const Tokenizer *tok) { return tok->path; }
int32_t tok_bos_id(const Tokenizer *tok) { return tok->bos_id; }
int32_t tok_eos_id(const Tokenizer *tok) { return tok->eos_id; }
