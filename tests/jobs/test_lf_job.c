/* tests/jobs/test_lf_job.c -- LLaMA-Factory flat job files (jobs/lf_job.h): every key of
 * the example jobs jobs/llamafactory/{online,offline}_ttl.yaml (the keys of the TLM
 * reference's examples) and the native value it becomes, the ignored keys noted once each
 * with a reason, the reference's defaults for keys left out, each refusal with its
 * message, key=value overrides, and the native job written back (--print-job) reading as
 * the same job. Runs in the repository root: the model path must be a local directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "jobs/lf_job.h"
#include "tests/testutil.h"

#define ONLINE "jobs/llamafactory/online_ttl.yaml"
#define OFFLINE "jobs/llamafactory/offline_ttl.yaml"

static int setup(void **state) {
    (void)state;
    return chdir(tu_source_dir());
}

static void load_ok(const char *path, const char *const *ov, int n_ov, JobSpec *s, LfNotes *notes) {
    Err err = {{0}};
    int rc = lf_job_load(path, ov, n_ov, s, notes, &err);
    if (rc != 0)
        printf("%s\n", err.msg);
    assert_int_equal(rc, 0);
}

/* Loads ONLINE with one override and expects a refusal whose message contains want. */
static void refused(const char *override, const char *want) {
    JobSpec s;
    Err err = {{0}};
    assert_int_equal(lf_job_load(ONLINE, &override, 1, &s, NULL, &err), -1);
    if (strstr(err.msg, want) == NULL)
        printf("got:  %s\nwant: ...%s...\n", err.msg, want);
    assert_non_null(strstr(err.msg, want));
}

/* How many notes start with "key: ". */
static int notes_of(const LfNotes *n, const char *key) {
    int count = 0;
    for (int i = 0; i < n->n_notes; i++)
        count += strncmp(n->notes[i], key, strlen(key)) == 0 && n->notes[i][strlen(key)] == ':';
    return count;
}

static void test_online_keys(void **state) {
    (void)state;
    JobSpec s;
    LfNotes notes;
    load_ok(ONLINE, NULL, 0, &s, &notes);
    assert_string_equal(s.model.path, "jobs/demo/model");      /* model_name_or_path */
    assert_string_equal(s.model.template_name, "llama3");      /* template */
    assert_int_equal(s.data.cutoff_len, 256);                  /* cutoff_len */
    assert_int_equal(s.data.max_samples, 41000);               /* max_samples */
    assert_int_equal(s.data.n_datasets, 1);                    /* dataset (= eval_dataset) */
    assert_string_equal(s.data.datasets[0], "garden_demo");
    assert_string_equal(s.data.dataset_info, "jobs/llamafactory/data/dataset_info.json");
    assert_string_equal(s.data.path, "");
    assert_int_equal(s.method.name, JOB_TLM);                  /* stage: ttl */
    assert_int_equal(s.method.setting, JOB_ONLINE);            /* setting: online_ttl */
    assert_true(s.method.threshold == 6.5);                    /* threshold */
    assert_true(s.method.lamb == 0.1);                         /* lamb */
    assert_int_equal(s.method.stream_batch, 8);                /* streaming_batch_size */
    assert_int_equal(s.lora.n_targets, 2);                     /* lora_target */
    assert_string_equal(s.lora.targets[0], "q_proj");
    assert_string_equal(s.lora.targets[1], "v_proj");
    assert_int_equal(s.lora.rank, 8);                          /* default */
    assert_true(s.lora.alpha == 16.0);                         /* default: 2 x rank */
    assert_true(s.optim.lr == 1e-2);                           /* learning_rate */
    assert_int_equal(s.optim.schedule, JOB_CONSTANT);          /* lr_scheduler_type */
    assert_true(s.optim.warmup_ratio == 0.0);                  /* warmup_ratio */
    assert_int_equal(s.optim.batch_size, 1);                   /* per_device_train_batch_size */
    assert_true(s.optim.max_grad_norm == 1.0);                 /* HF default */
    assert_string_equal(s.output.dir, "out/llamafactory/online_ttl/garden_demo/"
                                      "lamb_0.1-threshold_6.5-lr_1e-2-seed_42");
    assert_int_equal(s.output.checkpoint_every, 8000);         /* save_steps */
    assert_int_equal(s.generate.max_new_tokens, 24);           /* max_new_tokens */
    assert_int_equal(s.output.reference_layout, 1);
    assert_int_equal(s.seed, 42);
    /* Each key with no meaning here, noted once with its reason. */
    static const char *const ignored[] = {
        "do_train", "do_predict", "trust_remote_code", "overwrite_cache",
        "preprocessing_num_workers", "logging_steps", "plot_loss",
        "bf16", "ddp_timeout", "do_eval", "per_device_eval_batch_size",
        "predict_with_generate", "report_to"};
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++) {
        if (notes_of(&notes, ignored[i]) != 1)
            printf("%s: %d notes\n", ignored[i], notes_of(&notes, ignored[i]));
        assert_int_equal(notes_of(&notes, ignored[i]), 1);
    }
    assert_int_equal(notes_of(&notes, "finetuning_type"), 1);
    assert_int_equal(notes_of(&notes, "overwrite_output_dir"), 1); /* as --overwrite */
    assert_int_equal(notes.overwrite_output_dir, 1);
    /* LLaMA-Factory checkpoints activations unless disable_gradient_checkpointing */
    assert_int_equal(s.optim.gradient_checkpointing, 1);
    assert_int_equal(notes_of(&notes, "disable_gradient_checkpointing"), 1);
    assert_int_equal(notes.n_notes, (int)(sizeof ignored / sizeof ignored[0]) + 3);
    for (int i = 0; i < notes.n_notes; i++) /* "key: ignored: why" with a why */
        assert_true(strlen(strchr(notes.notes[i], ':')) > 12);
}

