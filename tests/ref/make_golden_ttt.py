#!/usr/bin/env python3
"""tests/ref/make_golden_ttt.py -- independent PyTorch/transformers/peft reference for the
per-task test-time training of method ttt (worker/loop/ttt_task.c, Akyurek et al. 2024).

One task's training on the tiny random Llama of tests/data/golden/llama_gqa (made by
make_golden.py): leave-one-out examples built from 4 demonstrations (token level: each
demonstration in turn is the target, the other three its in-context examples), the loss on
the target output's tokens only (a mask), optim.batch_size 2 (a step's loss is the mean of
its examples' mean output ce), 3 epochs over the examples in order, AdamW with global-norm
clipping at 1.0 and a constant lr, LoRA rank 8 on all seven projections of every layer.
Everything in float64 from the stored BF16 weights; written as F32 to
tests/data/golden/ttt/golden.safetensors (+ golden.json): the packed examples and masks,
the initial adapter (A from PEFT's init, B = 0), the adapter after training and the loss of
every step. test_ttt_golden drives worker/loop/ttt.h's ttt_train with the same examples and
init and compares (<= 1e-4 norm-wise relative per tensor).

Usage: python tests/ref/make_golden_ttt.py [--out DIR]   (CI reads the files; no torch)
"""
import argparse
import json
import os
import sys

import numpy as np
import peft
import torch
import transformers
from peft import LoraConfig, get_peft_model, get_peft_model_state_dict
from safetensors.torch import save_file
from transformers import LlamaForCausalLM

SCRIPT_VERSION = "1.0"
SEED = 1701
N_DEMOS = 4
IN_LEN, OUT_LEN = (3, 7), (2, 5)   # token counts drawn in [lo, hi)
BOS, SEP, ASSISTANT = 1, 2, 3
FIRST_ID = 4
LORA_R, LORA_ALPHA = 8, 16
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
EPOCHS, BATCH, LR = 3, 2, 2e-3
MAX_GRAD_NORM, BETAS, EPS, WD = 1.0, (0.9, 0.999), 1e-8, 0.0


def log(*a):
    print(*a, flush=True)


def examples(rng, vocab):
    """Leave-one-out: [BOS] (in out SEP) for each other demonstration, then the target's
    in ASSISTANT out; the mask marks the target out."""
    def draw(lo_hi):
        return [int(t) for t in rng.integers(FIRST_ID, vocab, size=int(rng.integers(*lo_hi)))]
    demos = [(draw(IN_LEN), draw(OUT_LEN)) for _ in range(N_DEMOS)]
    seqs, masks = [], []
    for j in range(N_DEMOS):
        ids = [BOS]
        for c in range(N_DEMOS):
            if c != j:
                ids += demos[c][0] + demos[c][1] + [SEP]
        ids += demos[j][0] + [ASSISTANT]
        mask = [0] * len(ids) + [1] * len(demos[j][1])
        ids += demos[j][1]
        seqs.append(ids)
        masks.append(mask)
    return seqs, masks


def masked_ce(model, ids, mask):
    x = torch.tensor([ids])
    logits = model(input_ids=x).logits[0].to(torch.float64)
    logp = torch.log_softmax(logits[:-1], dim=-1)
    tgt = torch.tensor(ids[1:])
    m = torch.tensor(mask[1:], dtype=torch.float64)
    nll = -logp.gather(1, tgt[:, None])[:, 0]
    return (nll * m).sum() / m.sum()


def lora_named(pm):
    out = {}
    for name, p in pm.named_parameters():
        if "lora_" in name:
            out[name.replace(".default.", ".")] = p
    assert set(get_peft_model_state_dict(pm).keys()) == set(out.keys())
    return dict(sorted(out.items()))


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "data", "golden", "ttt"))
    args = ap.parse_args()
    model_dir = os.path.join(here, "..", "data", "golden", "llama_gqa")
    torch.set_num_threads(2)
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    base = LlamaForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16).to(torch.float64)
    seqs, masks = examples(rng, base.config.vocab_size)
    cfg = LoraConfig(r=LORA_R, lora_alpha=LORA_ALPHA, lora_dropout=0.0, target_modules=TARGETS,
                     bias="none", task_type="CAUSAL_LM", init_lora_weights=True)
    pm = get_peft_model(base, cfg).to(torch.float64)
    params = lora_named(pm)
    with torch.no_grad():   # the values the C engine reads back from the F32 file
        for p in params.values():
            p.copy_(p.to(torch.float32).to(torch.float64))
    init = {k: p.detach().clone() for k, p in params.items()}
    plist = list(params.values())
    opt = torch.optim.AdamW(plist, lr=LR, betas=BETAS, eps=EPS, weight_decay=WD, foreach=False)
    losses = []
    pm.train()
    for _ in range(EPOCHS):
        for s in range(0, len(seqs), BATCH):
            batch = range(s, min(s + BATCH, len(seqs)))
            loss = sum(masked_ce(pm, seqs[i], masks[i]) for i in batch) / len(batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(plist, MAX_GRAD_NORM)
            opt.step()
            losses.append(loss.item())
    log("losses", [round(x, 4) for x in losses])
    tensors = {"ttt.tokens": torch.tensor([t for s in seqs for t in s], dtype=torch.int32),
               "ttt.seq_lens": torch.tensor([len(s) for s in seqs], dtype=torch.int32),
               "ttt.mask": torch.tensor([m for ms in masks for m in ms], dtype=torch.int32),
               "ttt.loss": torch.tensor(losses, dtype=torch.float32)}
    for k, p in init.items():
        tensors["ttt.init." + k] = p.to(torch.float32)
    for k, p in params.items():
        tensors["ttt.final." + k] = p.detach().to(torch.float32)
    os.makedirs(args.out, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()},
              os.path.join(args.out, "golden.safetensors"),
              metadata={"generator": "tests/ref/make_golden_ttt.py", "version": SCRIPT_VERSION})
    meta = {"model": "../llama_gqa", "epochs": EPOCHS, "batch_size": BATCH, "lr": LR,
            "max_grad_norm": MAX_GRAD_NORM, "adamw": {"betas": list(BETAS), "eps": EPS,
                                                      "weight_decay": WD},
            "lora_r": LORA_R, "lora_alpha": LORA_ALPHA, "lora_targets": TARGETS,
            "n_examples": len(seqs), "n_demos": N_DEMOS, "seed": SEED,
            "versions": {"script": SCRIPT_VERSION, "python": sys.version.split()[0],
                         "torch": torch.__version__, "transformers": transformers.__version__,
                         "peft": peft.__version__, "numpy": np.__version__}}
    with open(os.path.join(args.out, "golden.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
        f.write("\n")
    log("wrote", args.out)


if __name__ == "__main__":
    main()
