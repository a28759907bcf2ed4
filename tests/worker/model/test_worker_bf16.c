/* tests/worker/model/test_worker_bf16.c -- bf16 frozen weights (ModelOptions.weight_format,
 * the job's backend.cpu_weights: bf16), or with a format argument the block formats
 * quantized at load (model.weights: q8_0, q4_0, q4_1, nf4; issue 18), against the fp32
 * reference on the same model: the logits of a packed forward within the format's bound
 * of norm-wise relative error (bf16 1e-2), and the greedy tokens
 * of fp32 generations (4 prompts x 32 new tokens, with a random adapter on, as TLM
 * generates) at least 95% identical to bf16's greedy choice at each of those positions
 * (teacher-forced: bf16 picks the next token after fp32's prefix, so one near-tie does not
 * decide every later position). The free-running agreement (bf16 generating on its own)
 * is printed beside it. Models: the golden ones of tests/data/golden
 * (tiny random Llama with GQA, Qwen2 with biases), and with "shared" the real ones:
 * stories260K and SmolLM2-135M-Instruct (converted from ../shared; skipped when absent). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/convert/gguf_convert.h"
#include "io/convert/llama2c.h"
#include "io/convert/llama2c_tokenizer.h"
#include "kernels/ops.h"
#include "tests/testutil.h"
#include "tests/worker/wtest.h"
#include "worker/adapter/lora.h"
#include "worker/model/generate.h"
#include "worker/model/model.h"

#define N_PROMPTS 4
#define PROMPT_LEN 24
#define N_NEW 32

/* The format under test and its bounds: logits' norm-wise rel error at most max_rel (and,
 * for a block format, at least 1e-4: the weights really were quantized), teacher-forced
 * greedy agreement at least min_same. Bounds measured on the golden and shared models
 * (test output "ok:" lines) with margin. */
typedef struct FormatBound {
    const char *name;
    WeightFormat f;
    double max_rel, min_same;
} FormatBound;
static const FormatBound BOUNDS[] = {
    /* golden (random tiny) models measured: q8_0 2.1-2.4e-2 and 96%; q4_0, q4_1, nf4
     * 0.30-0.40 and 51-82%: random weights with near-uniform logits are the worst case
     * for 4 bits, so these bounds only catch a broken decode (which gives rel ~1) */
    {"bf16", WEIGHT_BF16, 1e-2, 0.95}, {"q8_0", WEIGHT_Q8_0, 3e-2, 0.90},
    {"q4_0", WEIGHT_Q4_0, 0.5, 0.45}, {"q4_1", WEIGHT_Q4_1, 0.5, 0.45},
    {"nf4", WEIGHT_NF4, 0.5, 0.45}};
static FormatBound g_bound = {"bf16", WEIGHT_BF16, 1e-2, 0.95};

static Model *open_as(const char *dir, WeightFormat f) {
    const ModelOptions mo = {.full_logits = 1, .max_tokens = N_PROMPTS * (PROMPT_LEN + N_NEW), .max_seqs = N_PROMPTS,
                             .max_pos = PROMPT_LEN + N_NEW, .weight_format = f};
    Err err = {{0}};
    Model *m = model_open(dir, ops_cpu(), &mo, &err);
    tu_check_rc(m == NULL, "model_open", err.msg);
    return m;
}

/* Logits (host, owned) of the packed forward of the prompts. */
static float *forward_logits(Model *m, const Lora *l, const int32_t *ids, int64_t V) {
    const int32_t lens[N_PROMPTS] = {PROMPT_LEN, PROMPT_LEN, PROMPT_LEN, PROMPT_LEN};
    float ce[N_PROMPTS];
    Err err = {{0}};
    tu_check_rc(model_forward(m, l, ids, lens, N_PROMPTS, 0, ce, &err), "forward", err.msg);
    const int64_t n = (int64_t)N_PROMPTS * PROMPT_LEN * V;
    float *out = malloc((size_t)n * sizeof *out);
    model_ops(m)->download(out, model_logits(m, NULL), n);
    return out;
}

/* How many of fp32's generated tokens gen (N_PROMPTS x N_NEW) m's argmax picks after
 * the same prefix: one packed forward over prompt + gen[:-1] per sequence. */
