/* tests/io/ckpt/test_ckpt_export.c -- `tlm export --peft` against PEFT itself. A checkpoint
 * is built from the golden adapter of tests/data/golden/llama_gqa (lora.init.<key>: r 8,
 * alpha 16, q,k,v,o,gate,up,down), written and read back through HDF5, exported, and
 * compared with what PEFT wrote and loaded (tests/ref/make_peft_golden.py ->
 * tests/data/peft/): (a) every tensor bit-equal to the golden under the same key, no
 * extra tensors; (b) adapter_config.json holds exactly the keys PEFT 0.12 and later and
 * vLLM accept (each one a LoraConfig field of PEFT 0.12 and of current PEFT), with the
 * values PEFT 0.12 and 0.21 save_pretrained wrote (target_modules as a set), equal to the
 * config both PEFTs loaded with logits equal to the golden ones, and an absolute
 * base_model_name_or_path (a relative model dir resolved from the working directory,
 * one that does not resolve refused naming --base). Then the two commands on such a
 * checkpoint: `tlm inspect` (the summary lines) and `tlm export` (the same files). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <math.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "io/ckpt/ckpt.h"
#include "io/model/safetensors.h"
#include "jobs/job.h"
#include "tests/io/ckpt/ckpt_fixture.h"
#include "tests/testutil.h"

#define PREFIX "lora.init."

/* The golden tensors as a CkptState (params borrowed from the mapping). */
static void golden_state(const SafeTensors *g, CkptState *st) {
    const char *targets[] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                             "down_proj"};
    *st = (CkptState){.lora_rank = 8, .lora_alpha = 16.0, .n_targets = 7, .dp_size = 1,
                      .step = 3, .lr = 5e-5};
    for (int i = 0; i < 7; i++)
        snprintf(st->targets[i], CKPT_TARGET_BYTES, "%s", targets[i]);
    st->tensors = calloc((size_t)st_count(g), sizeof *st->tensors);
    for (int i = 0; i < st_count(g); i++) {
        StTensor t = st_at(g, i);
        if (strncmp(t.name, PREFIX, strlen(PREFIX)) != 0)
            continue;
        assert_int_equal(t.dtype, DTYPE_F32);
        assert_int_equal(t.ndim, 2);
        CkptTensor *c = &st->tensors[st->n_tensors++];
        c->name = (char *)t.name + strlen(PREFIX);
        c->n_rows = t.shape[0];
        c->n_cols = t.shape[1];
        c->param = (float *)t.data;
    }
    static int64_t pos = 68;
    st->stream_pos = &pos;
    st->job_yaml = "model:\n  path: tests/data/golden/llama_gqa\n";
    snprintf(st->model_dir, sizeof st->model_dir, "tests/data/golden/llama_gqa");
}

/* (a): every golden tensor, bit-equal, and nothing else. */
static void check_tensors(const SafeTensors *g, const char *exported) {
    Err err = {{0}};
    SafeTensors *e = st_open(exported, &err);
    if (e == NULL)
        fail_msg("%s", err.msg);
    int n_golden = 0;
    for (int i = 0; i < st_count(g); i++) {
        StTensor want = st_at(g, i), got;
        if (strncmp(want.name, PREFIX, strlen(PREFIX)) != 0)
            continue;
        n_golden++;
        if (st_get(e, want.name + strlen(PREFIX), want.ndim, want.shape, &got, &err) != 0)
            fail_msg("%s", err.msg);
        assert_int_equal(got.dtype, DTYPE_F32);
        assert_int_equal(got.n_bytes, want.n_bytes);
        assert_int_equal(memcmp(got.data, want.data, want.n_bytes), 0);
    }
    assert_int_equal(n_golden, 2 * 2 * 7); /* 2 layers x 7 targets x (A, B) */
    assert_int_equal(st_count(e), n_golden);
    st_close(e);
}

static json_t *load_json(const char *path) {
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (j == NULL)
        fail_msg("%s:%d: %s", path, je.line, je.text);
    return j;
}

/* Elements of a JSON array of strings, as a set. */
static int same_string_set(const json_t *a, const json_t *b) {
    if (!json_is_array(a) || !json_is_array(b) || json_array_size(a) != json_array_size(b))
        return 0;
    for (size_t i = 0; i < json_array_size(a); i++) {
        int found = 0;
        for (size_t k = 0; k < json_array_size(b); k++)
            found |= json_equal(json_array_get(a, i), json_array_get(b, k));
        if (!found)
            return 0;
    }
    return 1;
}

