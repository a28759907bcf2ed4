#!/usr/bin/env python3
"""tools/make_ttt_tasks.py -- a synthetic few-shot rule-learning task set for method ttt
(per-task test-time training, worker/loop/ttt.h), one task per line of JSONL:
{"id", "train": [{"input", "output"}...], "test": [{"input", "output"}]}.

Each task has one fixed string rule (reverse, upper-case, double the last letter, rotate
by one, first letter repeated, drop the vowels, ...) applied to words drawn from a fixed
word list; the demonstrations and the queries share the rule, so a model can only answer
well by learning it from the task's own demonstrations. Seeded: the same arguments give
the same file.

Usage: python tools/make_ttt_tasks.py OUT.jsonl [--tasks N] [--demos K] [--queries Q]
                                      [--seed S] [--words shared|builtin]
(--words shared draws the words from ../shared's GSM8K questions, when it is there.)
"""
import argparse
import json
import os
import random
import re

BUILTIN = ("apple river stone cloud green table light music paper water garden window "
           "forest candle bridge silver orange pepper rabbit winter summer yellow planet "
           "pencil basket mirror ladder button carpet dragon").split()

RULES = {
    "reverse": lambda w: w[::-1],
    "upper": lambda w: w.upper(),
    "double_last": lambda w: w + w[-1],
    "rotate": lambda w: w[1:] + w[0],
    "first_twice": lambda w: w[0] + w,
    "no_vowels": lambda w: re.sub("[aeiou]", "", w) or w,
    "swap_ends": lambda w: w[-1] + w[1:-1] + w[0] if len(w) > 1 else w,
    "dash": lambda w: "-".join(w),
}


def shared_words(root):
    path = os.path.join(root, "data", "adapteval", "gsm8k_random_5k.json")
    with open(path) as f:
        recs = json.load(f)
    words = set()
    for r in recs[:500]:
        words.update(w for w in re.findall(r"[a-z]+", r.get("instruction", "").lower())
                     if 4 <= len(w) <= 8)
    return sorted(words)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--tasks", type=int, default=8)
    ap.add_argument("--demos", type=int, default=4)
    ap.add_argument("--queries", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--words", choices=["builtin", "shared"], default="builtin")
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                     "shared"))
    a = ap.parse_args()
    rng = random.Random(a.seed)
    words = BUILTIN if a.words == "builtin" else shared_words(a.shared)
    names = sorted(RULES)
    with open(a.out, "w") as f:
        for t in range(a.tasks):
            rule = names[t % len(names)]
            ws = rng.sample(words, a.demos + a.queries)
            pair = lambda w: {"input": w, "output": RULES[rule](w)}
            f.write(json.dumps({"id": f"{rule}-{t}", "train": [pair(w) for w in ws[:a.demos]],
                                "test": [pair(w) for w in ws[a.demos:]]}) + "\n")


if __name__ == "__main__":
    main()
