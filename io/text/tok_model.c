/* io/text/tok_model.c -- reads the BPE model (vocab, merges in either format, unk, byte
 * fallback, ignore_merges), the added tokens, the post-processor template and the
 * tokenizer_config.json overrides of a tokenizer.json, and builds the added-token
 * matchers. Errors name the file and the key. */
#include "io/text/tok_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/base/vec.h"

static int json_flag_true(const json_t *obj, const char *key) {
    return json_is_true(json_object_get(obj, key));
}

static int set_piece(Tokenizer *tok, int32_t id, const char *s, size_t n, Err *err) {
    if (id < 0 || id >= tok->n_ids)
        return err_set(err, "%s: id %d out of range", tok->path, (int)id);
    char *c = malloc(n + 1);
    if (c == NULL)
        return err_set(err, "out of memory");
    memcpy(c, s, n);
    c[n] = '\0';
    free(tok->id_piece[id]);
    tok->id_piece[id] = c;
    tok->id_piece_bytes[id] = (uint32_t)n;
    return 0;
}

static int read_merges(Tokenizer *tok, const json_t *merges, Err *err) {
    size_t n = json_array_size(merges);
    if (tok_pair_init(&tok->merges, (int64_t)n, err) != 0)
        return -1;
    StrBuf cat = {0};
    int rc = 0;
    int32_t rank = 0; /* HF skips "#version" lines of old merges.txt-style lists */
    for (size_t i = 0; i < n && rc == 0; i++) {
        const json_t *m = json_array_get(merges, i);
        const char *a, *b;
        size_t na, nb;
        if (json_is_string(m) && strncmp(json_string_value(m), "#version", 8) == 0)
            continue;
        if (json_is_string(m)) { /* "a b" */
            a = json_string_value(m);
            const char *sp = strchr(a, ' ');
            if (sp == NULL || strchr(sp + 1, ' ') != NULL) {
                rc = err_set(err, "%s: model.merges[%zu]: expected \"a b\", got \"%s\"",
                             tok->path, i, a);
                break;
            }
            na = (size_t)(sp - a);
            b = sp + 1;
            nb = json_string_length(m) - na - 1;
        } else if (json_is_array(m) && json_array_size(m) == 2 &&
                   json_is_string(json_array_get(m, 0)) && json_is_string(json_array_get(m, 1))) {
            a = json_string_value(json_array_get(m, 0));
            na = json_string_length(json_array_get(m, 0));
            b = json_string_value(json_array_get(m, 1));
            nb = json_string_length(json_array_get(m, 1));
        } else {
            rc = err_set(err, "%s: model.merges[%zu]: expected \"a b\" or [a, b]", tok->path, i);
            break;
        }
        int32_t ia = strmap_get(&tok->vocab, a, na), ib = strmap_get(&tok->vocab, b, nb);
        cat.n_bytes = 0;
        if (strbuf_append(&cat, a, na, err) != 0 || strbuf_append(&cat, b, nb, err) != 0) {
            rc = -1;
            break;
        }
        int32_t im = strmap_get(&tok->vocab, cat.data, cat.n_bytes);
        if (ia < 0 || ib < 0 || im < 0) {
            rc = err_set(err, "%s: model.merges[%zu]: \"%.*s\" + \"%.*s\": %s not in the "
                         "vocab", tok->path, i, (int)na, a, (int)nb, b,
                         ia < 0 ? "left part" : ib < 0 ? "right part" : "merged piece");
            break;
        }
        rc = tok_pair_put(&tok->merges, ia, ib, rank++, im, err);
    }
    strbuf_free(&cat);
    return rc;
}

