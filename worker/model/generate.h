/* worker/model/generate.h -- batched greedy generation with a KV cache.
 * A Generator owns a KV cache of max_slots sequences x max_ctx positions per layer and
 * the small workspaces of the decode loop, all allocated by gen_open; gen_run allocates
 * nothing. gen_run prefills the prompts as packed passes (long prompts split across
 * passes), writing K/V into each prompt's slot, then decodes one token per still-active
 * sequence per step; only each sequence's last position reaches the lm_head. Greedy
 * only (argmax, lowest id on ties, as torch.argmax); no sampling, no beam search.
 * Borrows the Model (which must outlive it) and uses the Model's activation workspace,
 * so a Model's passes and gen_run must not interleave. Not thread-safe. Under tp
 * (DESIGN §3) the KV cache holds this rank's KVH/tp kv heads and the argmax is
 * vocabulary-parallel; gen_run is then collective over tp: every tp rank of the model
 * must call it with the same prompts (and gen_open sizes). */
#ifndef TLM_WORKER_GENERATE_H
#define TLM_WORKER_GENERATE_H

#include <stdint.h>

#include "worker/adapter/lora.h"
#include "worker/model/model.h"

typedef struct Generator Generator;

/* A generator for m (borrowed) with max_slots concurrent sequences (<= the model's
 * max_seqs) of at most max_ctx positions each (prompt + new tokens, <= the model's
 * max_pos). Returns it (owned-after-return; gen_close) or NULL with err. */
Generator *gen_open(Model *m, int32_t max_slots, int64_t max_ctx, Err *err);
void gen_close(Generator *g); /* accepts NULL */

/* Greedy continuation of n_seqs prompts, packed back to back in prompts (host,
 * sum(prompt_lens)) with prompt_lens (host, n_seqs); both borrowed. lora (borrowed) may
 * be NULL for the base model. Each sequence stops after max_new_tokens new tokens or
 * right after emitting any of stop_ids (host, n_stop; the stop token is kept in the
 * output, as transformers' generate does). Writes out (host, n_seqs x max_new_tokens,
 * row-major; entries past a row's length are -1) and out_lens (host, n_seqs). More
 * sequences than slots run in successive waves. Errors: a prompt longer than max_ctx -
 * max_new_tokens + 1, a token outside the vocabulary, an adapter the model refuses. */
int gen_run(Generator *g, const Lora *lora, const int32_t *prompts, const int32_t *prompt_lens,
            int32_t n_seqs, int32_t max_new_tokens, const int32_t *stop_ids, int32_t n_stop,
            int32_t *out, int32_t *out_lens, Err *err);

#endif
