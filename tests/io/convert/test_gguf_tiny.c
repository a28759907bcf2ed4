/* tests/io/convert/test_gguf_tiny.c -- `tlm convert gguf` on the two small GGUF models of
 * tests/data/gguf (made by tests/ref/make_gguf_golden.py with the gguf package; every
 * tensor type, llama's permuted q/k rows, qwen2 biases, a SentencePiece and a byte-level
 * vocabulary) against transformers' own GGUF loading of the same files: every tensor
 * bit-identical in F32 and in BF16, the config, the tokenizer on 300 strings, the
 * per-sequence CE through the engine (float64 reference, <= 1e-4), the chat template's
 * family and default system prompt, and the command line (convert, and run with
 * model.template auto). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/convert/gguf_convert.h"
#include "io/model/model_config.h"
#include "io/text/chat_template.h"
#include "io/text/tokenizer.h"
#include "tests/io/convert/gguf_check.h"
#include "tests/testutil.h"

static int check_config(const char *dir, const json_t *want) {
    ModelConfig c;
    Err err = {{0}};
    if (cfg_load(dir, &c, &err) != 0) {
        printf("FAIL: %s\n", err.msg);
        return 1;
    }
#define WANT_INT(field, key)                                                               \
    if (c.field != json_integer_value(json_object_get(want, key))) {                        \
        printf("FAIL: %s: %s = %lld, transformers %lld\n", dir, key, (long long)c.field,    \
               (long long)json_integer_value(json_object_get(want, key)));                  \
        fails++;                                                                            \
    }
    int fails = 0;
    WANT_INT(dim, "hidden_size")
    WANT_INT(ffn_dim, "intermediate_size")
    WANT_INT(n_layers, "num_hidden_layers")
    WANT_INT(n_heads, "num_attention_heads")
    WANT_INT(n_kv_heads, "num_key_value_heads")
    WANT_INT(vocab_size, "vocab_size")
    WANT_INT(max_pos, "max_position_embeddings")
    WANT_INT(bos_id, "bos_token_id")
    WANT_INT(eos_ids[0], "eos_token_id")
#undef WANT_INT
    if (c.tie_embeddings != json_is_true(json_object_get(want, "tie_word_embeddings")) ||
        c.rms_eps != (float)json_real_value(json_object_get(want, "rms_norm_eps")) ||
        c.rope_theta != (float)json_number_value(json_object_get(want, "rope_theta"))) {
        printf("FAIL: %s: tie %d, rms_eps %g, rope_theta %g differ from transformers'\n", dir,
               c.tie_embeddings, c.rms_eps, c.rope_theta);
        fails++;
    }
    return fails;
}

/* The chat template carried over is recognised; chatml's default system prompt is the
 * template's own. */
static int check_template(const char *dir, const char *family, const char *system) {
    Err err = {{0}};
    Tokenizer *tok = tok_open(tu_path(dir, "tokenizer.json"), &err);
    const ChatTemplate *t = NULL;
    char *sys = NULL;
    int fails = tok == NULL || tmpl_detect(tok, &t, &err) != 0 ||
                tmpl_default_system(t, tok, &sys, &err) != 0;
    if (fails)
        printf("FAIL: %s: %s\n", dir, err.msg);
    else if (strcmp(tmpl_name(t), family) != 0 || strcmp(sys, system) != 0)
        fails = printf("FAIL: %s: template %s with system \"%s\", want %s with \"%s\"\n", dir,
                       tmpl_name(t), sys, family, system) > 0;
    else
        printf("%s: chat template recognised as %s, default system \"%s\"\n", dir, family, sys);
    free(sys);
    tok_close(tok);
    return fails;
}

