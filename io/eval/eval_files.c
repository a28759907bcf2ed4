/* io/eval/eval_files.c -- finding generated_predictions.jsonl in a run's output directory
 * (tlm's layout or the TLM reference's predict-temperature_*-max_new_tokens_* folder). */
#include "io/eval/eval_files.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define REF_PREFIX "predict-temperature_"
#define REF_MIDDLE "-max_new_tokens_"

static int is_file(const char *path) {
    struct stat s;
    return stat(path, &s) == 0 && S_ISREG(s.st_mode);
}

static int join(char *out, size_t n_bytes, const char *a, const char *b, const char *c,
                Err *err) {
    int n = c != NULL ? snprintf(out, n_bytes, "%s/%s/%s", a, b, c)
                      : snprintf(out, n_bytes, "%s/%s", a, b);
    if (n < 0 || (size_t)n >= n_bytes)
        return err_set(err, "%s: path too long", a);
    return 0;
}

/* The reference's folder name: predict-temperature_<T>-max_new_tokens_<N>. */
static int is_reference_folder(const char *name) {
    return strncmp(name, REF_PREFIX, strlen(REF_PREFIX)) == 0 &&
           strstr(name + strlen(REF_PREFIX), REF_MIDDLE) != NULL;
}

/* The one predict-* folder of dir holding the file, into out; names all when several. */
static int find_reference(const char *dir, char *out, size_t n_bytes, Err *err) {
    DIR *d = opendir(dir);
    if (d == NULL)
        return err_set(err, "%s: cannot list: %s", dir, strerror(errno));
    char found[1024] = "", candidate[4096];
    int n_found = 0;
    size_t used = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_reference_folder(e->d_name) ||
            join(candidate, sizeof candidate, dir, e->d_name, EVAL_PREDICTIONS_FILE, NULL) != 0 ||
            !is_file(candidate))
            continue;
        if (n_found++ == 0 && join(out, n_bytes, dir, e->d_name, EVAL_PREDICTIONS_FILE, err) != 0)
            break;
        int w = snprintf(found + used, sizeof found - used, "%s%s", used ? ", " : "", e->d_name);
        if (w > 0 && used + (size_t)w < sizeof found)
            used += (size_t)w;
    }
    closedir(d);
    if (n_found == 1)
        return 0;
    if (n_found > 1)
        return err_set(err, "%s: %d prediction folders (%s): give the one to score", dir,
                       n_found, found);
    return err_set(err, "%s: no predictions: neither %s/" EVAL_PREDICTIONS_FILE
                   " (tlm) nor " REF_PREFIX "<T>" REF_MIDDLE "<N>/" EVAL_PREDICTIONS_FILE
                   " (the TLM reference)", dir, dir);
}

int eval_find_predictions(const char *path, char *out, size_t n_bytes, Err *err) {
    struct stat s;
    if (stat(path, &s) != 0)
        return err_set(err, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISDIR(s.st_mode)) {
        if ((size_t)snprintf(out, n_bytes, "%s", path) >= n_bytes)
            return err_set(err, "%s: path too long", path);
        return 0;
    }
    if (join(out, n_bytes, path, EVAL_PREDICTIONS_FILE, NULL, err) != 0)
        return -1;
    if (is_file(out))
        return 0;
    return find_reference(path, out, n_bytes, err);
}
