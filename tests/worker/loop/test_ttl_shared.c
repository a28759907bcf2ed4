/* tests/worker/loop/test_ttl_shared.c -- `tlm run` on a real (tiny) trained model from ../shared:
 * stories260K (llama2.c) converted with `tlm convert`, its SentencePiece-style tokenizer
 * through the llama2 template, over the first 32 records of the shared Alpaca demo set (a
 * JSON array, so the other dataset format too). Checks one prediction per record in
 * stream order, labels = the records' outputs (cut by cutoff_len as the reference cuts
 * them), and that adapting lowers the input ppl. Label shared: skipped without ../shared. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/testutil.h"

#define N_SAMPLES 32

int main(void) {
    const char *shared = tu_shared_dir();
    if (shared == NULL)
        tu_skip("../shared is absent (stories260K and the Alpaca demo set live there)");
    const char *tmp = tu_tmp_dir();
    char model[4096], out[4096], data[4096];
    snprintf(model, sizeof model, "%s/ttl_stories260K_hf", tmp);
    snprintf(out, sizeof out, "%s/ttl_stories_out", tmp);
    tu_fresh_dir(out);
    snprintf(data, sizeof data, "%s/data/instruct/alpaca_en_demo.json", shared);
    if (tu_system("'%s' convert llama2c '%s/models/stories260K/stories260K.bin' "
                  "'%s/models/stories260K/tok512.bin' '%s' > /dev/null", tu_tlm_bin(), shared,
                  shared, model) != 0) {
        printf("FAIL: tlm convert\n");
        return 1;
    }
    /* threshold 3 and a moderate lr: a trained model's ppl on off-domain prompts */
    if (tu_system("cd '%s' && '%s' run jobs/demo.yaml --set model.path='%s' "
                  "--set model.template=llama2 --set data.path='%s' --set data.max_samples=%d "
                  "--set method.threshold=3.0 --set optim.lr=5.0e-4 --set output.dir='%s'",
                  tu_source_dir(), tu_tlm_bin(), model, data, N_SAMPLES, out) != 0) {
        printf("FAIL: tlm run\n");
        return 1;
    }
    int fails = 0;
    json_t *records = json_load_file(data, 0, NULL);
    size_t n_bytes;
    char *text = tu_read_file(tu_path(out, "generated_predictions.jsonl"), &n_bytes);
    if (!json_is_array(records) || text == NULL) {
        printf("FAIL: cannot read %s or the predictions\n", data);
        return 1;
    }
    int n = 0;
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n"), n++) {
        json_t *p = json_loads(line, 0, NULL);
        const char *label = json_string_value(json_object_get(p, "label"));
        const char *want = json_string_value(json_object_get(json_array_get(records, (size_t)n),
                                                             "output"));
        /* cutoff_len may cut a long label: it must then be a prefix of the output */
        if (label == NULL || want == NULL || strncmp(want, label, strlen(label)) != 0 ||
            !json_is_string(json_object_get(p, "predict"))) {
            printf("FAIL: prediction %d: label \"%.60s\" is not record %d's output\n", n,
                   label ? label : "(none)", n);
            fails++;
        }
        json_decref(p);
    }
    if (n != N_SAMPLES) {
        printf("FAIL: %d predictions, want %d\n", n, N_SAMPLES);
        fails++;
    }
    json_t *sum = json_load_file(tu_path(out, "summary.json"), 0, NULL);
    const double first = json_number_value(json_object_get(sum, "ppl_first_10pct"));
    const double last = json_number_value(json_object_get(sum, "ppl_last_10pct"));
    printf("stories260K: mean input ppl first 10%% %.1f -> last 10%% %.1f\n", first, last);
    if (!(last < first)) {
        printf("FAIL: no ppl drop\n");
        fails++;
    }
    json_decref(sum);
    json_decref(records);
    free(text);
    return fails == 0 ? 0 : 1;
}
