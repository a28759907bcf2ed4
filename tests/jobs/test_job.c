/* tests/jobs/test_job.c -- the job spec: the DESIGN §6 example, every default, each kind
 * of error with its exact message shape (file:line:column, key, suggestion), --set,
 * the YAML round trip, and every example job in jobs/. */
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "io/text/chat_template.h"
#include "jobs/job.h"
#include "tests/testutil.h"

/* Err messages start with the C source position ("jobs/job.c:97 walk_key: "); the
 * user-facing part is what follows. */
static void assert_msg_ends(const char *msg, const char *want) {
    assert_true(tu_ends_with(msg, want));
}

static const char *const design_example =
    "model:    {path: models/llama3-8b-instruct, template: llama3}\n"
    "data:     {path: data/geo.json, prompt: [instruction, input], response: output,\n"
    "           max_samples: 5000, cutoff_len: 4096}\n"
    "method:   {name: tlm, setting: online, threshold: 3.0, lamb: 0.1, stream_batch: 100}\n"
    "lora:     {rank: 8, alpha: 16, targets: [q_proj, v_proj]}\n"
    "optim:    {lr: 5.0e-5, schedule: constant, warmup_ratio: 0.0, batch_size: 1,\n"
    "           max_grad_norm: 1.0, reset_per_batch: true}\n"
    "generate: {max_new_tokens: 512}\n"
    "parallel: {tp: 1}\n"
    "backend:  auto      # auto|cpu|cuda\n"
    "output:   {dir: out/geo-online, checkpoint_every: 50, keep: 3}\n"
    "seed: 42\n";

