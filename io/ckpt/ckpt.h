/* io/ckpt/ckpt.h -- HDF5 checkpoints of a TLM run (DESIGN.md §5): one file per checkpoint,
 * "ckpt-<step>.h5" in output.dir, written atomically (PATH.tmp.PID, flush, close, fsync,
 * rename, fsync the folder) so a reader sees the old file or the whole new one. Holds
 * generic named fp32 tensors (the LoRA A/B under their PEFT keys, with AdamW moments),
 * the run's counters, RNG state, stream positions, job YAML, model hash and the score
 * table so far. Reading validates every dataset (presence, type, shape, version, CRC32
 * of the tensors) and names the file and dataset on any defect. Knows nothing of Lora or
 * JobSpec (io/ sits below worker/ and jobs/). HDF5's own error printing is silenced while
 * these functions run. Not thread-safe (HDF5 serial). Layout: see ckpt_write. */
#ifndef TLM_IO_CKPT_H
#define TLM_IO_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "io/base/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CKPT_FORMAT_VERSION 1
#define CKPT_MAX_TARGETS 7
#define CKPT_TARGET_BYTES 32
#define CKPT_PATH_BYTES 1024

/* One adapter tensor. On write every pointer is borrowed; from ckpt_read, owned by the
 * CkptState (ckpt_free). adam_m/adam_v NULL on write store zeros. */
typedef struct CkptTensor {
    char *name;             /* PEFT key, e.g. "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight" */
    int64_t n_rows, n_cols; /* A: (R, in), B: (out, R) */
    float *param;           /* host (n_rows, n_cols) */
    float *adam_m, *adam_v; /* host (n_rows, n_cols) */
} CkptTensor;

/* One row of the per-sample score table (scores.jsonl's fields). */
typedef struct CkptScoreRow {
    int64_t sample; /* index in the stream */
    int32_t rank;   /* dp rank that scored it */
    int64_t step;   /* update step it belonged to */
    int32_t tokens;
    float ce, ppl;
    uint8_t selected;
    float weight;
} CkptScoreRow;

/* A growable score table (host). Zeroed struct = empty; ckpt_scores_free releases. */
typedef struct CkptScores {
    CkptScoreRow *rows; /* owned, (n_rows) */
    int64_t n_rows, cap_rows;
} CkptScores;

/* Everything one checkpoint holds. Plain data: ckpt_write borrows every pointer;
 * ckpt_read allocates them (ckpt_free releases). */
typedef struct CkptState {
    /* /adapter */
    int32_t lora_rank;
    double lora_alpha;
    int n_targets; /* 1..CKPT_MAX_TARGETS */
    char targets[CKPT_MAX_TARGETS][CKPT_TARGET_BYTES]; /* "q_proj", ... */
    int n_tensors;
    CkptTensor *tensors; /* (n_tensors), in writing order (kept on read) */
    /* /state */
    int64_t step;         /* update steps done */
    int64_t optim_step;   /* AdamW step counter within the current stream batch */
    int64_t schedule_pos; /* position in the lr schedule */
    int64_t samples_done;
    double lr;            /* lr of the last step */
    uint64_t rng[4];      /* RNG state */
    /* /stream */
    int32_t dp_size;
    int64_t *stream_pos;  /* (dp_size): next stream position of each dp rank */
    /* /job, /model */
    char *job_yaml;       /* the resolved job spec (NUL-terminated) */
    uint64_t model_hash;  /* cfg_hash of the model config */
    char model_dir[CKPT_PATH_BYTES];
    /* /scores */
    CkptScores scores;
} CkptState;

/* Writes st to path atomically (path.tmp.PID, then rename). Layout:
 *   /                      attr format_version (int32), writer ("tlm")
 *   /adapter/<key>         float32 (n_rows, n_cols), one per tensor, creation order kept
 *   /adapter               attrs rank (int32), alpha (float64), targets (string[]),
 *                          n_tensors (int32), crc32 (uint32, over the data in order)
 *   /optim/m/<key>, /optim/v/<key>   float32, same shapes; attr crc32 on each group
 *   /state/{step,optim_step,schedule_pos,samples_done} int64 scalars, /state/lr float64,
 *   /state/rng             uint64 (4)
 *   /stream/position       int64 (dp_size), /stream/dp_size int32 scalar
 *   /job                   string scalar (YAML)
 *   /model/config_hash     uint64 scalar, /model/dir string scalar
 *   /scores                compound {sample i64, rank i32, step i64, tokens i32, ce f32,
 *                          ppl f32, selected u8, weight f32} (n), chunked, unlimited,
 *                          fletcher32; written by appending blocks
 * On error nothing is left under path (the temp file is removed); an existing file at
 * path stays as it was. One writer per path (under MPI: rank 0 only). */
