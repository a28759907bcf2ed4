/* launcher/cmd_export.c -- `tlm export CKPT.h5 --peft DIR [--base MODEL]`: the adapter of a
 * checkpoint as a PEFT directory (adapter_model.safetensors + adapter_config.json) that
 * Hugging Face PEFT 0.12 and later (PeftModel / AutoPeftModelForCausalLM.from_pretrained)
 * and vLLM (--lora-modules) load. The checkpoint is fully validated first (CRC included),
 * so a corrupt file is never exported. Exit status: 0 written, 1 unreadable checkpoint or write error, 2 bad usage. */
#include "launcher/commands.h"

#include <stdio.h>
#include <string.h>

#include "io/ckpt/ckpt.h"
#include "io/base/err.h"
#include "io/base/log.h"

static const char k_usage[] =
    "usage: tlm export CKPT.h5 --peft DIR [--base MODEL]\n"
    "  Writes DIR/adapter_model.safetensors (LoRA A/B under PEFT's keys, fp32) and\n"
    "  DIR/adapter_config.json with the keys PEFT 0.12 and later and vLLM accept;\n"
    "  DIR is created.\n"
    "  --base MODEL  base_model_name_or_path to record, as given (a directory or a hub\n"
    "                id; default: the checkpoint's model directory made absolute from\n"
    "                here, so AutoPeftModelForCausalLM finds it from any folder)\n";

/* Parses CKPT --peft DIR [--base M] (also --peft=DIR); 0 ok, 1 for --help, -1 bad usage. */
static int parse_args(int argc, char **argv, const char **ckpt, const char **dir,
                      const char **base) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return 1;
        if ((strcmp(a, "--peft") == 0 || strcmp(a, "--base") == 0) && i + 1 < argc)
            *(a[2] == 'p' ? dir : base) = argv[++i];
        else if (strncmp(a, "--peft=", 7) == 0)
            *dir = a + 7;
        else if (strncmp(a, "--base=", 7) == 0)
            *base = a + 7;
        else if (a[0] == '-') {
            fprintf(stderr, "tlm export: unknown or incomplete option \"%s\"\n", a);
            return -1;
        } else if (*ckpt == NULL)
            *ckpt = a;
        else {
            fprintf(stderr, "tlm export: unexpected argument \"%s\"\n", a);
            return -1;
        }
    }
    if (*ckpt == NULL || *dir == NULL) {
        fprintf(stderr, "tlm export: %s\n", *ckpt == NULL ? "no checkpoint given" : "--peft DIR is required");
        return -1;
    }
    return 0;
}

int cmd_export(int argc, char **argv) {
    const char *ckpt = NULL, *dir = NULL, *base = NULL;
    int p = parse_args(argc, argv, &ckpt, &dir, &base);
    if (p != 0) {
        fputs(k_usage, p > 0 ? stdout : stderr);
        return p > 0 ? 0 : 2;
    }
    CkptState st;
    Err err = {{0}};
    if (ckpt_read(ckpt, &st, &err) != 0) {
        log_error("tlm export: %s", err.msg);
        ckpt_free(&st);
        return 1;
    }
    int rc = ckpt_export_peft(&st, dir, base, &err);
    if (rc != 0) {
        log_error("tlm export: %s", err.msg);
    } else {
        int64_t n_params = 0;
        for (int i = 0; i < st.n_tensors; i++)
            n_params += st.tensors[i].n_rows * st.tensors[i].n_cols;
        printf("wrote %s/adapter_model.safetensors (%d tensors, %lld parameters, r %d, "
               "alpha %g) and %s/adapter_config.json from step %lld of %s\n",
               dir, st.n_tensors, (long long)n_params, st.lora_rank, st.lora_alpha, dir,
               (long long)st.step, ckpt);
    }
    ckpt_free(&st);
    return rc == 0 ? 0 : 1;
}