static void test_design_example(void **state) {
    JobSpec s;
    Err err = {{0}};
    int rc = job_load_string(design_example, "design.yaml", &s, &err);
    if (rc != 0)
        printf("%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_string_equal(s.model.path, "models/llama3-8b-instruct");
    assert_string_equal(s.model.template_name, "llama3");
    assert_string_equal(s.data.path, "data/geo.json");
    assert_int_equal(s.data.n_prompt, 2);
    assert_string_equal(s.data.prompt[1], "input");
    assert_int_equal(s.data.max_samples, 5000);
    assert_int_equal(s.method.stream_batch, 100);
    assert_true(s.optim.lr == 5.0e-5);
    assert_int_equal(s.backend, JOB_AUTO);
    assert_string_equal(s.output.dir, "out/geo-online");
    assert_int_equal(s.seed, 42);
}

static void test_defaults(void **state) {
    JobSpec s, d;
    Err err = {{0}};
    assert_int_equal(job_load_string("model: {path: m}\ndata: {path: d.json}\n", "min.yaml", &s,
                                     &err), 0);
    job_defaults(&d);
    assert_string_equal(s.model.template_name, "auto");
    assert_int_equal(s.data.n_prompt, 2);
    assert_string_equal(s.data.prompt[0], "instruction");
    assert_string_equal(s.data.prompt[1], "input");
    assert_string_equal(s.data.response, "output");
    assert_int_equal(s.data.max_samples, -1);
    assert_int_equal(s.data.cutoff_len, 4096);
    assert_int_equal(s.data.on_error, JOB_FAIL);
    assert_int_equal(s.method.name, JOB_TLM);
    assert_int_equal(s.method.setting, JOB_ONLINE);
    assert_true(s.method.threshold == 3.0 && s.method.lamb == 0.1);
    assert_int_equal(s.method.stream_batch, 100);
    assert_int_equal(s.lora.rank, 8);
    assert_true(s.lora.alpha == 16.0);
    assert_int_equal(s.lora.n_targets, 2);
    assert_string_equal(s.lora.targets[0], "q_proj");
    assert_string_equal(s.lora.targets[1], "v_proj");
    assert_true(s.optim.lr == 5e-5 && s.optim.warmup_ratio == 0.0);
    assert_int_equal(s.optim.schedule, JOB_CONSTANT);
    assert_int_equal(s.optim.batch_size, 1);
    assert_true(s.optim.max_grad_norm == 1.0 && s.optim.reset_per_batch == 1);
    assert_int_equal(s.optim.gradient_checkpointing, 0); /* speed first, unlike LF */
    assert_true(s.optim.beta1 == 0.9 && s.optim.beta2 == 0.999 && s.optim.eps == 1e-8 &&
                s.optim.weight_decay == 0.0);
    assert_int_equal(s.generate.max_new_tokens, 512);
    assert_int_equal(s.parallel.tp, 1);
    assert_int_equal(s.backend, JOB_AUTO);
    assert_string_equal(s.output.dir, "out");
    assert_int_equal(s.output.checkpoint_every, 50);
    assert_int_equal(s.output.keep, 3);
    assert_int_equal(s.seed, 42);
    assert_int_equal(job_diff(&s, &d, NULL, 0), 1); /* only the two paths differ */
    strcpy(d.model.path, "m");
    strcpy(d.data.path, "d.json");
    assert_int_equal(job_diff(&s, &d, NULL, 0), 0);

    /* Offline: cosine with warmup 0.1 (the reference's offline example), unless given. */
    assert_int_equal(job_load_string("model: {path: m}\ndata: {path: d}\n"
                                     "method: {setting: offline}\n", "off.yaml", &s, &err), 0);
    assert_int_equal(s.optim.schedule, JOB_COSINE);
    assert_true(s.optim.warmup_ratio == 0.1);
    assert_int_equal(job_load_string("model: {path: m}\ndata: {path: d}\nmethod: {setting: "
                                     "offline}\noptim: {warmup_ratio: 0.0}\n", "off.yaml", &s,
                                     &err), 0);
    assert_int_equal(s.optim.schedule, JOB_COSINE);
    assert_true(s.optim.warmup_ratio == 0.0);
    /* Every template name the schema accepts is auto or one io/text/chat_template.c knows,
     * and every template it knows is accepted. */
    int n_names;
    const char *const *names = tmpl_names(&n_names);
    assert_int_equal(job_set(&s, "model.template=" TMPL_AUTO, &err), 0);
    for (int i = 0; i < n_names; i++) {
        char set[64];
        snprintf(set, sizeof set, "model.template=%s", names[i]);
        assert_int_equal(job_set(&s, set, &err), 0);
        assert_non_null(tmpl_find(s.model.template_name));
    }
}

/* Loads text from a temp file and checks the message ends with "<path>:<want>". */
static void expect_file_error(const char *text, const char *want) {
    const char *path = tu_write_tmp("bad.yaml", text);
    char full[4096];
    JobSpec s;
    Err err = {{0}};
    snprintf(full, sizeof full, "%s%s", path, want);
    assert_int_equal(job_load(path, &s, &err), -1);
    assert_msg_ends(err.msg, full);
}

static const char *const geo_head = "# geo\n"
                                    "model:\n"
                                    "    path: models/x\n"
                                    "data:\n"
                                    "    path: geo.json\n"
                                    "lora:\n";

static void test_errors(void **state) {
    char text[1024];
    snprintf(text, sizeof text, "%s    rnak: 16\n", geo_head);
    expect_file_error(text, ":7:5: lora.rnak: unknown key (did you mean lora.rank?)");
    snprintf(text, sizeof text, "%s    rank: sixteen\n", geo_head);
    expect_file_error(text, ":7:11: lora.rank: expected a positive integer, got \"sixteen\"");
    snprintf(text, sizeof text, "%s    rank: 0\n", geo_head);
    expect_file_error(text, ":7:11: lora.rank: expected a positive integer, got \"0\"");
    snprintf(text, sizeof text, "%s    rank: \"16\"\n", geo_head);
    expect_file_error(text, ":7:11: lora.rank: expected a positive integer, got \"16\" "
                            "(a quoted string)");
    snprintf(text, sizeof text, "%s    targets: [q_proj, x_proj]\n", geo_head);
    expect_file_error(text, ":7:14: lora.targets: expected a list of distinct names from "
                            "q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj, got "
                            "\"x_proj\"");
    snprintf(text, sizeof text, "%s    targets: [q_proj, q_proj]\n", geo_head);
    expect_file_error(text, ":7:14: lora.targets: \"q_proj\" is listed twice");
    snprintf(text, sizeof text, "%s    rank: 8\n    rank: 16\n", geo_head);
    expect_file_error(text, ":8:5: lora.rank: duplicate key (first given on line 7)");
    snprintf(text, sizeof text, "%s    rank: [8]\n", geo_head);
    expect_file_error(text, ":7:11: lora.rank: expected a positive integer, got a list");
    snprintf(text, sizeof text, "%s    alpha: 16\noptim: {lr: -1e-5}\n", geo_head);
    expect_file_error(text, ":8:13: optim.lr: expected a positive number, got \"-1e-5\"");
    snprintf(text, sizeof text, "%s    alpha: 16\noptim: {warmup_ratio: 1.0}\n", geo_head);
    expect_file_error(text, ":8:23: optim.warmup_ratio: expected a number in [0, 1), got \"1.0\"");
    snprintf(text, sizeof text, "%s    alpha: 16\nmethod: {setting: onlin}\n", geo_head);
    expect_file_error(text, ":8:19: method.setting: expected one of online|offline, got "
                            "\"onlin\"");
    snprintf(text, sizeof text, "%s    alpha: 16\nmodel: {template: llama4}\n", geo_head);
    expect_file_error(text, ":8:1: model: duplicate section");
    expect_file_error("model: {path: m, template: llama4}\ndata: {path: d}\n",
                      ":1:28: model.template: expected one of "
                      "auto|llama3|llama2|qwen|chatml|mistral|none, got \"llama4\"");
    expect_file_error("model: {path: m}\ndata: {path: d}\noptm: {lr: 1.0e-5}\n",
                      ":3:1: optm: unknown key (did you mean optim?)");
    expect_file_error("model: {path: m}\ndata: {path: d}\nlr: 1.0e-5\n",
                      ":3:1: lr: unknown key (did you mean optim.lr?)");
    expect_file_error("model: {path: m}\ndata: {path: d}\nlora: {zzzzzz: 1}\n",
                      ":3:8: lora.zzzzzz: unknown key (valid keys under lora: rank, alpha, "
                      "targets)");
    expect_file_error("model: {path: m}\ndata: {path: d}\noptim: {gradient_checkpointing: 1}\n",
                      ":3:33: optim.gradient_checkpointing: expected true or false, got \"1\"");
    expect_file_error("model: {path: m}\ndata: {path: d}\noptim: {reset_per_batch: maybe}\n",
                      ":3:26: optim.reset_per_batch: expected true or false, got \"maybe\"");
    expect_file_error("model: {path: m}\ndata: {path: d}\nlora: 8\n",
                      ":3:7: lora: expected a mapping of keys, got a scalar");
    expect_file_error("model: {path: m}\ndata: {path: d, max_samples: -5}\n",
                      ":2:30: data.max_samples: expected a positive integer or all, got \"-5\"");
    expect_file_error("model: {path: m}\n", ": data.path: required key missing");
    expect_file_error("", ": empty job file (model.path and data.path are required)");
    expect_file_error("model: {path: m\n", ":2:1: YAML syntax error: did not find expected ',' "
                                           "or '}' while parsing a flow mapping");
    expect_file_error("model: {path: m}\ndata: {path: d}\nmethod: {stream_batch: 8}\n"
                      "optim: {batch_size: 16}\n",
                      ": optim.batch_size: 16 exceeds method.stream_batch 8 (an online update "
                      "step takes its samples from one stream batch)");
    JobSpec s;
    Err err = {{0}};
    assert_int_equal(job_load("/nonexistent/job.yaml", &s, &err), -1);
    assert_msg_ends(err.msg, "/nonexistent/job.yaml: cannot open job file: No such file or "
                             "directory");
}

static void test_set(void **state) {
    JobSpec s, before;
    Err err = {{0}};
    assert_int_equal(job_load_string(design_example, "design.yaml", &s, &err), 0);
    assert_int_equal(job_set(&s, "lora.rank=16", &err), 0);
    assert_int_equal(s.lora.rank, 16);
    assert_int_equal(job_set(&s, "optim.gradient_checkpointing=true", &err), 0);
    assert_int_equal(s.optim.gradient_checkpointing, 1);
    before = s;
    assert_int_equal(job_set(&s, "lora.rank=sixteen", &err), -1);
    assert_msg_ends(err.msg, "--set lora.rank: expected a positive integer, got \"sixteen\"");
    assert_int_equal(job_set(&s, "lora.rnak=16", &err), -1);
    assert_msg_ends(err.msg, "--set lora.rnak: unknown key (did you mean lora.rank?)");
    assert_int_equal(job_set(&s, "lora=16", &err), -1);
    assert_msg_ends(err.msg, "--set lora: a section; set one of its keys (valid keys under lora: "
                             "rank, alpha, targets)");
    assert_int_equal(job_set(&s, "lora.rank", &err), -1);
    assert_msg_ends(err.msg, "--set lora.rank: expected key=value");
    assert_int_equal(job_set(&s, "optim.batch_size=101", &err), -1);
    assert_msg_ends(err.msg, "optim.batch_size: 101 exceeds method.stream_batch 100 (an online "
                             "update step takes its samples from one stream batch)");
    assert_int_equal(job_diff(&s, &before, NULL, 0), 0); /* failed sets change nothing */

    assert_int_equal(job_set(&s, "lora.targets=[q_proj, k_proj, o_proj]", &err), 0);
    assert_int_equal(s.lora.n_targets, 3);
    assert_string_equal(s.lora.targets[2], "o_proj");
    assert_int_equal(job_set(&s, "lora.targets=gate_proj,up_proj", &err), 0);
    assert_int_equal(s.lora.n_targets, 2);
    assert_string_equal(s.lora.targets[1], "up_proj");
    assert_int_equal(job_set(&s, "data.prompt=[question]", &err), 0);
    assert_int_equal(s.data.n_prompt, 1);
    assert_int_equal(job_set(&s, "data.max_samples=all", &err), 0);
    assert_int_equal(s.data.max_samples, -1);
    assert_int_equal(job_set(&s, "optim.lr=1e-6", &err), 0);
    assert_true(s.optim.lr == 1e-6);
    assert_int_equal(job_set(&s, "output.dir=out: x", &err), -1); /* a mapping in YAML */
    assert_msg_ends(err.msg, "--set output.dir: expected a non-empty string, got a mapping");
    assert_int_equal(job_set(&s, "output.dir='out/x y:z'", &err), 0);
    assert_string_equal(s.output.dir, "out/x y:z");
    /* The design example gives schedule constant explicitly; offline keeps it. */
    assert_int_equal(job_set(&s, "method.setting=offline", &err), 0);
    assert_int_equal(s.optim.schedule, JOB_CONSTANT);
    JobSpec m;
    assert_int_equal(job_load_string("model: {path: m}\ndata: {path: d}\n", "m.yaml", &m, &err), 0);
    assert_int_equal(job_set(&m, "method.setting=offline", &err), 0);
    assert_int_equal(m.optim.schedule, JOB_COSINE);
    assert_true(m.optim.warmup_ratio == 0.1);
    assert_int_equal(job_set(&m, "seed=18446744073709551615", &err), -1); /* > int64 */
    assert_int_equal(job_set(&m, "seed=7", &err), 0);
    assert_int_equal(m.seed, 7);
}

static void test_round_trip(void **state) {
    JobSpec a, b;
    Err err = {{0}};
    assert_int_equal(job_load_string(design_example, "design.yaml", &a, &err), 0);
    assert_int_equal(job_set(&a, "output.dir='odd: \"dir\" #1'", &err), 0);
    assert_int_equal(job_set(&a, "data.response=''", &err), 0);
    assert_int_equal(job_set(&a, "optim.lr=3e-7", &err), 0);
    assert_int_equal(job_set(&a, "method.threshold=0.1", &err), 0);
    char *yaml = job_to_yaml(&a);
    assert_non_null(yaml);
    int rc = job_load_string(yaml, "resolved.yaml", &b, &err);
    if (rc != 0)
        printf("%s\n%s\n", yaml, err.msg);
    assert_int_equal(rc, 0);
    char diff[256] = "";
    assert_int_equal(job_diff(&a, &b, diff, sizeof diff), 0);
    assert_non_null(strstr(yaml, "lr: 3.0e-07\n"));
    assert_non_null(strstr(yaml, "targets: [q_proj, v_proj]\n"));
    free(yaml);
    b.lora.rank = 16;
    assert_int_equal(job_diff(&a, &b, diff, sizeof diff), 1);
    assert_string_equal(diff, "lora.rank: 8 vs 16");
}

/* Every example job in jobs/ loads; data paths resolve when ../shared is here. */
static void test_example_jobs(void **state) {
    glob_t g;
    const char *pattern = tu_path(tu_source_dir(), "jobs/*.yaml");
    assert_int_equal(glob(pattern, 0, NULL, &g), 0);
    assert_true(g.gl_pathc >= 9); /* demo + online/offline for four AdaptEval sets */
    for (size_t i = 0; i < g.gl_pathc; i++) {
        JobSpec s;
        Err err = {{0}};
        int rc = job_load(g.gl_pathv[i], &s, &err);
        if (rc != 0)
            printf("%s\n", err.msg);
        assert_int_equal(rc, 0);
        struct stat st;
        if (strstr(s.data.path, "../shared/") == s.data.path && tu_shared_dir() != NULL)
            assert_int_equal(stat(tu_path(tu_source_dir(), s.data.path), &st), 0);
    }
    globfree(&g);
}

/* backend: the shorthand `backend: NAME` and the section with name and cpu_weights. */
static void test_backend_section(void **state) {
    (void)state;
    JobSpec s;
    Err err = {{0}};
    assert_int_equal(job_load_string("model: {path: m}\ndata: {path: d}\nbackend: cpu\n", "a.yaml",
                                     &s, &err), 0);
    assert_int_equal(s.backend, JOB_CPU);
    assert_int_equal(s.cpu_weights, JOB_WEIGHTS_FP32);
    assert_int_equal(job_load_string("model: {path: m}\ndata: {path: d}\n"
                                     "backend: {name: cpu, cpu_weights: bf16}\n", "b.yaml", &s,
                                     &err), 0);
    assert_int_equal(s.backend, JOB_CPU);
    assert_int_equal(s.cpu_weights, JOB_WEIGHTS_BF16);
    char *yaml = job_to_yaml(&s); /* written back as the section, read back the same */
    JobSpec t;
    assert_int_equal(job_load_string(yaml, "c.yaml", &t, &err), 0);
    free(yaml);
    assert_int_equal(job_diff(&s, &t, NULL, 0), 0);
    assert_int_equal(job_set(&t, "backend=cuda", &err), 0);
    assert_int_equal(t.backend, JOB_CUDA);
    assert_int_equal(job_set(&t, "backend.cpu_weights=fp32", &err), 0);
    assert_int_equal(t.cpu_weights, JOB_WEIGHTS_FP32);
    assert_int_not_equal(job_load_string("model: {path: m}\ndata: {path: d}\n"
                                         "backend: {cpu_weights: fp16}\n", "d.yaml", &s, &err), 0);
    assert_non_null(strstr(err.msg, "backend.cpu_weights"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_design_example), cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_errors),         cmocka_unit_test(test_set),
        cmocka_unit_test(test_round_trip),     cmocka_unit_test(test_example_jobs),
        cmocka_unit_test(test_backend_section),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
