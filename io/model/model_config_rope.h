/* io/model/model_config_rope.h -- the RoPE part of reading config.json, for
 * model_config.c (not part of the public API; the tables and the hash it also defines
 * are declared in model_config.h). Pure data: nothing allocated survives. */
#ifndef TLM_IO_MODEL_CONFIG_ROPE_H
#define TLM_IO_MODEL_CONFIG_ROPE_H

#include <jansson.h>

#include "io/base/err.h"
#include "io/model/model_config.h"

/* rope_theta and rope scaling from root (rope_scaling, or transformers 5's
 * rope_parameters) into cfg; needs cfg->max_pos already read. Errors name path and the
 * key. */
int cfg_read_rope(const char *path, const json_t *root, ModelConfig *cfg, Err *err);

#endif
