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
    {"eval", cmd_eval, "eval PREDICTIONS.jsonl --metric rouge|bleu|gsm8k|logiqa|metamath",
     "score predictions with the paper's metrics"},
    {"inspect", cmd_inspect, "inspect CKPT.h5",
     "summarize a checkpoint: step, samples, selected %, ppl histogram, adapter, job"},
    {"export", cmd_export, "export CKPT.h5 --peft DIR [--base MODEL]",
     "write a checkpoint's adapter as a PEFT directory (PEFT, vLLM)"},
    {"tokenize", cmd_tokenize, "tokenize MODEL_DIR [--special]",
     "encode one JSON string per stdin line into a JSON array of token ids"},
    {"bench", cmd_bench, "bench [--model DIR | --random NAME] [options]",
     "measure forward, update-step and generation tokens/s"},
};
#define N_COMMANDS ((int)(sizeof COMMANDS / sizeof COMMANDS[0]))

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
    for (int i = 0; i < N_COMMANDS; i++)
        if (strcmp(argv[1], COMMANDS[i].name) == 0)
            return COMMANDS[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "tlm: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return 2;
}