static void test_offline_keys(void **state) {
    (void)state;
    JobSpec s;
    load_ok(OFFLINE, NULL, 0, &s, NULL);
    assert_int_equal(s.method.setting, JOB_OFFLINE);
    assert_int_equal(s.optim.schedule, JOB_COSINE);
    assert_true(s.optim.warmup_ratio == 0.1);
    assert_int_equal(s.method.stream_batch, 100); /* streaming_batch_size left out */
}

/* A file with only the keys tlm needs: the reference's defaults, each noted. */
static void test_reference_defaults(void **state) {
    (void)state;
    const char *path = tu_write_tmp("lf_min.yaml",
                                    "stage: ttl\nmodel_name_or_path: jobs/demo/model\n"
                                    "dataset: garden_demo\ndataset_dir: jobs/llamafactory/data\n"
                                    "do_sample: false\nlr_scheduler_type: constant\n"
                                    "num_train_epochs: 1\n");
    JobSpec s;
    LfNotes notes;
    load_ok(path, NULL, 0, &s, &notes);
    assert_int_equal(s.method.setting, JOB_OFFLINE);  /* FinetuningArguments.setting */
    assert_true(s.method.threshold == 2.0);           /* FinetuningArguments.threshold */
    assert_int_equal(s.method.stream_batch, 100);     /* streaming_batch_size */
    assert_int_equal(s.data.cutoff_len, 2048);        /* DataArguments.cutoff_len */
    assert_int_equal(s.generate.max_new_tokens, 1024); /* GeneratingArguments */
    assert_int_equal(s.optim.batch_size, 8);          /* HF per_device_train_batch_size */
    assert_int_equal(s.lora.n_targets, 7);            /* lora_target: all */
    assert_true(s.lora.alpha == 16.0);                /* 2 x lora_rank 8 */
    assert_int_equal(s.data.max_samples, -1);
    assert_string_equal(s.model.template_name, "auto");
    assert_true(s.optim.warmup_ratio == 0.0);
    assert_int_equal(notes_of(&notes, "threshold"), 1);
    assert_int_equal(notes_of(&notes, "setting"), 1);
    assert_int_equal(notes_of(&notes, "lora_target"), 1);
    assert_int_equal(notes_of(&notes, "template"), 1);
    /* lora_rank 16 without lora_alpha: alpha 32, as LLaMA-Factory's lora_rank * 2. */
    const char *ov[] = {"lora_rank=16", "dataset_dir=jobs/llamafactory/data"};
    load_ok(path, ov, 2, &s, &notes);
    assert_int_equal(s.lora.rank, 16);
    assert_true(s.lora.alpha == 32.0);
    assert_int_equal(notes_of(&notes, "lora_alpha"), 1);
}

