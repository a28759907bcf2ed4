/* tests/io/ckpt/ckpt_fixture.c -- the synthetic checkpoint state (see ckpt_fixture.h). */
#include "tests/io/ckpt/ckpt_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/testutil.h"

static const char *NAMES[3] = {
    "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
    "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight",
    "base_model.model.model.layers.1.mlp.down_proj.lora_A.weight",
};
static const int64_t SHAPES[3][2] = {{4, 16}, {24, 4}, {4, 40}};

/* xorshift32: values that differ in every bit position. */
static float next_float(uint32_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return (float)((int32_t)*s) * 1e-9f;
}

void fixture_make(CkptState *st, int n_scores, uint32_t seed) {
    *st = (CkptState){0};
    uint32_t s = seed * 2654435761u + 1u;
    st->lora_rank = 4;
    st->lora_alpha = 16.5;
    st->n_targets = 2;
    snprintf(st->targets[0], CKPT_TARGET_BYTES, "q_proj");
    snprintf(st->targets[1], CKPT_TARGET_BYTES, "down_proj");
    st->n_tensors = 3;
    st->tensors = calloc(3, sizeof *st->tensors);
    for (int i = 0; i < 3; i++) {
        CkptTensor *t = &st->tensors[i];
        t->name = strdup(NAMES[i]);
        t->n_rows = SHAPES[i][0];
        t->n_cols = SHAPES[i][1];
        int64_t n = t->n_rows * t->n_cols;
        t->param = malloc((size_t)n * sizeof(float));
        t->adam_m = malloc((size_t)n * sizeof(float));
        t->adam_v = malloc((size_t)n * sizeof(float));
        for (int64_t j = 0; j < n; j++) {
            t->param[j] = next_float(&s);
            t->adam_m[j] = next_float(&s);
            t->adam_v[j] = next_float(&s) * next_float(&s);
        }
    }
    st->step = 123 + seed;
    st->optim_step = 7;
    st->schedule_pos = 122;
    st->samples_done = 3 * (int64_t)seed + 987654321012LL;
    st->lr = 5.0e-5 / 3.0;
    st->rng[0] = 0x0123456789ABCDEFull;
    st->rng[1] = 0xFEDCBA9876543210ull;
    st->rng[2] = 0x8000000000000001ull;
    st->rng[3] = seed;
    st->dp_size = 2;
    st->stream_pos = malloc(2 * sizeof(int64_t));
    st->stream_pos[0] = 1000;
    st->stream_pos[1] = 1001 + (1LL << 40);
    st->job_yaml = strdup("model:\n  path: \"models/tiny\"\nlora:\n  rank: 4\n  alpha: 16.5\n"
                          "seed: 42 # \xc3\xa9\n");
    st->model_hash = 0xDEADBEEFCAFEF00Dull;
    snprintf(st->model_dir, sizeof st->model_dir, "models/tiny");
    for (int i = 0; i < n_scores; i++) {
        CkptScoreRow r = {.sample = i, .rank = i % 2, .step = i / 2, .tokens = 10 + i,
                          .ce = next_float(&s) + 3.0f, .selected = (uint8_t)(i % 3 == 0),
                          .weight = next_float(&s)};
        r.ppl = r.ce * 7.0f;
        ckpt_scores_append(&st->scores, &r, 1, NULL);
    }
}

void fixture_free(CkptState *st) {
    ckpt_free(st); /* the fixture allocates exactly what ckpt_read would */
}

#define DIFF(cond, ...)              \
    do {                             \
        if (cond) {                  \
            printf("  differs: ");   \
            printf(__VA_ARGS__);     \
            printf("\n");            \
            n++;                     \
        }                            \
    } while (0)

