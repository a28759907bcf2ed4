/* jobs/job_schema.c -- the key table of the job spec and its typed setters (see
 * job_schema.h). Ranges are the values that make sense, never clamps: a value outside
 * them is an error that names what was expected. */
#include "jobs/job_schema.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(JobMethod) == sizeof(int) && sizeof(JobSetting) == sizeof(int) &&
                   sizeof(JobSchedule) == sizeof(int) && sizeof(JobBackend) == sizeof(int) &&
                   sizeof(JobOnError) == sizeof(int) && sizeof(JobLossTokens) == sizeof(int) &&
                   sizeof(JobTttLoss) == sizeof(int) && sizeof(JobCpuWeights) == sizeof(int),
               "enums are stored through int pointers");

/* "auto" (the default: the launcher resolves it from the model's own chat template,
 * tmpl_resolve) and the names io/text/chat_template.c registers (test_job checks each). */
static const char *const templates[] = {"auto", "llama3", "llama2", "qwen", "chatml",
                                        "mistral", "none", NULL};
/* method.name's choices: the registry's rows, in JobMethod order (jobs/job_methods.h). */
#define METHOD_NAME_(ID, name, needs, what) #name,
static const char *const methods[] = {JOB_METHOD_LIST(METHOD_NAME_) NULL};
#undef METHOD_NAME_
static const char *const settings[] = {"online", "offline", NULL};
static const char *const loss_tokens[] = {"all", "content", NULL};
static const char *const schedules[] = {"constant", "cosine", NULL};
static const char *const backends[] = {"auto", "cpu", "cuda", NULL};
static const char *const cpu_weights[] = {"fp32", "bf16", NULL};
/* model.weights: JobWeights order; the names are kernels/ops.h weight_format_name's */
static const char *const weight_formats[] = {"auto", "f32",  "bf16", "q8_0", "q4_0",
                                             "q4_1", "q4_k", "q6_k", "nf4",  NULL};
static const char *const on_errors[] = {"fail", "skip", NULL};
static const char *const ttt_losses[] = {"output", "all", NULL};
/* The projections DESIGN §1 allows LoRA on (Llama/Qwen2/Mistral names). */
static const char *const projections[] = {"q_proj",    "k_proj", "v_proj",   "o_proj",
                                          "gate_proj", "up_proj", "down_proj", NULL};

#define AT(member) offsetof(JobSpec, member)
#define STR(k, m, lo_) {.key = k, .kind = JF_STRING, .off = AT(m), .size = sizeof(((JobSpec *)0)->m), .lo = lo_}
#define ENUM(k, m, c) {.key = k, .kind = JF_ENUM, .off = AT(m), .choices = c}
/* hi_: the largest value the code that reads the key can hold (the int32 of a token
 * count, a batch index or a LoRA rank), so nothing is ever truncated by a cast. */
#define INT(k, m, lo_, hi_) {.key = k, .kind = JF_INT, .off = AT(m), .lo = lo_, .hi = hi_}
#define I32 2147483647.0 /* INT32_MAX */
#define I64 9223372036854775807.0 /* INT64_MAX (as a double: 2^63, above every int64) */
#define REAL(k, m, lo_, hi_, lop, hop) \
    {.key = k, .kind = JF_REAL, .off = AT(m), .lo = lo_, .hi = hi_, .lo_open = lop, .hi_open = hop}
#define BOOL(k, m) {.key = k, .kind = JF_BOOL, .off = AT(m)}
/* lo: the fewest items (1, or 0 where an empty list means "not used") */
#define LIST(k, m, n, c, maxn, lo_) \
    {.key = k, .kind = JF_LIST, .off = AT(m), .count_off = AT(n), .choices = c, \
     .max_items = maxn, .lo = lo_}
