/* launcher/main.c -- the tlm executable: dispatches to one subcommand. The help text and
 * the dispatcher read the same table, so they cannot drift. */
#include <stdio.h>
#include <string.h>

#include "launcher/commands.h"

typedef struct Command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *usage;
    const char *summary;
} Command;

static const Command COMMANDS[] = {
    {"run", cmd_run, "run JOB.yaml [--set key=value]... [--resume auto|PATH]",
     "test-time learning on a job's stream: adapt, answer, score"},
    {"convert", cmd_convert, "convert llama2c MODEL.bin TOKENIZER.bin OUTDIR",
     "turn a llama2.c checkpoint and tokenizer into a Hugging Face model directory"},
    {"convert", cmd_convert, "convert gguf MODEL.gguf OUTDIR [--dtype f32|bf16]",
     "turn a llama.cpp GGUF model (llama, qwen2) into a Hugging Face model directory"},
    {"eval", cmd_eval, "eval PREDICTIONS.jsonl|OUT_DIR --metric rouge|bleu|gsm8k|logiqa|metamath|all",
     "score predictions with the paper's metrics"},
    {"inspect", cmd_inspect, "inspect CKPT.h5",
     "summarize a checkpoint: step, samples, selected %, ppl histogram, adapter, job"},
    {"report", cmd_report, "report OUT_DIR [--base OUT_DIR2] [-o DIR]",
     "draw a run (ppl over the stream, selection, loss, speed, metrics) as HTML + PNGs"},
    {"export", cmd_export, "export CKPT.h5 --peft DIR [--base MODEL]",
     "write a checkpoint's adapter as a PEFT directory (PEFT, vLLM)"},
    {"tokenize", cmd_tokenize, "tokenize MODEL_DIR [--special]",
     "encode one JSON string per stdin line into a JSON array of token ids"},
    {"bench", cmd_bench, "bench [--model DIR | --random NAME] [options]",
     "measure forward, update-step and generation tokens/s"},
    {"version", cmd_version, "version (or --version)",
     "version, commit, backends, BLAS kernel family, MPI and NCCL versions"},
};
#define N_COMMANDS ((int)(sizeof COMMANDS / sizeof COMMANDS[0]))

/* Edit distance (insert, delete, substitute, swap neighbours) between a and b, capped at
 * 9: enough to rank command names, which are short. */
static int edit_distance(const char *a, const char *b) {
    enum { CAP = 9, MAXLEN = 32 };
    const int n = (int)strlen(a), m = (int)strlen(b);
    if (n >= MAXLEN || m >= MAXLEN)
        return CAP;
    int d[MAXLEN][MAXLEN];
    for (int i = 0; i <= n; i++)
        for (int j = 0; j <= m; j++) {
            if (i == 0 || j == 0) {
                d[i][j] = i + j;
                continue;
            }
            int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[n][m] < CAP ? d[n][m] : CAP;
}

/* The command nearest to a mistyped one, or NULL when none is close (at most 2 edits, and
 * fewer than half the typed word). */
static const char *nearest_command(const char *typed) {
    const char *best = NULL;
    int best_d = 3;
    for (int i = 0; i < N_COMMANDS; i++) {
        const int d = edit_distance(typed, COMMANDS[i].name);
        if (d < best_d && 2 * d < (int)strlen(typed) + 1) {
            best = COMMANDS[i].name;
            best_d = d;
        }
    }
    return best;
}

static void usage(FILE *out) {
    fprintf(out, "tlm -- test-time learning for LLMs\n\nusage:\n");
    for (int i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  tlm %-60s %s\n", COMMANDS[i].usage, COMMANDS[i].summary);
    fprintf(out, "\n  tlm COMMAND --help   for the options of one command\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)
        return cmd_version(1, argv + 1);
    for (int i = 0; i < N_COMMANDS; i++)
        if (strcmp(argv[1], COMMANDS[i].name) == 0)
            return COMMANDS[i].fn(argc - 1, argv + 1);
    const char *near = nearest_command(argv[1]);
    if (near != NULL) {
        fprintf(stderr, "tlm: unknown command \"%s\"; did you mean \"%s\"?\n", argv[1], near);
        return 2;
    }
    fprintf(stderr, "tlm: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return 2;
}
