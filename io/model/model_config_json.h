/* io/model/model_config_json.h -- typed reads of config.json keys, shared by
 * model_config.c and model_config_rope.c (not part of the public API: jansson types leak
 * here only). Each error names the file and the key and says what was found; no
 * defaults policy here (callers pass theirs). Pure functions of their arguments. */
#ifndef TLM_IO_MODEL_CONFIG_JSON_H
#define TLM_IO_MODEL_CONFIG_JSON_H

#include <jansson.h>
#include <stdint.h>

#include "io/base/err.h"

/* "an object", "an integer", ...: the JSON type of v for error messages (static). */
const char *cfg_json_kind(const json_t *v);

/* obj[key] as an integer / a number into *out; missing or null gives dflt unless
 * required. Errors name path and the key (as label when non-NULL:
 * "rope_scaling.factor") and say what was found. */
int cfg_json_int(const char *path, const json_t *obj, const char *key, const char *label,
                 int required, int64_t dflt, int64_t *out, Err *err);
int cfg_json_num(const char *path, const json_t *obj, const char *key, const char *label,
                 int required, double dflt, double *out, Err *err);

#endif
