/* tests/worker/loop/test_ttl_effect.c -- the TLM effect on a real model: online TLM with
 * stories260K (converted by `tlm convert`) on the first 200 samples of the AdaptEval GSM8K
 * stream (two stream batches of 100), template none, with jobs/stories260k-gsm8k-online.yaml
 * and 8 generated tokens (generation is not what is measured, and is most of the time).
 * The mean input ppl of the last 50 samples, as scored by the adapted model when each came
 * up, must be at least 30% below the base model's on the same samples (a `none` run of the
 * same job scores every sample with the unadapted model). Measured: 52.2 -> 16.3 (69%
 * lower), ~30 s of CPU for both runs. Label shared. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/testutil.h"

#define N_SAMPLES 200
#define N_TAIL 50

/* Mean ppl of samples [N_SAMPLES - N_TAIL, N_SAMPLES) from a scores.jsonl; -1 on error. */
static double tail_mean_ppl(const char *path) {
    char *text = tu_read_file(path, NULL);
    if (text == NULL)
        return -1;
    double sum = 0;
    int seen = 0, lines = 0;
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n"), lines++) {
        json_t *row = json_loads(line, 0, NULL);
        const json_int_t sample = json_integer_value(json_object_get(row, "sample"));
        if (sample >= N_SAMPLES - N_TAIL) {
            sum += json_number_value(json_object_get(row, "ppl"));
            seen++;
        }
        json_decref(row);
    }
    free(text);
    if (lines != N_SAMPLES || seen != N_TAIL) {
        printf("FAIL: %s: %d rows (%d in the tail), want %d (%d)\n", path, lines, seen,
               N_SAMPLES, N_TAIL);
        return -1;
    }
    return sum / seen;
}

static int run_job(const char *model, const char *method, const char *out) {
    printf("running method %s (log in %s.log)\n", method, out);
    fflush(stdout); /* a run killed by its timeout still shows how far it got */
    tu_fresh_dir(out);
    return tu_system("cd '%s' && '%s' run jobs/stories260k-gsm8k-online.yaml --set "
                     "model.path='%s' --set data.path='%s/data/adapteval/gsm8k_random_5k.json' "
                     "--set data.max_samples=%d --set generate.max_new_tokens=8 "
                     "--set method.name=%s --set output.dir='%s' 2> '%s.log'",
                     tu_source_dir(), tu_tlm_bin(), model, tu_shared_dir(), N_SAMPLES, method,
                     out, out);
}

int main(void) {
    const char *shared = tu_shared_dir();
    if (shared == NULL)
        tu_skip("../shared is absent (stories260K and the AdaptEval GSM8K set live there)");
    const char *tmp = tu_tmp_dir();
    char model[4096], out_tlm[4096], out_base[4096];
    snprintf(model, sizeof model, "%s/effect_stories260K_hf", tmp);
    snprintf(out_tlm, sizeof out_tlm, "%s/effect_tlm", tmp);
    snprintf(out_base, sizeof out_base, "%s/effect_none", tmp);
    if (tu_system("'%s' convert llama2c '%s/models/stories260K/stories260K.bin' "
                  "'%s/models/stories260K/tok512.bin' '%s' > /dev/null", tu_tlm_bin(), shared,
                  shared, model) != 0) {
        printf("FAIL: tlm convert\n");
        return 1;
    }
    if (run_job(model, "tlm", out_tlm) != 0 || run_job(model, "none", out_base) != 0) {
        printf("FAIL: tlm run (logs in %s.log and %s.log)\n", out_tlm, out_base);
        return 1;
    }
    const double adapted = tail_mean_ppl(tu_path(out_tlm, "scores.jsonl"));
    const double base = tail_mean_ppl(tu_path(out_base, "scores.jsonl"));
    if (adapted < 0 || base < 0)
        return 1;
    printf("stories260K on GSM8K, last %d of %d samples: mean input ppl base %.2f, adapted "
           "%.2f (%.1f%% lower; required >= 30%%)\n",
           N_TAIL, N_SAMPLES, base, adapted, 100.0 * (1.0 - adapted / base));
    if (!(adapted <= 0.7 * base)) {
        printf("FAIL: the adapted model's ppl is not 30%% below the base model's\n");
        return 1;
    }
    return 0;
}
