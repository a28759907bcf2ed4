/* launcher/cmd_bench.c -- `tlm bench [options]`: forward, update-step and generation
 * tokens/s of a model (launcher/bench/bench.h measures; this file picks the models, fixes the
 * thread count, and prints). With no model argument it measures stories260K from the
 * shared data (converted into a temp dir) when present, then the llama-4x512 random
 * model. Thread counts: OpenBLAS (pthread build) and libgomp read OPENBLAS_NUM_THREADS /
 * OMP_NUM_THREADS once, when the process loads them, and only kernels/ may call their
 * APIs; so --threads N sets both variables and re-executes tlm once. */
#include "launcher/commands.h"

#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/convert/gguf_source.h"
#include "io/convert/llama2c.h"
#include "io/convert/llama2c_tokenizer.h"
#include "io/model/model_config.h"
#include "kernels/cpu/blas.h"
#include "launcher/bench/bench.h"
#include "launcher/bench/bench_gpu.h"
#include "launcher/bench/bench_model.h"
#include "launcher/bench/bench_report.h"

/* The option table: getopt_long's array and the help text are both built from it. */
typedef struct BenchOption {
    const char *name, *arg, *help; /* arg NULL: a flag */
} BenchOption;

static const BenchOption k_options[] = {
    {"model", "DIR", "a Hugging Face model directory (e.g. one `tlm convert` made) or a\n"
                     "                           .gguf file, read in place"},
    {"random", "NAME", "a seeded random model: llama-4x512 (L 4, D 512, H 8, KVH 4, F 1376,\n"
                       "                           V 32000, untied), llama-2x64 (tiny), llama3-8b\n"
                       "                           (Llama-3-8B's shape, BF16, 16 GB: the GPU bench)\n"
                       "                           or llama-2x64-bf16"},
    {"save-model", "DIR", "write the random model here (kept) instead of a temp dir"},
    {"backend", "cpu|cuda|auto", "op backend (default auto)"},
    {"threads", "N", "OpenMP + OpenBLAS threads (default: the environment's)"},
    {"tokens", "T", "tokens per sequence and per generation prompt (default 128)"},
    {"batch", "B", "sequences of the forward, prompts of batched generation (default 4)"},
    {"new-tokens", "N", "greedy tokens generated per prompt (default 64)"},
    {"repeat", "R", "timed runs per workload after one warm-up; medians (default 5)"},
    {"logit-rows", "C", "rows of each lm_head + cross-entropy chunk (default 256, at\n"
                        "                           least B): the logits buffer holds C x V"},
    {"online", "S", "also online TLM end to end: S prompts of AdaptEval-like lengths (cut\n"
                    "                           to T) in stream batches of B, each answered\n"
                    "                           (N new tokens) then trained on (tlm, batch 1)"},
    {"cpu-weights", "FMT", "storage of the frozen matrices: fp32 (default), bf16 (half\n"
                           "                           the bytes a decode step reads), or q8_0,\n"
                           "                           q4_0, q4_1, nf4 quantized at load; a .gguf\n"
                           "                           --model keeps the file's own types unless given"},
    {"gradient-checkpointing", NULL, "the update step keeps each layer's input only and\n"
                                     "                           recomputes its activations in the\n"
                                     "                           backward (optim.gradient_checkpointing)"},
    {"json", NULL, "also print one JSON line per model"},
    {"ceilings", NULL, "measure the matmul peak and copy bandwidth first, then print the\n"
                       "                           update step's MFU and each decode's share of\n"
                       "                           the memory roofline (default on backend cuda)"},
    {"profile", NULL, "also break each workload down by op group, matmul shape (GFLOP/s\n"
                      "                           vs the same op alone and a 1024^3 matmul)\n"
                      "                           and decode bytes/s vs the copy bandwidth"},
    {"help", NULL, "this text"},
};
#define N_OPTIONS ((int)(sizeof k_options / sizeof k_options[0]))

