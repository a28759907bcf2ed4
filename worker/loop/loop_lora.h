/* worker/loop/loop_lora.h -- the job's LoRA section turned into an allocated adapter, for
 * both loops (ttl.c streams one adapter; ttt.c one per task). */
#ifndef TLM_WORKER_LOOP_LOOP_LORA_H
#define TLM_WORKER_LOOP_LOOP_LORA_H

#include <stdint.h>

#include "comm/comm.h"
#include "jobs/job.h"
#include "worker/adapter/lora.h"
#include "worker/model/model.h"

/* lora.targets as LORA_BIT flags; an unknown name is left out (loop_lora_open names it). */
uint32_t loop_lora_targets(const JobSpec *job);

/* Allocates *lora from lora.{rank,alpha,targets}, sharded over tp (NULL at tp = 1).
 * The weights are not initialised: each loop seeds them its own way. */
int loop_lora_open(Lora *lora, const JobSpec *job, const Model *m, const Ops *ops, Comm *tp,
                   Err *err);

#endif