static int check_model(const char *name, const json_t *ref, const json_t *strings) {
    char gguf[4096], f32[4096], bf16[4096];
    snprintf(gguf, sizeof gguf, "%s/tests/data/gguf/%s.gguf", tu_source_dir(), name);
    snprintf(f32, sizeof f32, "%s/gguf_%s_f32", tu_tmp_dir(), name);
    snprintf(bf16, sizeof bf16, "%s/gguf_%s_bf16", tu_tmp_dir(), name);
    Err err = {{0}};
    GgufModel m;
    if (gguf_convert(gguf, f32, DTYPE_F32, &m, NULL, &err) != 0 ||
        gguf_convert(gguf, bf16, DTYPE_BF16, NULL, NULL, &err) != 0) {
        printf("FAIL: %s: %s\n", name, err.msg);
        return 1;
    }
    const json_t *tensors = json_object_get(ref, "tensors");
    int fails = gc_check_tensors(f32, tensors, "f32") + gc_check_tensors(bf16, tensors, "bf16");
    fails += check_config(f32, json_object_get(ref, "config"));
    fails += gc_check_tok(f32, strings, json_object_get(ref, "tok_ids"));
    double d;
    const json_t *ce = json_object_get(ref, "ce");
    fails += gc_check_ce(f32, json_object_get(ce, "seqs"), json_object_get(ce, "ce"), 1e-4, &d);
    fails += m.arch == GGUF_ARCH_QWEN2
                 ? check_template(f32, "chatml", "You are a tiny test model.")
                 : check_template(f32, "llama2", "");
    return fails;
}

static int check_cli(void) {
    const char *gguf = tu_path(tu_source_dir(), "tests/data/gguf/tiny-qwen2.gguf");
    const char *out = tu_path(tu_tmp_dir(), "gguf_cli");
    int fails = 0;
    if (tu_system("'%s' convert gguf '%s' '%s' --dtype bf16 > /dev/null", tu_tlm_bin(), gguf,
                  out) != 0)
        fails += printf("FAIL: tlm convert gguf --dtype bf16 failed\n") > 0;
    if (tu_system("'%s' convert gguf '%s' '%s' --dtype f16 2> /dev/null", tu_tlm_bin(), gguf,
                  out) != 2)
        fails += printf("FAIL: --dtype f16 is not a usage error\n") > 0;
    if (tu_system("'%s' convert gguf /nonexistent.gguf '%s' 2>&1 | grep -q "
                  "'/nonexistent.gguf: cannot open'", tu_tlm_bin(), out) != 0)
        fails += printf("FAIL: a missing file is not named\n") > 0;
    /* tlm run with the default model.template (auto) on the converted model: its own
     * ChatML template, with its own default system prompt in every prompt. */
    const char *run = tu_fresh_dir(tu_path(tu_tmp_dir(), "gguf_cli_run"));
    if (tu_system("cd '%s' && '%s' run jobs/demo.yaml --set model.path='%s' --set "
                  "model.template=auto --set data.max_samples=2 --set method.name=none --set "
                  "generate.max_new_tokens=4 --set output.dir='%s' > '%s.log' 2>&1",
                  tu_source_dir(), tu_tlm_bin(), out, run, run) != 0 ||
        tu_system("grep -q 'template auto: chatml, recognised in .*tokenizer_config.json; its "
                  "default system prompt: \"You are a tiny test model.\"' '%s.log'", run) != 0 ||
        tu_system("grep -q 'You are a tiny test model' '%s/generated_predictions.jsonl'",
                  run) != 0)
        fails += printf("FAIL: tlm run with model.template auto on the converted model\n") > 0;
    return fails;
}

int main(void) {
    json_error_t jerr;
    json_t *doc = json_load_file(tu_path(tu_source_dir(), "tests/data/gguf/tiny.json"), 0, &jerr);
    if (doc == NULL) {
        printf("FAIL: tiny.json: %s\n", jerr.text);
        return 1;
    }
    size_t n_bytes;
    char *text = tu_read_file(tu_path(tu_source_dir(), "tests/data/tok/strings.jsonl"), &n_bytes);
    json_t *strings = json_array();
    const json_int_t n_strings = json_integer_value(json_object_get(doc, "n_strings"));
    for (char *p = text; p != NULL && *p && (json_int_t)json_array_size(strings) < n_strings;) {
        char *nl = strchr(p, '\n');
        json_array_append_new(strings, json_loadb(p, nl ? (size_t)(nl - p) : strlen(p),
                                                  JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr));
        p = nl ? nl + 1 : NULL;
    }
    free(text);
    int fails = 0;
    const char *name;
    json_t *ref;
    json_object_foreach(json_object_get(doc, "models"), name, ref)
        fails += check_model(name, ref, strings);
    fails += check_cli();
    json_decref(strings);
    json_decref(doc);
    printf("%s: %d failure(s)\n", fails ? "FAILED" : "PASSED", fails);
    return fails != 0;
}