int ckpt_write(const char *path, const CkptState *st, Err *err);

/* Reads and validates path into *st (caller-owned; zeroed first; ckpt_free releases
 * even after a failure). Errors name the file and the dataset: missing, wrong type or
 * shape, unsupported format_version, CRC mismatch, unreadable (truncated) file. */
int ckpt_read(const char *path, CkptState *st, Err *err);

/* ckpt_read + ckpt_free: 0 when the file is a complete, valid checkpoint. */
int ckpt_verify(const char *path, Err *err);

/* Frees what ckpt_read allocated; accepts a zeroed struct; safe twice. Only for states
 * filled by ckpt_read (a caller's own state for ckpt_write is the caller's). */
void ckpt_free(CkptState *st);

/* Appends n rows (borrowed, copied) to s, growing it. Errors: out of memory. */
int ckpt_scores_append(CkptScores *s, const CkptScoreRow *rows, int64_t n_rows, Err *err);
void ckpt_scores_free(CkptScores *s); /* accepts a zeroed struct; safe twice */

/* CRC-32 (IEEE 802.3, zlib's crc32) of n_bytes at data, continuing from crc (0 first). */
uint32_t ckpt_crc32(uint32_t crc, const void *data, size_t n_bytes);

/* ---- checkpoint directories (io/ckpt/ckpt_dir.c) ---- */

/* The checkpoints of a directory: files named ckpt-<step>.h5, newest (largest step)
 * first. Temp files (.tmp.PID) and other names are ignored. */
typedef struct CkptList {
    int n;
    char **paths;   /* owned, (n): "dir/ckpt-<step>.h5" */
    int64_t *steps; /* owned, (n) */
} CkptList;

/* "dir/ckpt-<step>.h5" into buf (n_bytes). Errors: does not fit. */
int ckpt_path(const char *dir, int64_t step, char *buf, size_t n_bytes, Err *err);

/* Lists dir (a missing dir gives an empty list). *out caller-owned; ckpt_list_free. */
int ckpt_list(const char *dir, CkptList *out, Err *err);
void ckpt_list_free(CkptList *l); /* accepts a zeroed struct; safe twice */

/* Deletes all but the newest keep (>= 1) checkpoints of dir. Errors name the file. */
int ckpt_prune(const char *dir, int keep, Err *err);

/* Removes the temp files of checkpoint writes that died (kill -9 inside ckpt_write leaves
 * "ckpt-<step>.h5.tmp.<pid>") from dir; call only where no write is live (one writer per
 * output folder, before its first checkpoint). Returns how many were removed (0 when dir
 * is missing or unreadable). */
int ckpt_remove_temps(const char *dir);

/* The newest checkpoint of dir that ckpt_verify accepts, into path_out (n_bytes) and
 * *step_out (may be NULL). Skipped corrupt files are logged (log_warn) with the reason.
 * Returns 1 when found, 0 when dir holds no checkpoint files, -1 (err naming the newest
 * file's defect) when files exist but none is valid, or on I/O errors. */
int ckpt_latest_valid(const char *dir, char *path_out, size_t n_bytes, int64_t *step_out,
                      Err *err);

/* ---- PEFT export (io/ckpt/ckpt_export.c) ---- */

/* Writes dir/adapter_model.safetensors (the adapter tensors under their PEFT keys, F32)
 * and dir/adapter_config.json with the values PEFT's save_pretrained writes for a LoRA on
 * a causal LM (peft_type LORA, r, lora_alpha, target_modules, ...) but only the keys that
 * PEFT 0.12 and later and vLLM accept, creating dir (and its parents) when absent; each
 * file atomically. base_model (borrowed) goes to base_model_name_or_path as given; NULL
 * uses st->model_dir (absolute since the run records it so; an older relative one is made absolute from the working directory) (-1 naming it and --base
 * when it does not exist from here). */
int ckpt_export_peft(const CkptState *st, const char *dir, const char *base_model, Err *err);

#ifdef __cplusplus
}
#endif
#endif
