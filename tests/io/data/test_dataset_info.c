/* tests/io/data/test_dataset_info.c -- datasets by name through a LLaMA-Factory registry
 * (dataset_info.json, io/data/dataset_info.h): alpaca with renamed columns and sharegpt
 * with its own tags, two datasets read one after the other in the order named, max_samples
 * per dataset (as the reference's loader truncates each), and every refusal: names not
 * defined, hub sources, sampling, multimodal columns, history, a system prompt of the
 * record's own, more than one exchange, wrong roles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "io/data/dataset.h"
#include "tests/testutil.h"

static const char *registry(void) {
    tu_write_tmp("lf_qa.jsonl",
                 "{\"question\": \"Why water?\", \"context\": \"Tomatoes.\", \"answer\": \"Roots.\"}\n"
                 "{\"question\": \"When to sow?\", \"answer\": \"Spring.\", \"sys\": \"\", \"hist\": []}\n"
                 "{\"question\": \"Third?\", \"context\": null, \"answer\": 3}\n");
    tu_write_tmp("lf_chat.json",
                 "[{\"messages\": [{\"role\": \"user\", \"content\": \"Hi garden\"},\n"
                 "                {\"role\": \"assistant\", \"content\": \"Hello\"}]},\n"
                 " {\"messages\": [{\"role\": \"system\", \"content\": \"\"},\n"
                 "                {\"role\": \"user\", \"content\": \"Mulch?\"},\n"
                 "                {\"role\": \"assistant\", \"content\": \"Yes.\"}]}]\n");
    return tu_write_tmp("dataset_info.json",
                        "{\"qa\": {\"file_name\": \"lf_qa.jsonl\", \"columns\": {\"prompt\": "
                        "\"question\", \"query\": \"context\", \"response\": \"answer\", "
                        "\"system\": \"sys\", \"history\": \"hist\"}},\n"
                        " \"chat\": {\"file_name\": \"lf_chat.json\", \"formatting\": \"sharegpt\","
                        " \"columns\": {\"messages\": \"messages\"}, \"tags\": {\"role_tag\": "
                        "\"role\", \"content_tag\": \"content\", \"user_tag\": \"user\", "
                        "\"assistant_tag\": \"assistant\"}},\n"
                        " \"hub\": {\"hf_hub_url\": \"org/set\"},\n"
                        " \"sampled\": {\"file_name\": \"lf_qa.jsonl\", \"num_samples\": 2},\n"
                        " \"pictures\": {\"file_name\": \"lf_qa.jsonl\", \"columns\": "
                        "{\"images\": \"img\"}},\n"
                        " \"odd\": {\"file_name\": \"lf_qa.jsonl\", \"formatting\": \"csv\"},\n"
                        " \"folder\": {\"file_name\": \".\"},\n"
                        " \"bad_qa\": {\"file_name\": \"lf_bad_qa.jsonl\", \"columns\": "
                        "{\"system\": \"sys\", \"history\": \"hist\"}},\n"
                        " \"bad_chat\": {\"file_name\": \"lf_bad_chat.jsonl\", \"formatting\": "
                        "\"sharegpt\"}}\n");
}

static DsConfig named(const char *info, const char *a, const char *b) {
    DsConfig c = {.dataset_info = info, .datasets = {a, b}, .n_datasets = b ? 2 : 1,
                  .max_samples = -1};
    return c;
}

typedef struct Want {
    const char *file, *prompt, *label;
    int has_response, part;
    int64_t record, line;
} Want;

static void expect_stream(const DsConfig *c, const Want *want, int n_want) {
    Err err = {{0}};
    Dataset *ds = ds_open(c, &err);
    if (ds == NULL)
        printf("%s\n", err.msg);
    assert_non_null(ds);
    assert_int_equal(ds_total(ds), n_want);
    DsSample s;
    for (int i = 0; i < n_want; i++) {
        int rc = ds_next(ds, &s, &err);
        if (rc != 1)
            printf("sample %d: %s\n", i, err.msg);
        assert_int_equal(rc, 1);
        assert_int_equal(s.index, i);
        assert_string_equal(s.prompt, want[i].prompt);
        assert_string_equal(s.label, want[i].label);
        assert_int_equal(s.has_response, want[i].has_response);
        assert_int_equal(s.part, want[i].part);
        assert_int_equal(s.record, want[i].record);
        assert_int_equal(s.line, want[i].line);
        assert_true(tu_ends_with(s.file, want[i].file));
        ds_sample_free(&s);
    }
    assert_int_equal(ds_next(ds, &s, &err), 0);
    ds_close(ds);
}

static void test_two_datasets(void **state) {
    (void)state;
    const char *info = registry();
    const Want all[] = {
        {"/lf_qa.jsonl", "Why water?\nTomatoes.", "Roots.", 1, 0, 0, 1},
        /* no context column: empty, as HF datasets fills None */
        {"/lf_qa.jsonl", "When to sow?", "Spring.", 1, 0, 1, 2},
        {"/lf_qa.jsonl", "Third?", "", 0, 0, 2, 3}, /* a number is no answer */
        {"/lf_chat.json", "Hi garden", "Hello", 1, 1, 0, 1},
        /* an empty system turn is no system prompt of its own */
        {"/lf_chat.json", "Mulch?", "Yes.", 1, 1, 1, 3},
    };
    DsConfig c = named(info, "qa", "chat");
    expect_stream(&c, all, 5);
    const Want firsts[] = {all[0], all[3]}; /* max_samples 1: the first record of each */
    c.max_samples = 1;
    expect_stream(&c, firsts, 2);
    /* The order named is the order read: chat alone is part 0. */
    const Want chat[] = {{"/lf_chat.json", "Hi garden", "Hello", 1, 0, 0, 1},
                         {"/lf_chat.json", "Mulch?", "Yes.", 1, 0, 1, 3}};
    c = named(info, "chat", NULL);
    expect_stream(&c, chat, 2);
}