static int read_model(Tokenizer *tok, const json_t *model, int64_t *max_id, Err *err) {
    const char *type = json_string_value(json_object_get(model, "type"));
    if (!json_is_object(model))
        return err_set(err, "%s: model: missing or not an object", tok->path);
    if (type != NULL && strcmp(type, "BPE") != 0)
        return err_set(err, "%s: model.type: \"%s\" is not supported (BPE only)", tok->path, type);
    const char *keys[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int k = 0; k < 2; k++) {
        const char *v = json_string_value(json_object_get(model, keys[k]));
        if (v != NULL && v[0] != '\0')
            return err_set(err, "%s: model.%s: \"%s\" is not supported", tok->path, keys[k], v);
    }
    const json_t *vocab = json_object_get(model, "vocab");
    const json_t *merges = json_object_get(model, "merges");
    if (!json_is_object(vocab))
        return err_set(err, "%s: model.vocab: expected an object {piece: id}", tok->path);
    if (merges != NULL && !json_is_array(merges))
        return err_set(err, "%s: model.merges: expected an array", tok->path);
    if (strmap_init(&tok->vocab, (int64_t)json_object_size(vocab), err) != 0)
        return -1;
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)vocab, key, val) {
        if (!json_is_integer(val) || json_integer_value(val) < 0 ||
            json_integer_value(val) >= INT32_MAX)
            return err_set(err, "%s: model.vocab[\"%s\"]: expected a non-negative id", tok->path,
                           key);
        int32_t id = (int32_t)json_integer_value(val);
        if (strmap_put(&tok->vocab, key, strlen(key), id, err) != 0)
            return -1;
        if (id > *max_id)
            *max_id = id;
    }
    tok->byte_fallback = json_flag_true(model, "byte_fallback");
    tok->fuse_unk = json_flag_true(model, "fuse_unk");
    tok->ignore_merges = json_flag_true(model, "ignore_merges");
    tok->unk_id = -1;
    const char *unk = json_string_value(json_object_get(model, "unk_token"));
    if (unk != NULL && (tok->unk_id = strmap_get(&tok->vocab, unk, strlen(unk))) < 0)
        return err_set(err, "%s: model.unk_token: \"%s\" is not in the vocab", tok->path, unk);
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        tok->byte_id[b] = strmap_get(&tok->vocab, name, 6);
    }
    return merges != NULL ? read_merges(tok, merges, err) : tok_pair_init(&tok->merges, 1, err);
}

static int read_added(Tokenizer *tok, const json_t *added, int64_t *max_id, Err *err) {
    if (added == NULL || json_is_null(added))
        return 0;
    if (!json_is_array(added))
        return err_set(err, "%s: added_tokens: expected an array", tok->path);
    size_t n = json_array_size(added);
    tok->added = calloc(n ? n : 1, sizeof *tok->added);
    if (tok->added == NULL)
        return err_set(err, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *a = json_array_get(added, i);
        const json_t *content = json_object_get(a, "content"), *id = json_object_get(a, "id");
        if (!json_is_string(content) || !json_is_integer(id) || json_integer_value(id) < 0 ||
            json_integer_value(id) >= INT32_MAX)
            return err_set(err, "%s: added_tokens[%zu]: expected \"id\" (integer) and "
                           "\"content\" (string)", tok->path, i);
        TokAdded *t = &tok->added[tok->n_added++];
        t->content_bytes = json_string_length(content);
        t->content = malloc(t->content_bytes + 1);
        if (t->content == NULL)
            return err_set(err, "out of memory");
        memcpy(t->content, json_string_value(content), t->content_bytes + 1);
        t->id = (int32_t)json_integer_value(id);
        t->special = json_flag_true(a, "special");
        t->single_word = json_flag_true(a, "single_word");
        t->lstrip = json_flag_true(a, "lstrip");
        t->rstrip = json_flag_true(a, "rstrip");
        t->normalized = json_flag_true(a, "normalized");
        if (t->id > *max_id)
            *max_id = t->id;
    }
    return 0;
}

static int post_push(Tokenizer *tok, int32_t id, Err *err) {
    return VEC_PUSH(tok->post, tok->n_post, tok->cap_post, id, err);
}

/* A special token id of the post_processor (at key): it must name a token of the file,
 * or encode would hand out an id that nothing decodes (and -1 is the text's marker). */
static int post_push_token(Tokenizer *tok, const char *key, const json_t *v, Err *err) {
    if (!json_is_integer(v))
        return err_set(err, "%s: %s: a special token id that is not an integer", tok->path,
                       key);
    const json_int_t id = json_integer_value(v);
    if (id < 0 || id >= tok->n_ids || tok->id_piece[id] == NULL)
        return err_set(err, "%s: %s: special token id %lld names no token of the vocabulary "
                            "or added_tokens", tok->path, key, (long long)id);
    return post_push(tok, (int32_t)id, err);
}