static void usage(FILE *out) {
    fputs("usage: tlm bench [--model DIR | --random NAME] [options]\n"
          "  Measures, per model: forward tokens/s (B packed sequences of T tokens, no\n"
          "  backward), update-step tokens/s (one TLM step on T tokens: train forward,\n"
          "  backward into LoRA q_proj,v_proj r8, clip, AdamW) and greedy generation\n"
          "  tokens/s (N new tokens, KV cache, batch 1 and batch B). Without --model or\n"
          "  --random: stories260K from $TLM_SHARED_DIR (default ../shared) when present,\n"
          "  then llama-4x512.\n", out);
    for (int i = 0; i < N_OPTIONS; i++) {
        char left[48];
        snprintf(left, sizeof left, "--%s%s%s", k_options[i].name, k_options[i].arg ? " " : "",
                 k_options[i].arg ? k_options[i].arg : "");
        fprintf(out, "  %-24s %s\n", left, k_options[i].help);
    }
}

typedef struct BenchArgs {
    const char *model, *random, *save, *backend;
    int threads, json, ceilings, weights_given;
    BenchConfig cfg;
} BenchArgs;

/* A positive int option value, or -1 after printing why not. */
static long parse_positive(const char *name, const char *s) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 1 || v > 1000000) {
        fprintf(stderr, "tlm bench: --%s: expected a positive integer, got \"%s\"\n", name, s);
        return -1;
    }
    return v;
}

/* Fills *a from argv; returns -1 to exit 0 (--help), 2 on a usage error, else 0. */
static int parse_args(int argc, char **argv, BenchArgs *a) {
    struct option lo[N_OPTIONS + 1];
    for (int i = 0; i < N_OPTIONS; i++)
        lo[i] = (struct option){k_options[i].name, k_options[i].arg ? required_argument
                                                                      : no_argument, NULL, i};
    lo[N_OPTIONS] = (struct option){0, 0, 0, 0};
    *a = (BenchArgs){.backend = "auto",
                     .cfg = {.n_tokens = 128, .batch = 4, .new_tokens = 64, .repeat = 5,
                             .seed = 42}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c < 0 || c >= N_OPTIONS) {
            usage(stderr);
            return 2;
        }
        const char *name = k_options[c].name;
        long v = 1;
        if (!strcmp(name, "help")) { usage(stdout); return -1; }
        else if (!strcmp(name, "model")) a->model = optarg;
        else if (!strcmp(name, "random")) a->random = optarg;
        else if (!strcmp(name, "save-model")) a->save = optarg;
        else if (!strcmp(name, "backend")) a->backend = optarg;
        else if (!strcmp(name, "json")) a->json = 1;
        else if (!strcmp(name, "ceilings")) a->ceilings = 1;
        else if (!strcmp(name, "profile")) a->cfg.profile = 1;
        else if (!strcmp(name, "gradient-checkpointing")) a->cfg.gradient_checkpointing = 1;
        else if (!strcmp(name, "cpu-weights")) {
            WeightFormat f = WEIGHT_ELEM;
            if (strcmp(optarg, "fp32") && weight_format_parse(optarg, &f) != 0) {
                fprintf(stderr, "tlm bench: --cpu-weights: expected fp32, bf16, q8_0, q4_0, "
                                "q4_1 or nf4, got \"%s\"\n", optarg);
                return 2;
            }
            a->cfg.weight_format = f;
            a->weights_given = 1;
        }
        else if ((v = parse_positive(name, optarg)) < 0) return 2;
        else if (!strcmp(name, "threads")) a->threads = (int)v;
        else if (!strcmp(name, "tokens")) a->cfg.n_tokens = v;
        else if (!strcmp(name, "batch")) a->cfg.batch = (int32_t)v;
        else if (!strcmp(name, "new-tokens")) a->cfg.new_tokens = (int32_t)v;
        else if (!strcmp(name, "repeat")) a->cfg.repeat = (int32_t)v;
        else if (!strcmp(name, "logit-rows")) a->cfg.logit_rows = v;
        else if (!strcmp(name, "online")) a->cfg.online = (int32_t)v;
    }
    if (optind < argc) {
        fprintf(stderr, "tlm bench: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    if (a->model != NULL && a->random != NULL) {
        fprintf(stderr, "tlm bench: give --model or --random, not both\n");
        return 2;
    }
    if (a->random != NULL && bench_model_find(a->random) == NULL) {
        fprintf(stderr, "tlm bench: --random %s: no such model (%s)\n", a->random,
                bench_model_names());
        return 2;
    }
    if (a->save != NULL && a->model != NULL) {
        fprintf(stderr, "tlm bench: --save-model writes a random model; not with --model\n");
        return 2;
    }
    if (a->model != NULL && !a->weights_given && model_src_is_gguf(a->model)) {
        a->cfg.weight_file_types = 1; /* as model.weights auto does in a job */
        a->cfg.weight_format = model_file_weight_format(a->model);
    }
    return 0;
}

