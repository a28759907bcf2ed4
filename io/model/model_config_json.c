/* io/model/model_config_json.c -- the typed config.json getters (see model_config_json.h). */
#include "io/model/model_config_json.h"

const char *cfg_json_kind(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

int cfg_json_int(const char *path, const json_t *obj, const char *key, const char *label,
                 int required, int64_t dflt, int64_t *out, Err *err) {
    const json_t *v = json_object_get(obj, key);
    if (label == NULL)
        label = key;
    if (v == NULL || json_is_null(v)) {
        if (required)
            return err_set(err, "%s: key \"%s\": missing (expected a positive integer)", path,
                           label);
        *out = dflt;
        return 0;
    }
    if (!json_is_integer(v))
        return err_set(err, "%s: key \"%s\": expected an integer, got %s", path, label,
                       cfg_json_kind(v));
    *out = (int64_t)json_integer_value(v);
    return 0;
}

int cfg_json_num(const char *path, const json_t *obj, const char *key, const char *label,
                 int required, double dflt, double *out, Err *err) {
    const json_t *v = json_object_get(obj, key);
    if (label == NULL)
        label = key;
    if (v == NULL || json_is_null(v)) {
        if (required)
            return err_set(err, "%s: key \"%s\": missing (expected a number)", path, label);
        *out = dflt;
        return 0;
    }
    if (!json_is_number(v))
        return err_set(err, "%s: key \"%s\": expected a number, got %s", path, label,
                       cfg_json_kind(v));
    *out = json_number_value(v);
    return 0;
}

