/* io/data/dataset_info.h -- internal to io/data: dataset names resolved through a
 * LLaMA-Factory dataset registry (data/dataset_info.json, the reference's
 * src/llamafactory/data/parser.py get_dataset_list): each entry's file_name (relative to
 * the registry's folder), formatting (alpaca | sharegpt), columns and sharegpt tags, with
 * the reference's defaults. Entries tlm cannot read as a local single-turn text file
 * (hub or script sources, ranking, multimodal or tool columns, sampling) are refused by
 * name and reason. Reads the file once per call; thread-safe. */
#ifndef TLM_IO_DATASET_INFO_H
#define TLM_IO_DATASET_INFO_H

#include "io/base/err.h"
#include "io/data/dataset_record.h"

#define DS_PATH_BYTES 4096

/* One resolved dataset. */
typedef struct DsPart {
    char name[DS_COLUMN_BYTES]; /* its name in the registry */
    char path[DS_PATH_BYTES];   /* the data file */
    DsFormat fmt;
} DsPart;

/* Resolves names[0..n_names) (n_names <= DS_MAX_DATASETS) in the registry at info_path
 * into parts[] (caller-owned, n_names entries), in order. Errors name the registry, the
 * dataset and the key: "data/dataset_info.json: dataset \"geo\": not defined (defined:
 * a, b)". */
int dsinfo_resolve(const char *info_path, const char *const *names, int n_names,
                   DsPart *parts, Err *err);

/* The alpaca layout of a native job (dataset.h DsConfig: path, prompt fields,
 * response): missing prompt fields are errors. */
void dsinfo_native(const DsConfig *cfg, DsPart *part);

#endif
