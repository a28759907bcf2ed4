#!/usr/bin/env python3
"""The TLM effect on a real instruction-tuned model, measured (not a test).

SmolLM2-135M-Instruct (../shared, llama.cpp Q4_1 GGUF, converted to F32 by `tlm convert
gguf`) on the first N prompts of AdaptEval's GenMedGPT stream, online, the paper's settings
(LoRA q,v r 8, lr 5e-5, threshold 3, lambda 0.1, batch 1) with stream_batch 8 and 100, the
model's own ChatML template, max_new_tokens 128: `none` against `tlm` with
method.loss_tokens all (the reference: every input token) and content (the sample's own
text only), and the same at lr 5e-4. Per run: selected %, mean input ppl of the last 100
samples over every input token and over the content only (both views of the scoring
forward: scores.jsonl's ce_all / ce_content), ROUGE-1/2/L/Lsum and BLEU-4 from
`tlm eval --metric all`, and wall time. Prints a Markdown table; the raw runs stay in
OUT (default out/effect-smollm2).

  python3 tools/effect_smollm2.py [--samples 500] [--out DIR] [--only NAME,...]
                                  [--base f32,gguf]

--base gguf runs the same jobs with model.path the GGUF file itself, read in place with
its Q4_1/Q8_0 blocks kept quantized (model.weights auto; rows named NAME [gguf q4_1]);
f32 (the default) is its F32 conversion.

Runs one after another on the CPU backend; expect hours on a 2-core machine (generation
is most of it). A finished run (summary.json present) is not run again.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TLM = os.environ.get("TLM_BIN", os.path.join(ROOT, "build", "launcher", "tlm"))
SHARED = os.environ.get("TLM_SHARED_DIR", os.path.join(ROOT, "..", "shared"))
GGUF = os.path.join(SHARED, "models", "smollm2-135m-instruct", "SmolLM2-135M-Instruct.Q4_1.gguf")
DATA = os.path.join(SHARED, "data", "adapteval", "GenMedGPT_random_5k.json")

# name -> (method, loss_tokens, stream_batch, lr)
RUNS = [
    ("none", "none", "all", 100, 5e-5),
    ("tlm-all-sb8", "tlm", "all", 8, 5e-5),
    ("tlm-all-sb100", "tlm", "all", 100, 5e-5),
    ("tlm-content-sb8", "tlm", "content", 8, 5e-5),
    ("tlm-content-sb100", "tlm", "content", 100, 5e-5),
    ("tlm-all-sb100-lr5e-4", "tlm", "all", 100, 5e-4),
    ("tlm-content-sb100-lr5e-4", "tlm", "content", 100, 5e-4),
]


def run(cmd, log):
    with open(log, "w") as f:
        return subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT)


def tail_ppl(scores, key, tail):
    rows = [json.loads(line) for line in open(scores)]
    vals = [math.exp(r[key]) for r in rows[-tail:] if r.get(key) is not None]
    return sum(vals) / len(vals) if vals else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--tail", type=int, default=100)
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "effect-smollm2"))
    ap.add_argument("--only", default="")
    ap.add_argument("--base", default="f32", help="f32, gguf or both: f32,gguf")
    args = ap.parse_args()
    bases = [b for b in args.base.split(",") if b]
    if not bases or any(b not in ("f32", "gguf") for b in bases):
        sys.exit(f"--base {args.base}: expected f32, gguf or f32,gguf")
    os.makedirs(args.out, exist_ok=True)
    model = os.path.join(args.out, "smollm2-f32")
    if not os.path.exists(os.path.join(model, "config.json")):
        if run([TLM, "convert", "gguf", GGUF, model], os.path.join(args.out, "convert.log")):
            sys.exit("tlm convert gguf failed (see convert.log)")
    only = set(filter(None, args.only.split(",")))
    rows = []
    for (name, method, loss, sb, lr), base in [(r, b) for r in RUNS for b in bases]:
        if only and name not in only:
            continue
        mpath = model if base == "f32" else GGUF
        label = name if base == "f32" else f"{name} [gguf q4_1]"
        out = os.path.join(args.out, name if base == "f32" else f"{name}-gguf")
        t0 = time.time()
        if not os.path.exists(os.path.join(out, "summary.json")):
            cmd = [TLM, "run", "jobs/medicine-online.yaml", "--set", f"model.path={mpath}",
                   "--set", "model.template=auto", "--set", f"data.path={DATA}",
                   "--set", f"data.max_samples={args.samples}", "--set", "data.cutoff_len=512",
                   "--set", f"method.name={method}", "--set", f"method.loss_tokens={loss}",
                   "--set", f"method.stream_batch={sb}", "--set", f"optim.lr={lr}",
                   "--set", "generate.max_new_tokens=128", "--set", "backend=cpu",
                   "--set", "output.checkpoint_every=0", "--set", f"output.dir={out}"]
            if run(cmd, out + ".log"):
                print(f"{label}: tlm run failed (see {out}.log)", file=sys.stderr)
                continue
        summary = json.load(open(os.path.join(out, "summary.json")))
        ev = subprocess.run([TLM, "eval", out, "--metric", "all"], capture_output=True,
                            text=True, cwd=ROOT).stdout
        metrics = json.loads(next(l for l in ev.splitlines() if l.startswith("{")))
        scores = os.path.join(out, "scores.jsonl")
        rows.append((label, summary, metrics, tail_ppl(scores, "ce_all", args.tail),
                     tail_ppl(scores, "ce_content", args.tail)))
        print(f"{label}: done ({time.time() - t0:.0f} s this call)", file=sys.stderr)
    print(f"| run | selected % | ppl last {args.tail} (all) | ppl last {args.tail} (content) "
          "| ROUGE-1 | ROUGE-2 | ROUGE-L | ROUGE-Lsum | BLEU-4 | wall s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, s, m, ppl_all, ppl_own in rows:
        print(f"| {name} | {s['selected_pct']:.1f} | {ppl_all:.2f} | {ppl_own:.2f} | "
              f"{100 * m['rouge1']:.2f} | {100 * m['rouge2']:.2f} | {100 * m['rougeL']:.2f} | "
              f"{100 * m['rougeLsum']:.2f} | {100 * m['bleu']:.2f} | "
              f"{s['seconds']['total']:.0f} |")


if __name__ == "__main__":
    main()