int fixture_diff(const CkptState *a, const CkptState *b) {
    int n = 0;
    DIFF(a->lora_rank != b->lora_rank, "rank %d vs %d", a->lora_rank, b->lora_rank);
    DIFF(memcmp(&a->lora_alpha, &b->lora_alpha, sizeof a->lora_alpha) != 0, "alpha");
    DIFF(a->n_targets != b->n_targets, "n_targets %d vs %d", a->n_targets, b->n_targets);
    for (int i = 0; i < a->n_targets && i < b->n_targets; i++)
        DIFF(strcmp(a->targets[i], b->targets[i]) != 0, "target %d", i);
    DIFF(a->n_tensors != b->n_tensors, "n_tensors %d vs %d", a->n_tensors, b->n_tensors);
    for (int i = 0; i < a->n_tensors && i < b->n_tensors; i++) {
        const CkptTensor *x = &a->tensors[i], *y = &b->tensors[i];
        DIFF(strcmp(x->name, y->name) != 0, "tensor %d name %s vs %s", i, x->name, y->name);
        DIFF(x->n_rows != y->n_rows || x->n_cols != y->n_cols, "tensor %d shape", i);
        if (x->n_rows != y->n_rows || x->n_cols != y->n_cols)
            continue;
        size_t bytes = (size_t)(x->n_rows * x->n_cols) * sizeof(float);
        DIFF(memcmp(x->param, y->param, bytes) != 0, "tensor %d param", i);
        DIFF(memcmp(x->adam_m, y->adam_m, bytes) != 0, "tensor %d adam_m", i);
        DIFF(memcmp(x->adam_v, y->adam_v, bytes) != 0, "tensor %d adam_v", i);
    }
    DIFF(a->step != b->step, "step");
    DIFF(a->optim_step != b->optim_step, "optim_step");
    DIFF(a->schedule_pos != b->schedule_pos, "schedule_pos");
    DIFF(a->samples_done != b->samples_done, "samples_done");
    DIFF(memcmp(&a->lr, &b->lr, sizeof a->lr) != 0, "lr");
    DIFF(memcmp(a->rng, b->rng, sizeof a->rng) != 0, "rng");
    DIFF(a->dp_size != b->dp_size, "dp_size");
    if (a->dp_size == b->dp_size)
        DIFF(memcmp(a->stream_pos, b->stream_pos, (size_t)a->dp_size * 8) != 0, "stream_pos");
    DIFF(strcmp(a->job_yaml, b->job_yaml) != 0, "job_yaml");
    DIFF(a->model_hash != b->model_hash, "model_hash");
    DIFF(strcmp(a->model_dir, b->model_dir) != 0, "model_dir");
    DIFF(a->scores.n_rows != b->scores.n_rows, "score rows %lld vs %lld",
         (long long)a->scores.n_rows, (long long)b->scores.n_rows);
    for (int64_t i = 0; i < a->scores.n_rows && i < b->scores.n_rows; i++) {
        const CkptScoreRow *x = &a->scores.rows[i], *y = &b->scores.rows[i];
        int same = x->sample == y->sample && x->rank == y->rank && x->step == y->step &&
                   x->tokens == y->tokens && memcmp(&x->ce, &y->ce, 4) == 0 &&
                   memcmp(&x->ppl, &y->ppl, 4) == 0 && x->selected == y->selected &&
                   memcmp(&x->weight, &y->weight, 4) == 0;
        DIFF(!same, "score row %lld", (long long)i);
    }
    return n;
}

const char *fixture_dir(const char *name) {
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s/ckpt-%s", tu_tmp_dir(), name);
    if (tu_system("rm -rf '%s' && mkdir -p '%s'", buf, buf) != 0) {
        printf("cannot make %s\n", buf);
        abort();
    }
    return buf;
}

int fixture_copy(const char *src, const char *dst, size_t n_bytes) {
    size_t n = 0;
    char *data = tu_read_file(src, &n);
    if (data == NULL)
        return -1;
    FILE *f = fopen(dst, "wb");
    size_t keep = n_bytes < n ? n_bytes : n;
    int ok = f != NULL && fwrite(data, 1, keep, f) == keep;
    if (f != NULL)
        ok &= fclose(f) == 0;
    free(data);
    return ok ? 0 : -1;
}

int fixture_has(const char *msg, const char *fragment) {
    if (strstr(msg, fragment) != NULL)
        return 1;
    printf("  message \"%s\"\n  lacks \"%s\"\n", msg, fragment);
    return 0;
}

unsigned char *fixture_find(unsigned char *data, size_t n, const void *pat, size_t m) {
    for (size_t i = 0; m <= n && i <= n - m; i++)
        if (memcmp(data + i, pat, m) == 0)
            return data + i;
    return NULL;
}