static void test_overrides(void **state) {
    (void)state;
    JobSpec s;
    const char *ov[] = {"learning_rate=1e-3", "lora_target=all", "setting=offline_ttl",
                        "output_dir='out/x y'", "seed=7", "template=empty", "max_samples=null",
                        "disable_gradient_checkpointing=true"};
    load_ok(ONLINE, ov, 8, &s, NULL);
    assert_int_equal(s.optim.gradient_checkpointing, 0);
    assert_true(s.optim.lr == 1e-3);
    assert_int_equal(s.lora.n_targets, 7);
    assert_string_equal(s.lora.targets[6], "down_proj");
    assert_int_equal(s.method.setting, JOB_OFFLINE);
    assert_string_equal(s.output.dir, "out/x y");
    assert_int_equal(s.seed, 7);
    assert_string_equal(s.model.template_name, "none");
    assert_int_equal(s.data.max_samples, -1);
    assert_true(lf_is_override("learning_rate=1"));
    assert_false(lf_is_override("optim.lr=1"));
    assert_false(lf_is_override("=1"));
    assert_false(lf_is_override("jobs/x.yaml"));
    refused("optim.lr=1", "expected key=value (a flat LLaMA-Factory key");
}

static void test_refusals(void **state) {
    (void)state;
    refused("lora_dropout=0.05", "lora_dropout (command line): 0.05: tlm's LoRA has no dropout");
    refused("do_sample=true", "do_sample (command line): true: tlm decodes greedily only");
    refused("temperature=0.7", "temperature (command line): 0.7: tlm decodes greedily only");
    refused("num_train_epochs=3.0", "num_train_epochs (command line): 3.0: tlm takes one pass");
    refused("gradient_accumulation_steps=4", "gradient_accumulation_steps (command line): 4: "
                                             "tlm averages a step's loss");
    refused("disable_gradient_checkpointing=2", "disable_gradient_checkpointing (command "
                                                "line): 2: expected true or false");
    refused("stage=sft", "stage (command line): sft: tlm runs the ttl stage only");
    refused("finetuning_type=full", "finetuning_type (command line): full: tlm trains LoRA");
    refused("lr_scheduler_type=linear", "linear: tlm has the constant, constant_with_warmup "
                                        "and cosine schedules");
    refused("setting=streaming", "streaming: expected online_ttl or offline_ttl");
    refused("template=baichuan", "baichuan: not a template tlm has");
    refused("model_name_or_path=meta-llama/Meta-Llama-3-8B-Instruct",
            "meta-llama/Meta-Llama-3-8B-Instruct: not a local directory; tlm downloads nothing "
            "from the Hugging Face hub: give the path of a local model directory");
    refused("eval_dataset=other", "other: must name the same datasets as dataset");
    refused("dataset_dir=ONLINE", "ONLINE: tlm downloads nothing from a hub");
    refused("lora_target=q_proj,qkv", "lora_target (command line): expected a list of distinct "
                                      "names from q_proj|");
    refused("lora_rnak=4", "lora_rnak (command line): unknown key for a ttl job (did you mean "
                           "lora_rank?)");
    refused("cutoff_len=-4", "cutoff_len (command line): expected a positive integer, got \"-4\"");
    /* Positions in the file; keys whose reference default tlm cannot honour. */
    const char *path = tu_write_tmp("lf_bad.yaml", "stage: ttl\nmodel_name_or_path: jobs/demo/model\n"
                                                   "lora_dropout: 0.1\n");
    JobSpec s;
    Err err = {{0}};
    assert_int_equal(lf_job_load(path, NULL, 0, &s, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "lf_bad.yaml:3:1: lora_dropout: 0.1: tlm's LoRA has no dropout"));
    path = tu_write_tmp("lf_bad.yaml", "stage: ttl\nmodel_name_or_path: jobs/demo/model\n"
                                       "dataset: garden_demo\ndataset_dir: jobs/llamafactory/data\n");
    assert_int_equal(lf_job_load(path, NULL, 0, &s, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "lf_bad.yaml: do_sample: missing: the reference samples by "
                                    "default (do_sample true, temperature 0.95)"));
    path = tu_write_tmp("lf_bad.yaml", "stage: ttl\n---\nstage: sft\n");
    assert_int_equal(lf_job_load(path, NULL, 0, &s, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "lf_bad.yaml:2:1: a second YAML document: a job file holds one"));
    assert_int_equal(lf_job_load_text("stage: ttl\n\0x", 13, "nul.yaml", NULL, 0, &s, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "nul.yaml:2:1:"));
    path = tu_write_tmp("lf_bad.yaml", "stage: ttl\nstage: ttl\n");
    assert_int_equal(lf_job_load(path, NULL, 0, &s, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "lf_bad.yaml:2:1: stage: duplicate key (first given on line 1)"));
}