/* The single-sequence template of a post_processor into tok->post (-1 = the text). */
static int read_post(Tokenizer *tok, const char *key, const json_t *pp, Err *err) {
    const char *type = json_string_value(json_object_get(pp, "type"));
    if (type == NULL)
        return err_set(err, "%s: %s.type: missing", tok->path, key);
    if (strcmp(type, "ByteLevel") == 0) /* offsets only; ids unchanged */
        return 0;
    if (strcmp(type, "Sequence") == 0) {
        const json_t *list = json_object_get(pp, "processors");
        for (size_t i = 0; i < json_array_size(list); i++) {
            char sub[96];
            snprintf(sub, sizeof sub, "%s.processors[%zu]", key, i);
            if (read_post(tok, sub, json_array_get(list, i), err) != 0)
                return -1;
        }
        return 0;
    }
    tok->n_post = 0;
    if (strcmp(type, "BertProcessing") == 0 || strcmp(type, "RobertaProcessing") == 0) {
        const json_t *cls = json_array_get(json_object_get(pp, "cls"), 1);
        const json_t *sep = json_array_get(json_object_get(pp, "sep"), 1);
        if (!json_is_integer(cls) || !json_is_integer(sep))
            return err_set(err, "%s: %s: expected cls and sep as [token, id]", tok->path, key);
        return post_push_token(tok, key, cls, err) || post_push(tok, -1, err) ||
                       post_push_token(tok, key, sep, err) ? -1 : 0;
    }
    if (strcmp(type, "TemplateProcessing") != 0)
        return err_set(err, "%s: %s.type: post_processor \"%s\" is not supported", tok->path,
                       key, type);
    const json_t *single = json_object_get(pp, "single");
    const json_t *specials = json_object_get(pp, "special_tokens");
    if (!json_is_array(single))
        return err_set(err, "%s: %s.single: expected an array", tok->path, key);
    for (size_t i = 0; i < json_array_size(single); i++) {
        const json_t *piece = json_array_get(single, i);
        const json_t *sp = json_object_get(piece, "SpecialToken");
        if (json_object_get(piece, "Sequence") != NULL) {
            if (post_push(tok, -1, err) != 0)
                return -1;
            continue;
        }
        const char *name = json_string_value(json_object_get(sp, "id"));
        const json_t *ids = json_object_get(json_object_get(specials, name ? name : ""), "ids");
        if (name == NULL || !json_is_array(ids))
            return err_set(err, "%s: %s.single[%zu]: special token without ids in "
                           "special_tokens", tok->path, key, i);
        for (size_t k = 0; k < json_array_size(ids); k++)
            if (post_push_token(tok, key, json_array_get(ids, k), err) != 0)
                return -1;
    }
    return 0;
}

int32_t tok_find_id(const Tokenizer *tok, const char *token) {
    for (int32_t i = 0; i < tok->n_added; i++)
        if (strcmp(tok->added[i].content, token) == 0)
            return tok->added[i].id;
    return strmap_get(&tok->vocab, token, strlen(token));
}

/* A token string of tokenizer_config.json: "<s>" or {"content": "<s>", ...}. */
static int32_t config_token_id(const Tokenizer *tok, const json_t *v) {
    if (json_is_object(v))
        v = json_object_get(v, "content");
    return json_is_string(v) ? tok_find_id(tok, json_string_value(v)) : -1;
}

/* tokenizer_config.json: bos/eos strings; add_bos_token/add_eos_token, when present,
 * replace the template as transformers' update_post_processor does. */