/* With --threads N and an environment that says otherwise: set OMP_NUM_THREADS and
 * OPENBLAS_NUM_THREADS to N and re-execute (the libraries read them only at load). Returns
 * only when no re-execution was needed, or 1 after printing why it failed. */
static int pin_threads(int threads, int argc, char **argv) {
    char want[16];
    snprintf(want, sizeof want, "%d", threads);
    const char *omp = getenv("OMP_NUM_THREADS"), *blas = getenv("OPENBLAS_NUM_THREADS");
    if (omp != NULL && blas != NULL && !strcmp(omp, want) && !strcmp(blas, want))
        return 0;
    setenv("OMP_NUM_THREADS", want, 1);
    setenv("OPENBLAS_NUM_THREADS", want, 1);
    char **args = calloc((size_t)argc + 2, sizeof *args);
    if (args == NULL) {
        fprintf(stderr, "tlm bench: out of memory\n");
        return 1;
    }
    args[0] = "tlm";
    for (int i = 0; i < argc; i++) /* argv[0] is "bench" */
        args[i + 1] = argv[i];
    execv("/proc/self/exe", args); /* returns only on failure */
    perror("tlm bench: re-executing with the thread variables set");
    free(args);
    return 1;
}

/* Removes dir's entries (a flat directory this file filled) and dir itself. */
static void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *e;
        char path[4096];
        while ((e = readdir(d)) != NULL)
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
                snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path)
                unlink(path);
        closedir(d);
    }
    rmdir(dir);
}

/* A fresh private directory under $TMPDIR (default /tmp) into buf (host, n_bytes). */
static int make_temp_dir(char *buf, size_t n_bytes, Err *err) {
    const char *tmp = getenv("TMPDIR");
    snprintf(buf, n_bytes, "%s/tlm-bench-XXXXXX", tmp != NULL && *tmp ? tmp : "/tmp");
    if (mkdtemp(buf) == NULL)
        return err_set(err, "cannot create a temp dir %s", buf);
    return 0;
}

/* The llama2.c conversion of `tlm convert llama2c` into dir (existing). */
static int convert_stories(const char *bin, const char *tok, const char *dir, Err *err) {
    L2cModel *m = l2c_open(bin, err);
    if (m == NULL)
        return -1;
    int rc = l2c_write_safetensors(m, dir, err);
    if (rc == 0)
        rc = l2c_tokenizer_convert(tok, l2c_config(m)->vocab_size, dir, err);
    if (rc == 0)
        rc = l2c_write_configs(m, dir, err);
    l2c_close(m);
    return rc;
}

/* The 1-minute load average: other work on the machine skews every number. */
static double load_avg(void) {
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f != NULL) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

/* Writes s as a JSON string (quotes, backslashes and control bytes escaped). */
static void json_str(const char *s) {
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", (unsigned char)*s);
        else
            putchar(*s);
    }
    putchar('"');
}