/* The keys every consumer accepts (PEFT 0.12+, vLLM): issue 14's list. */
static const char *const ALLOWED[] = {
    "r", "lora_alpha", "lora_dropout", "target_modules", "bias", "task_type", "peft_type",
    "base_model_name_or_path", "fan_in_fan_out", "modules_to_save", "init_lora_weights",
    "inference_mode", "layers_to_transform", "layers_pattern", "rank_pattern",
    "alpha_pattern", "use_rslora", "use_dora", "revision"};
#define N_ALLOWED ((int)(sizeof ALLOWED / sizeof ALLOWED[0]))

static const char *peft_file(const char *name) {
    static char buf[4][1100];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, sizeof buf[0], "%s/tests/data/peft/%s", tu_source_dir(), name);
    return b;
}

static int in_string_array(const json_t *arr, const char *key) {
    for (size_t i = 0; i < json_array_size(arr); i++)
        if (strcmp(json_string_value(json_array_get(arr, i)), key) == 0)
            return 1;
    return 0;
}

/* Every key of got has want's value (want may lack it when optional); returns mismatches. */
static int same_values(const json_t *got, const char *want_path, int all_needed) {
    json_t *want = load_json(want_path);
    const char *key;
    json_t *v;
    int bad = 0;
    json_object_foreach((json_t *)got, key, v) {
        json_t *w = json_object_get(want, key);
        if (strcmp(key, "base_model_name_or_path") == 0 || (w == NULL && !all_needed))
            continue;
        int ok = w != NULL && (strcmp(key, "target_modules") == 0 ? same_string_set(v, w)
                                                                  : json_equal(v, w));
        if (!ok) {
            char *gs = json_dumps(v, JSON_ENCODE_ANY);
            char *ws = w ? json_dumps(w, JSON_ENCODE_ANY) : NULL;
            printf("  adapter_config.json key %s: got %s, %s has %s\n", key, gs, want_path,
                   ws ? ws : "(missing)");
            free(gs);
            free(ws);
            bad++;
        }
    }
    if (all_needed && json_object_size(want) != json_object_size(got)) {
        printf("  %s has %zu keys, the export %zu\n", want_path, json_object_size(want),
               json_object_size(got));
        bad++;
    }
    json_decref(want);
    return bad;
}

/* (b): exactly the allowed keys, each known to PEFT 0.12 and current PEFT, with PEFT's
 * values; equal to the config both PEFTs loaded; base_model as expected. */
static void check_config(const char *exported, const char *want_base) {
    json_t *got = load_json(exported);
    json_t *fields = load_json(peft_file("lora_config_fields.json"));
    int bad = 0;
    for (int i = 0; i < N_ALLOWED; i++)
        if (json_object_get(got, ALLOWED[i]) == NULL) {
            printf("  adapter_config.json: key %s missing\n", ALLOWED[i]);
            bad++;
        }
    const char *key;
    json_t *v;
    json_object_foreach(got, key, v) {
        int allowed = 0;
        for (int i = 0; i < N_ALLOWED; i++)
            allowed |= strcmp(key, ALLOWED[i]) == 0;
        const char *fk;
        json_t *list;
        int n_versions = 0;
        json_object_foreach(fields, fk, list) {
            if (!json_is_array(list))
                continue;
            n_versions++;
            if (!in_string_array(list, key)) {
                printf("  adapter_config.json key %s: not a LoraConfig field of %s\n", key, fk);
                bad++;
            }
        }
        assert_int_equal(n_versions, 2); /* peft 0.12.x and current */
        if (!allowed) {
            printf("  adapter_config.json key %s: not accepted by every consumer\n", key);
            bad++;
        }
    }
    assert_non_null(json_object_get(fields, "peft 0.12.0"));
    bad += same_values(got, peft_file("adapter_config.json"), 0);          /* PEFT 0.21 */
    bad += same_values(got, peft_file("adapter_config.peft-0.12.json"), 0); /* PEFT 0.12 */
    bad += same_values(got, peft_file("export_adapter_config.json"), 1);    /* both loaded */
    /* The keys PEFT and vLLM act on, spelled out so a regenerated golden cannot hide them. */
    assert_string_equal(json_string_value(json_object_get(got, "peft_type")), "LORA");
    assert_string_equal(json_string_value(json_object_get(got, "task_type")), "CAUSAL_LM");
    assert_int_equal(json_integer_value(json_object_get(got, "r")), 8);
    assert_int_equal(json_integer_value(json_object_get(got, "lora_alpha")), 16);
    assert_string_equal(json_string_value(json_object_get(got, "bias")), "none");
    assert_true(json_is_false(json_object_get(got, "fan_in_fan_out")));
    assert_true(json_is_false(json_object_get(got, "use_rslora")));
    assert_string_equal(json_string_value(json_object_get(got, "base_model_name_or_path")),
                        want_base);
    json_decref(fields);
    json_decref(got);
    assert_int_equal(bad, 0);
}

