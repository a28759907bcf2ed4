#!/usr/bin/env python3
"""tools/gpu/adapteval_lengths.py -- the prompt lengths of the AdaptEval sets, as the table
`tlm bench --online` draws from (launcher/bench/bench_online.c, k_prompt_quantiles).

Prompts are the example jobs' data.prompt columns (instruction and input, or question for
agriculture-qa) joined by "\\n", tokenized with the Llama-2 SentencePiece model of
../shared/tokenizers/llama2 (pip sentencepiece); the chat template's tokens are not counted. Prints per set the quantiles and mean, then the 17
sixteenth-quantiles (0, 1/16, ..., 1) over all sets pooled: the C table.

    python3 tools/gpu/adapteval_lengths.py [--shared ../shared]
"""
import argparse
import glob
import json
import os

import sentencepiece as spm

PROMPT_KEYS = ("instruction", "input", "question")  # jobs/*-online.yaml data.prompt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.environ.get("TLM_SHARED_DIR", "../shared"))
    a = ap.parse_args()
    sp = spm.SentencePieceProcessor(model_file=f"{a.shared}/tokenizers/llama2/tokenizer.model")
    pooled = []
    for path in sorted(glob.glob(f"{a.shared}/data/adapteval/*.json")):
        with open(path) as f:
            rows = json.load(f)
        texts = ["\n".join(r[k] for k in PROMPT_KEYS if r.get(k)) for r in rows]
        lens = sorted(len(ids) for ids in sp.encode(texts))
        q = [lens[min(len(lens) - 1, int(p * len(lens)))] for p in (0.1, 0.5, 0.9, 0.99)]
        print(f"{os.path.basename(path)}: {len(lens)} prompts, p10/p50/p90/p99 {q}, "
              f"mean {sum(lens) / len(lens):.1f}")
        pooled += lens
    pooled.sort()
    n = len(pooled)
    table = [pooled[min(n - 1, i * n // 16)] for i in range(17)]
    print(f"pooled: {n} prompts, mean {sum(pooled) / n:.1f}; sixteenth-quantiles:")
    print(", ".join(str(x) for x in table))


if __name__ == "__main__":
    main()
