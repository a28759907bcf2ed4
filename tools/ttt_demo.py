#!/usr/bin/env python3
"""Per-task test-time training (method ttt) shown working on a real model (not a test).

SmolLM2-135M-Instruct (../shared, llama.cpp Q4_1 GGUF, converted to F32 by `tlm convert
gguf`) on a synthetic few-shot rule-learning task set (tools/make_ttt_tasks.py: one fixed
string rule per task, K demonstrations + Q queries, words from a fixed list, seeded), the
model's own ChatML template. Two runs of the same task file: `ttt.epochs: 0` (the base
model with the same few-shot prompts: the adapter is never trained, B = 0) and
`ttt.epochs: E` (a fresh adapter per task, leave-one-out over its demonstrations, loss on
the outputs, permutations orders). Per run: the mean -log p of the queries' answers
(label_ce; the base model's, label_ce_base, comes with every line), exact match of the
greedy answers, wall time per task. Prints a Markdown table per task and overall; the raw
runs stay in OUT (default out/ttt-demo).

  python3 tools/ttt_demo.py [--tasks 8] [--ttt-tasks N] [--epochs 2] [--permutations 2]
                            [--lr 1e-3] [--rank 8] [--tasks-per-pass P] [--out DIR]
--tasks-per-pass P trains P tasks at a time in one batched pass (ttt.tasks_per_pass; the
ttt run then goes to OUT/ttt-pP): the same adapters, the wall time per task to compare.
A finished run (summary.json present) is not run again. The answer-likelihood comparison
needs only the ttt run (every line carries the base model's label_ce_base under the same
prompt); the base run adds the base model's exact match and wall time.
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TLM = os.path.join(ROOT, "build", "launcher", "tlm")
SHARED = os.environ.get("TLM_SHARED_DIR", os.path.join(ROOT, "..", "shared"))
GGUF = os.path.join(SHARED, "models", "smollm2-135m-instruct", "SmolLM2-135M-Instruct.Q4_1.gguf")


def sh(cmd, log):
    with open(log, "w") as f:
        rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT)
    if rc != 0:
        sys.exit(f"failed ({rc}): {' '.join(cmd)}; see {log}")


def lines(path):
    return [json.loads(x) for x in open(path) if x.strip()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=8)
    ap.add_argument("--demos", type=int, default=4)
    ap.add_argument("--queries", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--permutations", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ttt-tasks", type=int, default=0,
                    help="train on the first N tasks only (data.max_samples; 0: all)")
    ap.add_argument("--tasks-per-pass", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "ttt-demo"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    model = os.path.join(a.out, "smollm2-f32")
    if not os.path.exists(os.path.join(model, "config.json")):
        if not os.path.exists(GGUF):
            sys.exit(f"{GGUF}: not found (../shared is needed)")
        sh([TLM, "convert", "gguf", GGUF, model], os.path.join(a.out, "convert.log"))
    tasks = os.path.join(a.out, "tasks.jsonl")
    subprocess.check_call([sys.executable, os.path.join(ROOT, "tools", "make_ttt_tasks.py"),
                           tasks, "--tasks", str(a.tasks), "--demos", str(a.demos),
                           "--queries", str(a.queries), "--seed", str(a.seed)])
    runs = {}
    ttt_dir = "ttt" if a.tasks_per_pass == 1 else f"ttt-p{a.tasks_per_pass}"
    for name, epochs in (("base", 0), ("ttt", a.epochs)):
        out = os.path.join(a.out, name if name == "base" else ttt_dir)
        limit = ["--set", f"data.max_samples={a.ttt_tasks}"] if name == "ttt" and a.ttt_tasks else []
        if name == "ttt":
            limit += ["--set", f"ttt.tasks_per_pass={a.tasks_per_pass}"]
        if not os.path.exists(os.path.join(out, "summary.json")):
            sh([TLM, "run"] + limit + [ os.path.join(ROOT, "jobs", "demo-ttt.yaml"),
                "--set", f"model.path={model}", "--set", "model.template=auto",
                "--set", f"data.path={tasks}", "--set", "data.cutoff_len=512",
                "--set", f"ttt.epochs={epochs}", "--set", f"ttt.permutations={a.permutations}",
                "--set", "ttt.max_demos=8", "--set", f"lora.rank={a.rank}",
                "--set", f"lora.alpha={2 * a.rank}",
                "--set", "lora.targets=[q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj]",
                "--set", f"optim.lr={a.lr}", "--set", "generate.max_new_tokens=16",
                "--set", f"output.dir={out}"], out + ".log")
        runs[name] = {"pred": lines(os.path.join(out, "generated_predictions.jsonl")),
                      "tasks": lines(os.path.join(out, "ttt_tasks.jsonl")),
                      "summary": json.load(open(os.path.join(out, "summary.json")))}
    base, ttt = runs["base"], runs["ttt"]
    exact = lambda p: p["predict"].strip() == p["label"].strip()
    print(f"SmolLM2-135M-Instruct, {a.tasks} tasks x ({a.demos} demos + {a.queries} queries), "
          f"ttt: epochs {a.epochs}, permutations {a.permutations}, lr {a.lr}, LoRA r {a.rank} "
          f"on all projections\n")
    print("| task | answer ce base | answer ce ttt | exact base | exact ttt | s/task base | "
          "s/task ttt |")
    print("|---|---|---|---|---|---|---|")
    for tb, tt in zip(base["tasks"], ttt["tasks"]):
        pb = [p for p in base["pred"] if p["task"] == tb["task"]]
        pt = [p for p in ttt["pred"] if p["task"] == tt["task"]]
        print(f"| {tt['task']} | {tt['label_ce_base']:.3f} | {tt['label_ce']:.3f} | "
              f"{sum(map(exact, pb))}/{len(pb)} | {sum(map(exact, pt))}/{len(pt)} | "
              f"{tb['seconds']:.1f} | {tt['seconds']:.1f} |")
    n = len(ttt["tasks"])
    names = {t["task"] for t in ttt["tasks"]}
    pb = [p for p in base["pred"] if p["task"] in names]
    mean = lambda k: sum(t[k] for t in ttt["tasks"]) / n
    secs = lambda r: sum(t["seconds"] for t in r["tasks"] if t["task"] in names) / n
    print(f"| **all {n}** | **{mean('label_ce_base'):.3f}** | **{mean('label_ce'):.3f}** | "
          f"{sum(map(exact, pb))}/{len(pb)} | {sum(map(exact, ttt['pred']))}/{len(ttt['pred'])} | "
          f"{secs(base):.1f} | {secs(ttt):.1f} |")
    improved = sum(t["label_ce"] < t["label_ce_base"] for t in ttt["tasks"])
    steps = ttt["tasks"][0]["steps"] if n else 0
    print(f"\nanswer likelihood improved on {improved}/{n} tasks ({steps} update steps per "
          f"task); train {sum(t['train_seconds'] for t in ttt['tasks']) / n:.1f} s and answer "
          f"{sum(t['answer_seconds'] for t in ttt['tasks']) / n:.1f} s per task")

if __name__ == "__main__":
    main()