/* The recorded loads: PEFT 0.12 and current PEFT, both within tolerance. */
static void check_recorded_loads(void) {
    json_t *meta = load_json(peft_file("meta.json"));
    json_t *ce = json_object_get(meta, "check_export");
    const char *key;
    json_t *r;
    int n_old = 0, n_loads = 0;
    json_object_foreach(ce, key, r) {
        if (strncmp(key, "peft ", 5) != 0)
            continue;
        n_loads++;
        n_old += strncmp(key, "peft 0.12.", 10) == 0;
        double d = json_number_value(json_object_get(r, "max_abs_diff_vs_logits_lora"));
        printf("  recorded: %s loaded the export, max |logits - golden| = %g\n", key, d);
        assert_true(json_is_true(json_object_get(r, "ok")));
        assert_true(d <= 1e-5);
    }
    assert_int_equal(n_old, 1);
    assert_int_equal(n_loads, 2);
    json_decref(meta);
}

/* The absolute model dir a relative tests/data/golden/llama_gqa resolves to. */
static const char *abs_model_dir(void) {
    static char buf[PATH_MAX];
    char rel[PATH_MAX];
    snprintf(rel, sizeof rel, "%s/tests/data/golden/llama_gqa", tu_source_dir());
    assert_non_null(realpath(rel, buf));
    return buf;
}

/* ckpt_export_peft run from the working directory cwd (restored after). */
static int export_from(const char *cwd, const CkptState *st, const char *out, const char *base,
                       Err *err) {
    char here[PATH_MAX];
    assert_non_null(getcwd(here, sizeof here));
    assert_int_equal(chdir(cwd), 0);
    int rc = ckpt_export_peft(st, out, base, err);
    assert_int_equal(chdir(here), 0);
    return rc;
}

static void test_export_matches_peft(void **state) {
    const char *src = tu_source_dir();
    char golden[1100], ck[1100], out[1100], out2[1100];
    snprintf(golden, sizeof golden, "%s/tests/data/golden/llama_gqa/golden.safetensors", src);
    Err err = {{0}};
    SafeTensors *g = st_open(golden, &err);
    if (g == NULL)
        fail_msg("%s", err.msg);
    CkptState mine, back;
    golden_state(g, &mine);
    const char *dir = fixture_dir("export");
    snprintf(ck, sizeof ck, "%s/ckpt-3.h5", dir);
    snprintf(out, sizeof out, "%s/peft/adapter", dir); /* two levels created */
    snprintf(out2, sizeof out2, "%s/variants", dir);
    if (ckpt_write(ck, &mine, &err) != 0)
        fail_msg("%s", err.msg);
    if (ckpt_read(ck, &back, &err) != 0)
        fail_msg("%s", err.msg);
    /* The job's relative model.path, from the folder the job ran in: made absolute. */
    if (export_from(src, &back, out, NULL, &err) != 0)
        fail_msg("%s", err.msg);
    check_tensors(g, tu_path(out, "adapter_model.safetensors"));
    printf("  exported %s (tests/ref/make_peft_golden.py --check-export loads it)\n", out);
    check_config(tu_path(out, "adapter_config.json"), abs_model_dir());
    check_recorded_loads();
    /* From another folder the relative path does not resolve: refused, naming --base. */
    assert_int_equal(export_from(dir, &back, out2, NULL, &err), -1);
    printf("  from %s: %s\n", dir, err.msg);
    assert_non_null(strstr(err.msg, "\"tests/data/golden/llama_gqa\""));
    assert_non_null(strstr(err.msg, "--base"));
    /* An explicit base model wins over the checkpoint's model dir, written as given. */
    assert_int_equal(export_from(dir, &back, out2, "meta-llama/Llama-3.1-8B", &err), 0);
    json_error_t je;
    json_t *j = json_load_file(tu_path(out2, "adapter_config.json"), 0, &je);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "base_model_name_or_path")),
                        "meta-llama/Llama-3.1-8B");
    json_decref(j);
    /* A non-integral alpha stays a float, as PEFT keeps what the user gave. */
    back.lora_alpha = 12.5;
    assert_int_equal(export_from(src, &back, out2, NULL, &err), 0);
    j = json_load_file(tu_path(out2, "adapter_config.json"), 0, &je);
    assert_true(json_is_real(json_object_get(j, "lora_alpha")));
    assert_true(json_real_value(json_object_get(j, "lora_alpha")) == 12.5);
    json_decref(j);
    ckpt_free(&back);
    free(mine.tensors);
    st_close(g);
}