/* What --print-job writes is a native job that reads back as the same job. */
static void test_native_round_trip(void **state) {
    (void)state;
    for (int i = 0; i < 2; i++) {
        JobSpec a, b;
        load_ok(i ? OFFLINE : ONLINE, NULL, 0, &a, NULL);
        char *yaml = job_to_yaml(&a);
        assert_non_null(yaml);
        assert_false(lf_is_flat(yaml, strlen(yaml)));
        Err err = {{0}};
        int rc = job_load_string(yaml, "printed.yaml", &b, &err);
        if (rc != 0)
            printf("%s\n%s\n", err.msg, yaml);
        assert_int_equal(rc, 0);
        char diff[256] = "";
        assert_int_equal(job_diff(&a, &b, diff, sizeof diff), 0);
        free(yaml);
    }
    char *native = tu_read_file(tu_path(tu_source_dir(), "jobs/demo.yaml"), NULL);
    assert_false(lf_is_flat(native, strlen(native)));
    free(native);
    assert_false(lf_is_flat("model: [unclosed", 16));
    assert_true(lf_is_flat("stage: ttl\n", 11));
    assert_false(lf_is_flat("stage: ttl\n---\nstage: ttl\n", 26)); /* refused by the guard */
}

/* The native form of the registry: data.dataset with data.dataset_info, exclusive of
 * data.path, data.prompt and data.response. */
static void test_native_dataset_keys(void **state) {
    (void)state;
    JobSpec s;
    Err err = {{0}};
    assert_int_equal(job_load_string("model: {path: m}\ndata: {dataset_info: d/dataset_info.json,"
                                     " dataset: [a, b]}\n", "n.yaml", &s, &err), 0);
    assert_int_equal(s.data.n_datasets, 2);
    DsConfig c;
    job_dataset_config(&s, &c);
    assert_string_equal(c.dataset_info, "d/dataset_info.json");
    assert_int_equal(c.n_datasets, 2);
    assert_string_equal(c.datasets[1], "b");
    assert_int_equal(job_load_string("model: {path: m}\ndata: {dataset: [a]}\n", "n.yaml", &s,
                                     &err), -1);
    assert_true(tu_ends_with(err.msg, "n.yaml:2:8: data.dataset: needs data.dataset_info (the "
                                      "dataset_info.json that names the datasets)"));
    assert_int_equal(job_load_string("model: {path: m}\ndata: {path: x.json, dataset_info: i,"
                                     " dataset: [a]}\n", "n.yaml", &s, &err), -1);
    assert_true(tu_ends_with(err.msg, "n.yaml:2:8: data.path: not with data.dataset: the "
                                      "datasets' files and columns come from data.dataset_info"));
    assert_int_equal(job_load_string("model: {path: m}\ndata: {dataset_info: i, dataset: [a],"
                                     " prompt: [q]}\n", "n.yaml", &s, &err), -1);
    assert_non_null(strstr(err.msg, "data.prompt: not with data.dataset"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_online_keys),        cmocka_unit_test(test_offline_keys),
        cmocka_unit_test(test_reference_defaults), cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_refusals),           cmocka_unit_test(test_native_round_trip),
        cmocka_unit_test(test_native_dataset_keys),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
