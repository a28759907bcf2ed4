/* jobs/job_methods.h -- the registry of the test-time objectives a job can name: one row
 * per method, the single source of the schema's allowed method.name values, the
 * JobMethod enum, the error text that lists the choices, what each method needs of the
 * rest of the job (job_validate refuses the rest at load, naming the key, file and line)
 * and each method's own hyper-parameters (keys method.<name>.<param>, their defaults and
 * ranges). worker/methods/method.c links row NAME to `const Method method_NAME`, defined
 * in worker/methods/method_NAME.c; worker/methods/README.md says how to add one.
 * Static data only; thread-safe. */
#ifndef TLM_JOBS_JOB_METHODS_H
#define TLM_JOBS_JOB_METHODS_H

#include <math.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a method needs of the rest of the job (a row's `needs`, bits). */
#define JOB_NEEDS_ANSWERS 1u    /* trains on each sample's generated answer: those exist
                                 * before the update epoch only online, and an update step
                                 * hands a method the answer of one sample only, so
                                 * method.setting online and optim.batch_size 1 */
#define JOB_NEEDS_WHOLE_VOCAB 2u /* reads every token's probability on one rank: under
                                 * parallel.tp > 1 a rank holds a slice of the vocabulary */

/* The methods: X(ID, name, needs, what). ID makes JOB_<ID>; name is method.name and the
 * implementation's symbol suffix. The first row is the default. */
#define JOB_METHOD_LIST(X)                                                                  \
    X(TLM, tlm, 0u, "the TLM objective: perplexity-weighted input ce of the samples above "  \
                    "the threshold (Hu et al., ICML 2025)")                                  \
    X(NONE, none, 0u, "the base model: every sample scored, never updated")                  \
    X(TENT, tent, JOB_NEEDS_ANSWERS | JOB_NEEDS_WHOLE_VOCAB,                                 \
      "entropy of the generated answer (Wang et al., ICLR 2021)")                            \
    X(EATA, eata, JOB_NEEDS_ANSWERS | JOB_NEEDS_WHOLE_VOCAB,                                 \
      "entropy of the reliable answers plus a Fisher anti-forgetting term (Niu et al., "    \
      "ICML 2022)")                                                                          \
    X(COME, come, JOB_NEEDS_ANSWERS | JOB_NEEDS_WHOLE_VOCAB,                                 \
      "conservatively minimised entropy of the generated answer (Zhang et al., ICLR 2025)")  \
    X(TTT, ttt, 0u,                                                                          \
      "per-task test-time training: a fresh adapter per task of a task file, trained on "   \
      "its demonstrations' outputs, then dropped (Akyurek et al., 2024)")

/* Each method's own hyper-parameters, all reals: P(METHOD, ID, method_name, param, default,
 * lo, hi, lo_open, hi_open, what). The key is method.<method_name>.<param>; ID makes
 * JOB_MP_<METHOD>_<ID>. The TLM objective's threshold and lamb predate the registry and
 * stay method.threshold / method.lamb (DESIGN §6, the reference's configs). */
#define JOB_METHOD_PARAM_LIST(P)                                                             \
    P(EATA, E_MARGIN_FRAC, eata, e_margin_frac, 0.4, 0.0, 1.0, 1, 0,                         \
      "E0 = e_margin_frac * ln V: a sample is used when its mean answer entropy is below "   \
      "E0 (EATA's e_margin = 0.4 ln C, C classes = V tokens)")                               \
    P(EATA, FISHER_ALPHA, eata, fisher_alpha, 2000.0, 0.0, INFINITY, 0, 0,                   \
      "lambda of the Fisher regulariser (EATA's fisher_alpha, its ImageNet default; 0 "     \
      "turns it off)")

#define JOB_METHOD_ENUM_(ID, name, needs, what) JOB_##ID,
typedef enum JobMethod { JOB_METHOD_LIST(JOB_METHOD_ENUM_) JOB_N_METHODS } JobMethod;
#undef JOB_METHOD_ENUM_

#define JOB_METHOD_PARAM_ENUM_(M, ID, m, p, def, lo, hi, lo_open, hi_open, what) \
    JOB_MP_##M##_##ID,
typedef enum JobMethodParam {
    JOB_METHOD_PARAM_LIST(JOB_METHOD_PARAM_ENUM_) JOB_N_METHOD_PARAMS
} JobMethodParam;
#undef JOB_METHOD_PARAM_ENUM_

/* Room for the parameter values in a JobSpec (an array cannot have size 0). */
#define JOB_METHOD_PARAM_SLOTS (JOB_N_METHOD_PARAMS > 0 ? JOB_N_METHOD_PARAMS : 1)

/* One row of the method list. */
typedef struct JobMethodInfo {
    const char *name;  /* method.name */
    unsigned needs;    /* JOB_NEEDS_* bits */
    const char *what;  /* one line for messages and docs */
} JobMethodInfo;

/* One method parameter. */
typedef struct JobMethodParamInfo {
    JobMethod method;  /* the method it belongs to */
    const char *key;   /* "method.eata.fisher_alpha" */
    double def, lo, hi;
    int lo_open, hi_open; /* exclusive bounds */
    const char *what;
} JobMethodParamInfo;

/* The rows, by JobMethod / JobMethodParam (static; the schema's table points into the
 * second). */
extern const JobMethodInfo job_method_rows[JOB_N_METHODS];
extern const JobMethodParamInfo job_method_param_rows[JOB_METHOD_PARAM_SLOTS];

/* The row of m, or NULL when m is not a method (borrowed, static). */
const JobMethodInfo *job_method_info(JobMethod m);
/* m's name ("tlm"), or "?" when m is not a method (borrowed, static). */
const char *job_method_name(JobMethod m);
/* The method named name, or -1. */
int job_method_find(const char *name);
/* The default of parameter p (its row's def). */
double job_method_param_default(JobMethodParam p);
/* Every method's name joined by sep ("tlm, none, tent, eata, come") into out; truncated to
 * out_bytes (>= 1). */
void job_method_names(const char *sep, char *out, size_t out_bytes);

#ifdef __cplusplus
}
#endif
#endif