/* `tlm inspect` and `tlm export` on a checkpoint with a real job spec and a score table. */
static void test_commands(void **state) {
    const char *tlm = tu_tlm_bin(); /* built before this test (tests/ckpt.cmake) */
    assert_int_equal(tu_system("test -x '%s'", tlm), 0);
    char golden[1100], ck[1100];
    snprintf(golden, sizeof golden, "%s/tests/data/golden/llama_gqa/golden.safetensors",
             tu_source_dir());
    Err err = {{0}};
    SafeTensors *g = st_open(golden, &err);
    assert_non_null(g);
    CkptState st;
    golden_state(g, &st);
    JobSpec job;
    job_defaults(&job);
    snprintf(job.model.path, sizeof job.model.path, "tests/data/golden/llama_gqa");
    snprintf(job.data.path, sizeof job.data.path, "data/geo.json");
    char *yaml = job_to_yaml(&job);
    assert_non_null(yaml);
    st.job_yaml = yaml;
    for (int i = 0; i < 40; i++) { /* ce 1.0 .. 4.9: 19 of 40 above the threshold 3.0 */
        CkptScoreRow r = {.sample = i, .step = i, .tokens = 9, .ce = 1.0f + 0.1f * (float)i};
        r.ppl = expf(r.ce);
        r.selected = r.ce > 3.0f;
        assert_int_equal(ckpt_scores_append(&st.scores, &r, 1, &err), 0);
    }
    const char *dir = fixture_dir("commands");
    snprintf(ck, sizeof ck, "%s/ckpt-3.h5", dir);
    assert_int_equal(ckpt_write(ck, &st, &err), 0);
    assert_int_equal(tu_system("'%s' inspect '%s' > '%s/inspect.txt' 2>&1", tlm, ck, dir), 0);
    tu_system("cat '%s/inspect.txt'", dir);
    const char *want[] = {"step 3", "28 tensors, 16384 parameters", "40 samples, 19 selected",
                          "method tlm, online, threshold 3", "data/geo.json", "mean ce 2.95",
                          "per-sample perplexity"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_int_equal(tu_system("grep -qF '%s' '%s/inspect.txt'", want[i], dir), 0);
    assert_int_equal(tu_system("cd '%s' && '%s' export '%s' --peft '%s/out' > /dev/null",
                               tu_source_dir(), tlm, ck, dir), 0);
    check_tensors(g, tu_path(dir, "out/adapter_model.safetensors"));
    check_config(tu_path(dir, "out/adapter_config.json"), abs_model_dir());
    /* Elsewhere: exit 1 with the reason, nothing half-written counts as an export. */
    assert_int_equal(tu_system("cd '%s' && '%s' export '%s' --peft '%s/out3' 2>&1 | "
                               "grep -q 'give the base model with --base'", dir, tlm, ck, dir), 0);
    assert_int_equal(tu_system("cd '%s' && '%s' export '%s' --peft '%s/out4' --base /models/x "
                               "> /dev/null", dir, tlm, ck, dir), 0);
    /* Usage errors exit 2; an unreadable checkpoint 1, naming the file. */
    assert_int_equal(tu_system("'%s' export '%s' > /dev/null 2>&1", tlm, ck), 2);
    assert_int_equal(tu_system("'%s' inspect '%s/nope.h5' 2>&1 | grep -q 'nope.h5'", tlm, dir), 0);
    assert_int_equal(tu_system("'%s' inspect '%s/nope.h5' > /dev/null 2>&1", tlm, dir), 1);
    free(yaml);
    free(st.tensors);
    ckpt_scores_free(&st.scores);
    st_close(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_export_matches_peft),
        cmocka_unit_test(test_commands),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