/* A registry parameter row: a real in method.params, its range and key from the row. */
#define METHOD_PARAM(M, ID, m, p, def, lo_, hi_, lop, hop, what)                          \
    {.key = "method." #m "." #p, .kind = JF_REAL,                                          \
     .off = AT(method.params) + (size_t)JOB_MP_##M##_##ID * sizeof(double), .lo = lo_,      \
     .hi = hi_, .lo_open = lop, .hi_open = hop,                                             \
     .param = &job_method_param_rows[JOB_MP_##M##_##ID]},

/* A key of method ttt's own section (written and compared only for a ttt job). */
#define TTT_STR(k, m, lo_) {.key = k, .kind = JF_STRING, .off = AT(m), .size = sizeof(((JobSpec *)0)->m), .lo = lo_, .method_only = JOB_TTT + 1}
#define TTT_INT(k, m, lo_, hi_) {.key = k, .kind = JF_INT, .off = AT(m), .lo = lo_, .hi = hi_, .method_only = JOB_TTT + 1}

static const JobField fields[] = {
    STR("model.path", model.path, 1),
    ENUM("model.weights", weights, weight_formats),
    {.key = "model.template", .kind = JF_CHOICE, .off = AT(model.template_name),
     .size = JOB_NAME_BYTES, .choices = templates},
    STR("data.path", data.path, 0),
    STR("data.dataset_info", data.dataset_info, 0),
    LIST("data.dataset", data.datasets, data.n_datasets, NULL, JOB_MAX_DATASETS, 0),
    LIST("data.prompt", data.prompt, data.n_prompt, NULL, JOB_MAX_FIELDS, 1),
    STR("data.response", data.response, 0),
    {.key = "data.max_samples", .kind = JF_SAMPLES, .off = AT(data.max_samples)},
    INT("data.cutoff_len", data.cutoff_len, 1, I32),
    ENUM("data.on_error", data.on_error, on_errors),
    ENUM("method.name", method.name, methods),
    ENUM("method.setting", method.setting, settings),
    ENUM("method.loss_tokens", method.loss_tokens, loss_tokens),
    REAL("method.threshold", method.threshold, -INFINITY, INFINITY, 0, 0),
    REAL("method.lamb", method.lamb, 0, INFINITY, 0, 0),
    INT("method.stream_batch", method.stream_batch, 1, I32),
    JOB_METHOD_PARAM_LIST(METHOD_PARAM)
    TTT_INT("ttt.epochs", ttt.epochs, 0, I32),
    {.key = "ttt.leave_one_out", .kind = JF_BOOL, .off = AT(ttt.leave_one_out),
     .method_only = JOB_TTT + 1},
    TTT_INT("ttt.permutations", ttt.permutations, 1, I32),
    {.key = "ttt.loss_on", .kind = JF_ENUM, .off = AT(ttt.loss_on), .choices = ttt_losses,
     .method_only = JOB_TTT + 1},
    TTT_INT("ttt.max_demos", ttt.max_demos, 1, I32),
    TTT_INT("ttt.tasks_per_pass", ttt.tasks_per_pass, 1, TTT_MAX_TASKS_PER_PASS),
    {.key = "ttt.save_adapters", .kind = JF_BOOL, .off = AT(ttt.save_adapters),
     .method_only = JOB_TTT + 1},
    TTT_STR("ttt.separator", ttt.separator, 0),
    TTT_STR("ttt.join", ttt.join, 0),
    TTT_STR("ttt.fields.id", ttt.fields.id, 1),
    TTT_STR("ttt.fields.train", ttt.fields.train, 1),
    TTT_STR("ttt.fields.test", ttt.fields.test, 1),
    TTT_STR("ttt.fields.input", ttt.fields.input, 1),
    TTT_STR("ttt.fields.output", ttt.fields.output, 1),
    INT("lora.rank", lora.rank, 1, I32),
    REAL("lora.alpha", lora.alpha, 0, INFINITY, 1, 0),
    LIST("lora.targets", lora.targets, lora.n_targets, projections, JOB_MAX_TARGETS, 1),
    REAL("optim.lr", optim.lr, 0, INFINITY, 1, 0),
    ENUM("optim.schedule", optim.schedule, schedules),
    REAL("optim.warmup_ratio", optim.warmup_ratio, 0, 1, 0, 1),
    INT("optim.batch_size", optim.batch_size, 1, I32),
    REAL("optim.max_grad_norm", optim.max_grad_norm, 0, INFINITY, 0, 0),
    BOOL("optim.reset_per_batch", optim.reset_per_batch),
    BOOL("optim.gradient_checkpointing", optim.gradient_checkpointing),
    REAL("optim.beta1", optim.beta1, 0, 1, 0, 1),
    REAL("optim.beta2", optim.beta2, 0, 1, 0, 1),
    REAL("optim.eps", optim.eps, 0, INFINITY, 1, 0),
    REAL("optim.weight_decay", optim.weight_decay, 0, INFINITY, 0, 0),
    INT("generate.max_new_tokens", generate.max_new_tokens, 1, I32),
    INT("parallel.tp", parallel.tp, 1, I32),
    /* `backend: cpu` is the shorthand of backend.name (jobs/job.c jf_shorthand) */
    ENUM("backend.name", backend, backends),
    ENUM("backend.cpu_weights", cpu_weights, cpu_weights),
    STR("output.dir", output.dir, 1),
    INT("output.checkpoint_every", output.checkpoint_every, 0, I64),
    INT("output.keep", output.keep, 1, I32),
    BOOL("output.reference_layout", output.reference_layout),
    {.key = "seed", .kind = JF_SEED, .off = AT(seed)},
};
#define N_FIELDS ((int)(sizeof fields / sizeof fields[0]))
_Static_assert(sizeof fields / sizeof fields[0] <= JOB_MAX_KEYS,
               "JOB_MAX_KEYS (jobs/job.h) must cover the key table");
_Static_assert(sizeof methods / sizeof methods[0] == JOB_N_METHODS + 1,
               "one method.name choice per registry row");

const JobField *jf_table(int *n_fields) {
    *n_fields = N_FIELDS;
    return fields;
}

static const JobField *find_exact(const char *key) {
    for (int i = 0; i < N_FIELDS; i++)
        if (strcmp(fields[i].key, key) == 0)
            return &fields[i];
    return NULL;
}

/* A section with a `name` key takes its name as a scalar too: `backend: cpu` (and --set
 * backend=cpu) is backend.name. */
const JobField *jf_find(const char *key) {
    const JobField *f = find_exact(key);
    char name[160];
    if (f == NULL && snprintf(name, sizeof name, "%s.name", key) < (int)sizeof name)
        f = find_exact(name);
    return f;
}

int jf_index(const JobField *f) { return (int)(f - fields); }

int jf_applies(const JobField *f, const JobSpec *spec) {
    if (f->method_only != 0)
        return f->method_only == (int)spec->method.name + 1;
    return f->param == NULL || f->param->method == spec->method.name;
}

int jf_given(const JobSpec *spec, const char *key) {
    const JobField *f = jf_find(key);
    return f != NULL && spec->given_line[jf_index(f)] != 0;
}

/* 1 when key lies under section: "section.<rest>". */
static int under(const char *key, const char *section, size_t ns) {
    return strncmp(key, section, ns) == 0 && key[ns] == '.';
}

int jf_is_section(const char *name) {
    const size_t n = strlen(name);
    for (int i = 0; i < N_FIELDS; i++)
        if (under(fields[i].key, name, n))
            return 1;
    return 0;
}

void jf_section_keys(const char *section, char *out, size_t out_bytes) {
    size_t ns = strlen(section);
    size_t at = (size_t)snprintf(out, out_bytes, " (valid keys under %s:", section);
    int first = 1;
    for (int i = 0; i < N_FIELDS && at < out_bytes; i++)
        if (under(fields[i].key, section, ns)) {
            at += (size_t)snprintf(out + at, out_bytes - at, "%s %s", first ? "" : ",",
                                   fields[i].key + ns + 1);
            first = 0;
        }
    if (at < out_bytes)
        snprintf(out + at, out_bytes - at, ")");
}

static void join_choices(const char *const *c, char *out, size_t out_bytes) {
    size_t at = 0;
    out[0] = '\0';
    for (int i = 0; c[i] != NULL && at < out_bytes; i++)
        at += (size_t)snprintf(out + at, out_bytes - at, "%s%s", i ? "|" : "", c[i]);
}

void jf_expect(const JobField *f, char *out, size_t out_bytes) {
    char names[160];
    switch (f->kind) {
    case JF_STRING: snprintf(out, out_bytes, f->lo > 0 ? "a non-empty string" : "a string"); break;
    case JF_CHOICE:
    case JF_ENUM:
        join_choices(f->choices, names, sizeof names);
        snprintf(out, out_bytes, "one of %s", names);
        break;
    case JF_INT: snprintf(out, out_bytes, f->lo > 0 ? "a positive integer" : "a non-negative integer"); break;
    case JF_REAL:
        if (isinf(f->lo) && isinf(f->hi))
            snprintf(out, out_bytes, "a number");
        else if (isinf(f->hi))
            snprintf(out, out_bytes, f->lo_open ? "a positive number" : "a non-negative number");
        else
            snprintf(out, out_bytes, "a number in %c%g, %g%c", f->lo_open ? '(' : '[', f->lo,
                     f->hi, f->hi_open ? ')' : ']');
        break;
    case JF_BOOL: snprintf(out, out_bytes, "true or false"); break;
    case JF_LIST:
        if (f->choices == NULL) {
            snprintf(out, out_bytes, "a list of %d to %d %s", (int)f->lo, f->max_items,
                     f->lo > 0 ? "field names" : "names");
        } else {
            join_choices(f->choices, names, sizeof names);
            snprintf(out, out_bytes, "a list of distinct names from %s", names);
        }
        break;
    case JF_SAMPLES: snprintf(out, out_bytes, "a positive integer or all"); break;
    case JF_SEED: snprintf(out, out_bytes, "a non-negative integer"); break;
    }
}

static int fail_expect(const JobField *f, const char *text, int plain, char *why, size_t n) {
    char want[200];
    jf_expect(f, want, sizeof want);
    snprintf(why, n, "expected %s, got \"%s\"%s", want, text,
             plain ? "" : " (a quoted string)");
    return -1;
}

/* Whole-string integer parse (optional sign, decimal digits). */
static int parse_int(const char *s, long long *v) {
    char *end;
    if (s[0] == '\0' || strchr(s, ' ') != NULL)
        return -1;
    errno = 0;
    *v = strtoll(s, &end, 10);
    return (*end != '\0' || errno != 0) ? -1 : 0;
}

/* Whole-string finite real; hex floats and inf/nan spellings are refused. */
static int parse_real(const char *s, double *v) {
    char *end;
    if (s[0] == '\0' || strpbrk(s, "xXpP ") != NULL)
        return -1;
    *v = strtod(s, &end);
    return (*end != '\0' || !isfinite(*v)) ? -1 : 0;
}

static int in_range(const JobField *f, double v) {
    if (f->lo_open ? !(v > f->lo) : !(v >= f->lo))
        return 0;
    return f->hi_open ? v < f->hi : v <= f->hi;
}

static int choice_index(const char *const *c, const char *s) {
    for (int i = 0; c[i] != NULL; i++)
        if (strcmp(c[i], s) == 0)
            return i;
    return -1;
}

int jf_set_scalar(const JobField *f, JobSpec *spec, const char *text, int plain, char *why,
                  size_t why_bytes) {
    char *at = (char *)spec + f->off;
    long long iv = 0;
    double dv = 0;
    int idx;
    switch (f->kind) {
    case JF_STRING:
    case JF_CHOICE:
        if (plain && (strcmp(text, "null") == 0 || strcmp(text, "~") == 0))
            return fail_expect(f, text, plain, why, why_bytes);
        if ((f->kind == JF_STRING && f->lo > 0 && text[0] == '\0') ||
            (f->kind == JF_CHOICE && choice_index(f->choices, text) < 0))
            return fail_expect(f, text, plain, why, why_bytes);
        if (strlen(text) >= f->size) {
            snprintf(why, why_bytes, "longer than %zu bytes", f->size - 1);
            return -1;
        }
        memset(at, 0, f->size);
        memcpy(at, text, strlen(text));
        return 0;
    case JF_ENUM:
        if ((idx = choice_index(f->choices, text)) < 0)
            return fail_expect(f, text, plain, why, why_bytes);
        *(int *)at = idx;
        return 0;
    case JF_INT:
        if (!plain || parse_int(text, &iv) != 0 || (double)iv < f->lo)
            return fail_expect(f, text, plain, why, why_bytes);
        if ((double)iv > f->hi) {
            snprintf(why, why_bytes, "%lld is above %.0f, the largest value this key can "
                     "hold%s", iv, f->hi, f->hi == I32 ? " (a 32-bit integer)" : "");
            return -1;
        }
        *(int64_t *)at = iv;
        return 0;
    case JF_SAMPLES:
        if (plain && (strcmp(text, "all") == 0 || strcmp(text, "null") == 0 ||
                      strcmp(text, "~") == 0 || text[0] == '\0')) {
            *(int64_t *)at = -1;
            return 0;
        }
        if (!plain || parse_int(text, &iv) != 0 || iv < 1)
            return fail_expect(f, text, plain, why, why_bytes);
        *(int64_t *)at = iv;
        return 0;
    case JF_SEED:
        if (!plain || text[0] == '-' || parse_int(text, &iv) != 0)
            return fail_expect(f, text, plain, why, why_bytes);
        *(uint64_t *)at = (uint64_t)iv;
        return 0;
    case JF_REAL:
        if (!plain || parse_real(text, &dv) != 0 || !in_range(f, dv))
            return fail_expect(f, text, plain, why, why_bytes);
        *(double *)at = dv;
        return 0;
    case JF_BOOL:
        if (!plain)
            return fail_expect(f, text, plain, why, why_bytes);
        if (strcmp(text, "true") == 0 || strcmp(text, "True") == 0 || strcmp(text, "TRUE") == 0)
            *(int *)at = 1;
        else if (strcmp(text, "false") == 0 || strcmp(text, "False") == 0 ||
                 strcmp(text, "FALSE") == 0)
            *(int *)at = 0;
        else
            return fail_expect(f, text, plain, why, why_bytes);
        return 0;
    case JF_LIST: {
        /* A scalar is a comma-separated list, as the reference writes lora_target. */
        char buf[512], *items[JOB_MAX_TARGETS + JOB_MAX_FIELDS];
        int n = 0;
        snprintf(buf, sizeof buf, "%s", text);
        for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok != NULL;
             tok = strtok_r(NULL, ",", &save)) {
            while (*tok == ' ')
                tok++;
            for (char *e = tok + strlen(tok); e > tok && e[-1] == ' '; e--)
                e[-1] = '\0';
            if (n == (int)(sizeof items / sizeof items[0]))
                return fail_expect(f, text, plain, why, why_bytes);
            items[n++] = tok;
        }
        return jf_set_list(f, spec, (const char *const *)items, n, why, why_bytes);
    }
    }
    return -1;
}

int jf_set_list(const JobField *f, JobSpec *spec, const char *const *items, int n_items,
                char *why, size_t why_bytes) {
    char want[200];
    jf_expect(f, want, sizeof want);
    if (n_items < (int)f->lo || n_items > f->max_items) {
        snprintf(why, why_bytes, "expected %s, got %d items", want, n_items);
        return -1;
    }
    for (int i = 0; i < n_items; i++) {
        if (items[i][0] == '\0' || strlen(items[i]) >= JOB_NAME_BYTES ||
            (f->choices != NULL && choice_index(f->choices, items[i]) < 0)) {
            snprintf(why, why_bytes, "expected %s, got \"%s\"", want, items[i]);
            return -1;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(items[i], items[j]) == 0) {
                snprintf(why, why_bytes, "\"%s\" is listed twice", items[i]);
                return -1;
            }
    }
    char(*dst)[JOB_NAME_BYTES] = (char(*)[JOB_NAME_BYTES])((char *)spec + f->off);
    memset(dst, 0, (size_t)f->max_items * JOB_NAME_BYTES);
    for (int i = 0; i < n_items; i++)
        memcpy(dst[i], items[i], strlen(items[i]));
    *(int *)((char *)spec + f->count_off) = n_items;
    return 0;
}
