/* io/convert/convert_util.c -- JSON files, float formatting and RoPE row order shared by the
 * converters (see convert_util.h). */
#include "io/convert/convert_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/base/atomic_file.h"

int conv_write_json(const char *path, json_t *root, Err *err) {
    if (root == NULL)
        return err_set(err, "%s: out of memory building the JSON", path);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    json_decref(root);
    if (text == NULL)
        return err_set(err, "%s: out of memory building the JSON", path);
    int rc = af_write_line(path, text, err); /* ends with a newline, as HF's files do */
    free(text);
    return rc;
}

int conv_make_dirs(const char *dir, Err *err) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return err_set(err, "%s: path too long", dir);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return err_set(err, "%s: cannot create %s: %s", dir, buf, strerror(errno));
        *p = saved;
        if (saved == '\0')
            break;
    }
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return err_set(err, "%s: exists and is not a directory", dir);
    return 0;
}

int conv_remove_config(const char *dir, Err *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (unlink(path) != 0 && errno != ENOENT)
        return err_set(err, "%s: cannot remove the old config.json: %s", dir, strerror(errno));
    return 0;
}

double conv_f32_decimal(float f) {
    char buf[32];
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, (double)f);
        const double d = strtod(buf, NULL);
        if ((float)d == f)
            return d;
    }
    return (double)f; /* 9 significant digits always round-trip a float32 */
}

void conv_rope_rows_to_halves(const float *src, float *dst, int64_t n_heads, int64_t head_dim,
                              int64_t n_cols) {
    const int64_t half = head_dim / 2;
    const size_t row_bytes = (size_t)n_cols * sizeof(float);
    for (int64_t h = 0; h < n_heads; h++)
        for (int64_t i = 0; i < half; i++) {
            const float *s = src + (h * head_dim + 2 * i) * n_cols;
            memcpy(dst + (h * head_dim + i) * n_cols, s, row_bytes);
            memcpy(dst + (h * head_dim + half + i) * n_cols, s + n_cols, row_bytes);
        }
}