static int teacher_forced_same(Model *m, const Lora *l, const int32_t *ids, const int32_t *gen,
                               int64_t V) {
    const int32_t T = PROMPT_LEN + N_NEW - 1;
    int32_t seq[N_PROMPTS * (PROMPT_LEN + N_NEW)], lens[N_PROMPTS];
    for (int p = 0; p < N_PROMPTS; p++) {
        memcpy(seq + p * T, ids + p * PROMPT_LEN, PROMPT_LEN * sizeof(int32_t));
        memcpy(seq + p * T + PROMPT_LEN, gen + p * N_NEW, (N_NEW - 1) * sizeof(int32_t));
        lens[p] = T;
    }
    float ce[N_PROMPTS], *row = malloc((size_t)V * sizeof *row);
    Err err = {{0}};
    tu_check_rc(model_forward(m, l, seq, lens, N_PROMPTS, 0, ce, &err), "forward", err.msg);
    int same = 0;
    for (int p = 0; p < N_PROMPTS; p++)
        for (int i = 0; i < N_NEW; i++) {
            const int64_t r = (int64_t)p * T + PROMPT_LEN - 1 + i;
            model_ops(m)->download(row, (const float *)model_logits(m, NULL) + r * V, V);
            int32_t best = 0;
            for (int32_t v = 1; v < V; v++)
                if (row[v] > row[best])
                    best = v;
            same += best == gen[p * N_NEW + i];
        }
    free(row);
    return same;
}

static void generate(Model *m, const Lora *l, const int32_t *ids, int32_t *out) {
    const int32_t lens[N_PROMPTS] = {PROMPT_LEN, PROMPT_LEN, PROMPT_LEN, PROMPT_LEN};
    int32_t out_lens[N_PROMPTS];
    Err err = {{0}};
    Generator *g = gen_open(m, N_PROMPTS, PROMPT_LEN + N_NEW, &err);
    tu_check_rc(g == NULL, "gen_open", err.msg);
    tu_check_rc(gen_run(g, l, ids, lens, N_PROMPTS, N_NEW, NULL, 0, out, out_lens, &err),
                "gen_run", err.msg);
    gen_close(g);
}

/* Compares bf16 with fp32 on dir; returns the failure count. */
static int check_model(const char *label, const char *dir) {
    Model *ref = open_as(dir, WEIGHT_ELEM), *bf = open_as(dir, g_bound.f);
    const ModelConfig *cfg = model_config(ref);
    const int64_t V = cfg->vocab_size;
    int32_t ids[N_PROMPTS * PROMPT_LEN];
    uint64_t s = 7;
    for (int i = 0; i < N_PROMPTS * PROMPT_LEN; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        ids[i] = (int32_t)(3 + (s >> 33) % (uint64_t)(V - 3));
    }
    Lora lora = {0};
    const LoraConfig lc = {.rank = 8, .alpha = 16, .targets = LORA_BIT(LORA_Q) | LORA_BIT(LORA_V)};
    Err err = {{0}};
    tu_check_rc(lora_alloc(&lora, &lc, cfg, ops_cpu(), &err), "lora_alloc", err.msg);
    wt_lora_randomize(&lora, 11, 0.02f); /* B != 0: the adapter changes the outputs */
    int fails = 0;
    float *a = forward_logits(ref, &lora, ids, V), *b = forward_logits(bf, &lora, ids, V);
    const int64_t n = (int64_t)N_PROMPTS * PROMPT_LEN * V;
    const double rel = tu_rel_norm_err(b, a, n);
    if (!(rel <= g_bound.max_rel))
        fails += tu_fail("%s: %s logits norm-wise rel err %.3g > %.3g", label, g_bound.name,
                         rel, g_bound.max_rel);
    if (g_bound.f != WEIGHT_BF16 && !(rel >= 1e-4))
        fails += tu_fail("%s: %s logits rel err %.3g: were the weights quantized at all?",
                         label, g_bound.name, rel);
    int32_t ga[N_PROMPTS * N_NEW], gb[N_PROMPTS * N_NEW];
    generate(ref, &lora, ids, ga);
    generate(bf, &lora, ids, gb);
    int free_same = 0;
    for (int i = 0; i < N_PROMPTS * N_NEW; i++)
        free_same += ga[i] == gb[i];
    const int same = teacher_forced_same(bf, &lora, ids, ga, V);
    const double frac = (double)same / (N_PROMPTS * N_NEW);
    if (frac < g_bound.min_same)
        fails += tu_fail("%s: %s greedy tokens %.1f%% identical to fp32's, want >= %.0f%%",
                         label, g_bound.name, 100 * frac, 100 * g_bound.min_same);
    tu_note("%s: %s vs fp32 logits rel err %.2e; greedy tokens identical %d/%d (%.1f%%) "
            "teacher-forced, %d/%d free-running", label, g_bound.name, rel, same,
            N_PROMPTS * N_NEW,
            100 * frac, free_same, N_PROMPTS * N_NEW);
    free(a);
    free(b);
    lora_free(&lora);
    model_close(ref);
    model_close(bf);
    return fails;
}

