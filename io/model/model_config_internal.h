/* io/model/model_config_internal.h -- helpers shared by model_config.c and
 * model_config_rope.c; not part of the public API (jansson types leak here only). */
#ifndef TLM_IO_MODEL_CONFIG_INTERNAL_H
#define TLM_IO_MODEL_CONFIG_INTERNAL_H

#include <jansson.h>
#include <stdint.h>

#include "io/base/err.h"
#include "io/model/model_config.h"

/* obj[key] as an integer / a number; missing or null gives dflt unless required. Errors
 * name path and the key (as label when non-NULL: "rope_scaling.factor") and say what
 * was found. */
int cfg_json_int(const char *path, const json_t *obj, const char *key, const char *label,
                 int required, int64_t dflt, int64_t *out, Err *err);
int cfg_json_num(const char *path, const json_t *obj, const char *key, const char *label,
                 int required, double dflt, double *out, Err *err);

/* rope_theta and rope scaling from root (rope_scaling, or transformers 5's
 * rope_parameters); needs cfg->max_pos already read. */
int cfg_read_rope(const char *path, const json_t *root, ModelConfig *cfg, Err *err);

#endif