static int read_config(Tokenizer *tok, const json_t *cfg, Err *err) {
    tok->bos_id = -1;
    tok->eos_id = -1;
    if (tok->n_post > 1 && tok->post[0] >= 0)
        tok->bos_id = tok->post[0];
    if (cfg == NULL)
        return 0;
    const json_t *bos = json_object_get(cfg, "bos_token"), *eos = json_object_get(cfg, "eos_token");
    if (bos != NULL)
        tok->bos_id = config_token_id(tok, bos);
    if (eos != NULL)
        tok->eos_id = config_token_id(tok, eos);
    const json_t *ab = json_object_get(cfg, "add_bos_token"), *ae = json_object_get(cfg, "add_eos_token");
    if (ab == NULL && ae == NULL)
        return 0;
    tok->n_post = 0;
    if (json_is_true(ab) && tok->bos_id >= 0 && post_push(tok, tok->bos_id, err) != 0)
        return -1;
    if (post_push(tok, -1, err) != 0)
        return -1;
    if (json_is_true(ae) && tok->eos_id >= 0 && post_push(tok, tok->eos_id, err) != 0)
        return -1;
    return 0;
}

int tok_matcher_build(const Tokenizer *tok, int normalized, TokMatcher *m, Err *err) {
    memset(m, 0, sizeof *m);
    m->order = malloc((size_t)(tok->n_added ? tok->n_added : 1) * sizeof *m->order);
    if (m->order == NULL)
        return err_set(err, "out of memory");
    /* Counting sort by first byte; inside a bucket longest first (leftmost-longest). */
    for (int c = 0; c <= 256; c++) {
        m->first[c] = m->n;
        for (int32_t i = 0; c < 256 && i < tok->n_added; i++) {
            const TokAdded *t = &tok->added[i];
            if (t->normalized != normalized || t->match_bytes == 0 ||
                (unsigned char)t->match[0] != c)
                continue;
            int32_t k = m->n++;
            while (k > m->first[c] && tok->added[m->order[k - 1]].match_bytes < t->match_bytes) {
                m->order[k] = m->order[k - 1];
                k--;
            }
            m->order[k] = i;
        }
    }
    return 0;
}

/* Loads everything but the pipeline steps. config may be NULL. */
int tok_load_model(Tokenizer *tok, const json_t *root, const json_t *config, Err *err) {
    int64_t max_id = -1;
    if (read_model(tok, json_object_get(root, "model"), &max_id, err) != 0 ||
        read_added(tok, json_object_get(root, "added_tokens"), &max_id, err) != 0)
        return -1;
    tok->n_ids = max_id + 1;
    tok->id_piece = calloc((size_t)(tok->n_ids ? tok->n_ids : 1), sizeof *tok->id_piece);
    tok->id_piece_bytes = calloc((size_t)(tok->n_ids ? tok->n_ids : 1), sizeof *tok->id_piece_bytes);
    tok->id_special = calloc((size_t)(tok->n_ids ? tok->n_ids : 1), 1);
    if (tok->id_piece == NULL || tok->id_piece_bytes == NULL || tok->id_special == NULL)
        return err_set(err, "out of memory");
    for (int64_t i = 0; i < tok->vocab.cap; i++)
        if (tok->vocab.keys[i] != NULL &&
            set_piece(tok, tok->vocab.vals[i], tok->vocab.keys[i], tok->vocab.key_len[i], err) != 0)
            return -1;
    for (int32_t i = 0; i < tok->n_added; i++) {
        TokAdded *t = &tok->added[i];
        tok->id_special[t->id] = (uint8_t)t->special;
        StrBuf nb = {0};
        if (t->normalized) { /* HF matches normalized tokens by their normalized form */
            if (tok_normalize(tok, t->content, t->content_bytes, &nb, err) != 0)
                return -1;
        } else if (strbuf_append(&nb, t->content, t->content_bytes, err) != 0) {
            return -1;
        }
        t->match = nb.data;
        t->match_bytes = nb.n_bytes;
        /* HF decodes a normalized added token from its normalized form (normalized_cache). */
        if (set_piece(tok, t->id, t->match ? t->match : "", t->match_bytes, err) != 0)
            return -1;
    }
    const json_t *pp = json_object_get(root, "post_processor");
    if (pp != NULL && !json_is_null(pp) && read_post(tok, "post_processor", pp, err) != 0)
        return -1;
    if (tok->n_post == 0 && post_push(tok, -1, err) != 0)
        return -1;
    if (read_config(tok, config, err) != 0)
        return -1;
    if (tok_matcher_build(tok, 0, &tok->match_raw, err) != 0 ||
        tok_matcher_build(tok, 1, &tok->match_norm, err) != 0)
        return -1;
    return 0;
}