static void convert_stories(const char *shared, const char *out) {
    Err err = {{0}};
    char bin[4096], tok[4096];
    snprintf(bin, sizeof bin, "%s/models/stories260K/stories260K.bin", shared);
    snprintf(tok, sizeof tok, "%s/models/stories260K/tok512.bin", shared);
    mkdir(out, 0755);
    L2cModel *l2c = l2c_open(bin, &err);
    tu_check_rc(l2c == NULL, "l2c_open", err.msg);
    tu_check_rc(l2c_write_safetensors(l2c, out, &err), "l2c_write_safetensors", err.msg);
    tu_check_rc(l2c_tokenizer_convert(tok, l2c_config(l2c)->vocab_size, out, &err),
                "l2c_tokenizer_convert", err.msg);
    tu_check_rc(l2c_write_configs(l2c, out, &err), "l2c_write_configs", err.msg);
    l2c_close(l2c);
}

/* model.weights q4_k on a safetensors model: refused, naming the choices. */
static int check_refusal(const char *dir) {
    const ModelOptions mo = {.full_logits = 1, .max_tokens = 8, .max_seqs = 1, .max_pos = 8,
                             .weight_format = WEIGHT_Q4_K};
    Err err = {{0}};
    Model *m = model_open(dir, ops_cpu(), &mo, &err);
    const int ok = m == NULL && strstr(err.msg, "model.weights q4_k cannot be made from the "
                                                "floats of a safetensors model") != NULL;
    model_close(m);
    return tu_check(ok, "q4_k from safetensors refused (got \"%s\")", err.msg);
}

int main(int argc, char **argv) {
    int fails = 0;
    const int shared_run = argc > 1 && strcmp(argv[1], "shared") == 0;
    if (argc > 1 + shared_run) {
        int found = 0;
        for (size_t i = 0; i < sizeof BOUNDS / sizeof BOUNDS[0]; i++)
            if (strcmp(argv[1 + shared_run], BOUNDS[i].name) == 0)
                g_bound = BOUNDS[i], found = 1;
        if (!found)
            return tu_report(tu_fail("unknown format %s", argv[1 + shared_run]));
    }
    if (shared_run) {
        const char *shared = tu_shared_dir();
        if (shared == NULL)
            tu_skip("../shared is absent (stories260K and SmolLM2 live there)");
        /* one directory per format: the _shared variants run side by side under ctest -j */
        char name[64];
        snprintf(name, sizeof name, "%s_stories260K", g_bound.name);
        char stories[4096];
        snprintf(stories, sizeof stories, "%s", tu_path(tu_tmp_dir(), name));
        convert_stories(shared, stories);
        fails += check_model("stories260K", stories);
        char gguf[4096];
        snprintf(gguf, sizeof gguf,
                 "%s/models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf", shared);
        snprintf(name, sizeof name, "%s_smollm2", g_bound.name);
        const char *smol = tu_path(tu_tmp_dir(), name);
        Err err = {{0}};
        tu_check_rc(gguf_convert(gguf, smol, DTYPE_F32, NULL, NULL, &err), "gguf_convert",
                    err.msg);
        fails += check_model("SmolLM2-135M", smol);
    } else {
        const char *names[] = {"llama_gqa", "qwen2_bias"};
        for (int i = 0; i < 2; i++) {
            char dir[4096];
            snprintf(dir, sizeof dir, "%s/tests/data/golden/%s", tu_source_dir(), names[i]);
            fails += check_model(names[i], dir);
            if (i == 0)
                fails += check_refusal(dir);
        }
    }
    return tu_report(fails);
}