/* Measures one model directory and prints its lines; returns 0 or 1. */
static int bench_one(const BenchArgs *a, const Ops *ops, const char *label, const char *dir) {
    ModelConfig mc;
    BenchResult r;
    BenchProfile prof;
    Err err = {{0}};
    const BenchConfig *k = &a->cfg;
    /* the thread count as the runtime read it; only a plain number goes into the JSON */
    const char *threads = getenv("OMP_NUM_THREADS");
    if (threads != NULL && (*threads == '\0' || strspn(threads, "0123456789") != strlen(threads)))
        threads = NULL;
    /* the ceilings first, on an idle device (launcher/bench/bench_gpu.h) */
    const int on_gpu = strcmp(ops->name, "cuda") == 0;
    BenchCeilings lim = {0};
    if (a->ceilings || on_gpu) {
        if (bench_ceilings(ops, on_gpu ? 8192 : 512, (size_t)(on_gpu ? 1024 : 64) << 20, &lim,
                           &err) != 0) {
            fprintf(stderr, "tlm bench: ceilings: %s\n", err.msg);
            return 1;
        }
        bench_print_ceilings(ops, &lim);
    }
    const double load0 = load_avg();
    if (model_src_config(dir, &mc, &err) != 0 || bench_run(dir, ops, k, &r, &prof, &err) != 0) {
        fprintf(stderr, "tlm bench: %s: %s\n", label, err.msg);
        return 1;
    }
    const double load1 = load_avg();
    printf("model %s%s%s%s: L %lld, D %lld, H %lld, KVH %lld, F %lld, V %lld\n", label,
           strcmp(label, dir) ? " (" : "", strcmp(label, dir) ? dir : "",
           strcmp(label, dir) ? ")" : "",
           (long long)mc.n_layers, (long long)mc.dim, (long long)mc.n_heads,
           (long long)mc.n_kv_heads, (long long)mc.ffn_dim, (long long)mc.vocab_size);
    printf("  backend %s%s%s, threads %s, T %lld, B %d, N %d, medians of %d, load %.2f -> %.2f\n",
           ops->name, k->weight_format == WEIGHT_ELEM ? "" : " weights ",
           k->weight_format == WEIGHT_ELEM ? "" : weight_format_name(k->weight_format),
           threads ? threads : "default", (long long)k->n_tokens, k->batch,
           k->new_tokens, k->repeat, load0, load1);
    BlasInfo blas;
    char blas_line[384];
    blas_info(&blas);
    blas_describe(&blas, blas_line, sizeof blas_line);
    printf("  blas: %s\n", blas_line);
    printf("  %-40s %12.1f tok/s  %9.4f s\n", "forward (B x T, no backward)", r.fwd_tok_s,
           r.fwd_s);
    printf("  %-40s %12.1f tok/s  %9.4f s\n",
           k->gradient_checkpointing ? "update step (T, recomputed activations)"
                                     : "update step (T, LoRA q,v r8, AdamW)",
           r.step_tok_s, r.step_s);
    printf("  %-40s %12.1f tok/s  %9.4f s\n", "generation, batch 1", r.gen1_tok_s, r.gen1_s);
    char gb[40];
    snprintf(gb, sizeof gb, "generation, batch %d", k->batch);
    printf("  %-40s %12.1f tok/s  %9.4f s\n", gb, r.genb_tok_s, r.genb_s);
    if (k->online > 0)
        bench_print_online(&r.online);
    if (a->ceilings || on_gpu) /* weights (which dominate the bytes) at their stored size */
        bench_print_efficiency(&mc, k, &r, &lim,
                               k->weight_format == WEIGHT_ELEM
                                   ? (double)ops->elem_bytes
                               : k->weight_format == WEIGHT_BF16
                                   ? 2.0
                                   : (double)weight_block_bytes(k->weight_format) /
                                         (double)weight_block_elems(k->weight_format));
    if (k->profile)
        bench_print_profile(k, &prof);
    if (a->json) {
        printf("{\"model\": ");
        json_str(label);
        printf(", \"dir\": ");
        json_str(dir);
        printf(", \"blas\": ");
        json_str(blas.library);
        printf(", \"blas_family\": ");
        json_str(blas.family);
        printf(", \"cpu\": ");
        json_str(blas.cpu.brand);
        printf(", \"weights\": \"%s\"", k->weight_format == WEIGHT_ELEM
                                              ? "elem" : weight_format_name(k->weight_format));
        printf(", \"gradient_checkpointing\": %s", k->gradient_checkpointing ? "true" : "false");
        printf(", \"backend\": \"%s\", \"threads\": %s, \"T\": %lld, \"B\": %d, \"N\": %d, "
               "\"R\": %d, \"seed\": %llu, \"forward_tok_s\": %.6g, \"step_tok_s\": %.6g, "
               "\"gen1_tok_s\": %.6g, \"genb_tok_s\": %.6g, \"forward_s\": %.6g, "
               "\"step_s\": %.6g, \"gen1_s\": %.6g, \"genb_s\": %.6g, \"mean_ce\": %.6g, "
               "\"grad_norm\": %.6g, \"load_before\": %.2f, \"load_after\": %.2f",
               ops->name, threads ? threads : "null", (long long)k->n_tokens, k->batch,
               k->new_tokens, k->repeat, (unsigned long long)k->seed, r.fwd_tok_s,
               r.step_tok_s, r.gen1_tok_s, r.genb_tok_s, r.fwd_s, r.step_s, r.gen1_s, r.genb_s,
               r.mean_ce, r.grad_norm, load0, load1);
        if (k->online > 0)
            printf(", \"online\": {\"prompts\": %d, \"prompt_tokens\": %lld, \"gen_tokens\": "
                   "%lld, \"steps\": %lld, \"total_s\": %.6g, \"gen_s\": %.6g, "
                   "\"update_s\": %.6g}", r.online.cfg.prompts,
                   (long long)r.online.prompt_tokens, (long long)r.online.gen_tokens,
                   (long long)r.online.steps, r.online.total_s, r.online.gen_s,
                   r.online.update_s);
        if (k->profile) {
            printf(", \"profile\": ");
            bench_json_profile(&prof);
        }
        printf("}\n");
    }
    fflush(stdout);
    return 0;
}