static void open_fails(const char *info, const char *name, const char *want) {
    DsConfig c = named(info, name, NULL);
    Err err = {{0}};
    Dataset *ds = ds_open(&c, &err);
    if (ds != NULL || strstr(err.msg, want) == NULL)
        printf("got:  %s\nwant: ...%s...\n", ds ? "(opened)" : err.msg, want);
    assert_null(ds);
    assert_non_null(strstr(err.msg, want));
}

static void first_record_fails(const char *info, const char *name, const char *file,
                               const char *text, const char *want) {
    tu_write_tmp(file, text);
    DsConfig c = named(info, name, NULL);
    Err err = {{0}};
    Dataset *ds = ds_open(&c, &err);
    assert_non_null(ds);
    DsSample s;
    assert_int_equal(ds_next(ds, &s, &err), -1);
    if (strstr(err.msg, want) == NULL)
        printf("got:  %s\nwant: ...%s...\n", err.msg, want);
    assert_non_null(strstr(err.msg, want));
    ds_close(ds);
}

static void test_refusals(void **state) {
    (void)state;
    const char *info = registry();
    open_fails(info, "geo", "dataset_info.json: dataset \"geo\": not defined (defined: qa, chat, "
                            "hub,");
    open_fails(info, "hub", "dataset \"hub\": \"hf_hub_url\": tlm downloads nothing");
    open_fails(info, "sampled", "\"num_samples\": random sampling of a dataset is not supported");
    open_fails(info, "pictures", "columns.images: not supported");
    open_fails(info, "odd", "\"formatting\": expected alpaca or sharegpt");
    open_fails(info, "folder", "is a folder; name one JSON or JSONL file");
    open_fails("/nonexistent/dataset_info.json", "qa", "cannot read the dataset registry");
    first_record_fails(info, "bad_qa", "lf_bad_qa.jsonl",
                       "{\"instruction\": \"a\", \"hist\": [[\"q\", \"r\"]]}\n",
                       "lf_bad_qa.jsonl:1: record 0: earlier turns in column \"hist\": "
                       "multi-turn chats are not supported");
    first_record_fails(info, "bad_qa", "lf_bad_qa.jsonl",
                       "{\"instruction\": \"a\", \"sys\": \"You are a gardener.\"}\n",
                       "record 0: a system prompt of its own (column \"sys\"): not supported");
    first_record_fails(info, "bad_chat", "lf_bad_chat.jsonl",
                       "{\"conversations\": [{\"from\": \"human\", \"value\": \"a\"}, {\"from\": "
                       "\"gpt\", \"value\": \"b\"}, {\"from\": \"human\", \"value\": \"c\"}, "
                       "{\"from\": \"gpt\", \"value\": \"d\"}]}\n",
                       "record 0: 4 turns in \"conversations\": one exchange");
    first_record_fails(info, "bad_chat", "lf_bad_chat.jsonl",
                       "{\"conversations\": [{\"from\": \"gpt\", \"value\": \"a\"}, {\"from\": "
                       "\"human\", \"value\": \"b\"}]}\n",
                       "record 0: turn 1: role \"gpt\", expected \"human\"");
    first_record_fails(info, "bad_chat", "lf_bad_chat.jsonl",
                       "{\"conversations\": [{\"from\": \"system\", \"value\": \"Be brief.\"}, "
                       "{\"from\": \"human\", \"value\": \"a\"}, {\"from\": \"gpt\", \"value\": "
                       "\"b\"}]}\n",
                       "record 0: a system prompt of its own (column \"system\" turn)");
    /* A missing file names the dataset and the registry. */
    remove(tu_path(tu_tmp_dir(), "lf_bad_chat.jsonl"));
    open_fails(info, "bad_chat", "dataset \"bad_chat\" (");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_datasets),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