/* Writes the random model name into --save-model DIR or a temp dir, measures it, and
 * removes the temp dir. */
static int bench_random(const BenchArgs *a, const Ops *ops, const char *name) {
    char dir[4096];
    Err err = {{0}};
    if (a->save != NULL) {
        snprintf(dir, sizeof dir, "%s", a->save);
        if (mkdir(dir, 0777) != 0 && access(dir, W_OK) != 0) {
            fprintf(stderr, "tlm bench: --save-model %s: cannot create or write it\n", dir);
            return 1;
        }
    } else if (make_temp_dir(dir, sizeof dir, &err) != 0) {
        fprintf(stderr, "tlm bench: %s\n", err.msg);
        return 1;
    }
    int rc = 0;
    if (bench_model_write(bench_model_find(name), a->cfg.seed, dir, &err) != 0) {
        fprintf(stderr, "tlm bench: %s\n", err.msg);
        rc = 1;
    }
    if (rc == 0)
        rc = bench_one(a, ops, name, dir);
    if (a->save == NULL)
        remove_dir(dir);
    return rc;
}

/* stories260K from the shared data, when present (else a note and 0). */
static int bench_stories(const BenchArgs *a, const Ops *ops) {
    const char *shared = getenv("TLM_SHARED_DIR");
    char bin[4096], tok[4096], dir[4096];
    snprintf(bin, sizeof bin, "%s/models/stories260K/stories260K.bin", shared ? shared : "../shared");
    snprintf(tok, sizeof tok, "%s/models/stories260K/tok512.bin", shared ? shared : "../shared");
    if (access(bin, R_OK) != 0 || access(tok, R_OK) != 0) {
        fprintf(stderr, "tlm bench: %s not found: skipping stories260K\n", bin);
        return 0;
    }
    Err err = {{0}};
    int rc = 0;
    if (make_temp_dir(dir, sizeof dir, &err) != 0 || convert_stories(bin, tok, dir, &err) != 0) {
        fprintf(stderr, "tlm bench: stories260K: %s\n", err.msg);
        rc = 1;
    }
    if (rc == 0)
        rc = bench_one(a, ops, "stories260K", dir);
    remove_dir(dir);
    return rc;
}

int cmd_bench(int argc, char **argv) {
    BenchArgs a;
    int rc = parse_args(argc, argv, &a);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    if (a.threads > 0 && pin_threads(a.threads, argc, argv) != 0)
        return 1;
    Err err = {{0}};
    const Ops *ops = ops_select(a.backend, 0, &err);
    if (ops == NULL) {
        fprintf(stderr, "tlm bench: --backend %s: %s\n", a.backend, err.msg);
        return 1;
    }
    if (a.model != NULL)
        return bench_one(&a, ops, a.model, a.model);
    if (a.random != NULL)
        return bench_random(&a, ops, a.random);
    rc = bench_stories(&a, ops);
    return bench_random(&a, ops, "llama-4x512") != 0 ? 1 : rc;
}
