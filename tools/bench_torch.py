#!/usr/bin/env python3
"""tools/bench_torch.py -- tlm bench against PyTorch CPU eager on the same weights.

For each model it runs `tlm bench --json` (which measures tlm), then the same three
workloads in PyTorch with the same thread count, the same weights and the same token ids,
and prints: workload, tlm tokens/s, torch tokens/s, ratio (tlm / torch; > 1 means tlm is
faster). The PyTorch side is what the TLM reference runs: HF LlamaForCausalLM (float32,
default attention) + PEFT LoRA (q_proj, v_proj, r 8, alpha 16, dropout 0).

  forward      torch.no_grad, B x T tokens as one (B, T) batch (equal lengths: no padding),
               labels = input ids (tlm computes per-sample ce too)
  update step  forward with labels on one sample of T tokens, backward,
               clip_grad_norm_(1.0), AdamW(lr 5e-5) step, zero_grad
  generation   model.generate greedy, batch 1 and batch B, exactly N new tokens (EOS off)

Models: stories260K (converted by `tlm convert llama2c` from --shared) and llama-4x512
(`tlm bench --random llama-4x512 --save-model DIR` writes it; torch loads DIR).
A benchmark, not a test: timings depend on the machine and its load, which is printed.

usage: tools/bench_torch.py [--tlm build/launcher/tlm] [--threads 2] [--models a,b] ...
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

MASK64 = (1 << 64) - 1


def bench_tokens(n, vocab_size, seed):
    """launcher/bench/bench.c bench_tokens: 3 + splitmix64 draw i mod (V - 3)."""
    out, state = [], seed
    span = vocab_size - 3 if vocab_size > 3 else 1
    for _ in range(n):
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        z ^= z >> 31
        out.append(3 + z % span)
    return out


def run_tlm(cmd, extra_env):
    """Runs a tlm command (extra_env: KEY=VALUE strings added to its environment only);
    returns its stdout lines; stops on failure."""
    print("$ " + " ".join(extra_env + cmd), file=sys.stderr, flush=True)
    env = dict(os.environ, **dict(kv.split("=", 1) for kv in extra_env))
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"bench_torch: {cmd[0]} failed ({p.returncode}):\n{p.stderr}{p.stdout}")
    sys.stderr.write(p.stdout)
    return p.stdout.splitlines()


def tlm_json(lines):
    rows = [json.loads(l) for l in lines if l.startswith("{")]
    if len(rows) != 1:
        sys.exit(f"bench_torch: expected one JSON line from tlm bench, got {len(rows)}")
    return rows[0]


def median_time(fn, repeat):
    """One warm-up call, then the median of `repeat` timed calls (monotonic clock)."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def torch_bench(model_dir, a, attn):
    """The three workloads in PyTorch; returns tokens/s and seconds per workload."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaForCausalLM

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    base = LlamaForCausalLM.from_pretrained(model_dir, dtype=torch.float32,
                                            attn_implementation=attn)
    lc = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=["q_proj", "v_proj"],
                    task_type="CAUSAL_LM")
    model = get_peft_model(base, lc)
    V, T, B, N = base.config.vocab_size, a.tokens, a.batch, a.new_tokens
    ids = torch.tensor(bench_tokens(B * T, V, a.seed), dtype=torch.long).view(B, T)
    res = {}

    model.eval()

    def forward():
        with torch.no_grad():
            model(input_ids=ids, labels=ids)

    res["forward_s"] = median_time(forward, a.repeat)

    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=5e-5, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    one = ids[:1]

    def step():
        model.train()
        out = model(input_ids=one, labels=one)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    res["step_s"] = median_time(step, a.repeat)
    model.eval()

    # EOS off, so every row gets exactly N tokens, as tlm bench runs with no stop ids.
    gc = model.generation_config
    gc.eos_token_id = None
    gc.pad_token_id = 0
    gc.bos_token_id = None

    def generate(n):
        x = ids[:n]
        with torch.no_grad():
            out = model.generate(input_ids=x, attention_mask=torch.ones_like(x),
                                 max_new_tokens=N, min_new_tokens=N, do_sample=False,
                                 num_beams=1, use_cache=True)
        if out.shape != (n, T + N):
            sys.exit(f"bench_torch: generate gave shape {tuple(out.shape)}, "
                     f"expected {(n, T + N)}")

    res["gen1_s"] = median_time(lambda: generate(1), a.repeat)
    res["genb_s"] = median_time(lambda: generate(B), a.repeat)
    res["forward_tok_s"] = B * T / res["forward_s"]
    res["step_tok_s"] = T / res["step_s"]
    res["gen1_tok_s"] = N / res["gen1_s"]
    res["genb_tok_s"] = B * N / res["genb_s"]
    return res


def bench_args(a):
    return ["--json", "--backend", "cpu", "--threads", str(a.threads), "--tokens",
            str(a.tokens), "--batch", str(a.batch), "--new-tokens", str(a.new_tokens),
            "--repeat", str(a.repeat)]


def prepare(name, a, work):
    """Makes the model dir for name, runs tlm bench on it; returns (dir, tlm's JSON)."""
    d = os.path.join(work, name)
    if name == "stories260K":
        src = os.path.join(a.shared, "models", "stories260K")
        run_tlm([a.tlm, "convert", "llama2c", os.path.join(src, "stories260K.bin"),
                 os.path.join(src, "tok512.bin"), d], [])
        return d, tlm_json(run_tlm([a.tlm, "bench", "--model", d] + bench_args(a), a.tlm_env))
    os.makedirs(d, exist_ok=True)
    lines = run_tlm([a.tlm, "bench", "--random", name, "--save-model", d] + bench_args(a),
                    a.tlm_env)
    return d, tlm_json(lines)


WORKLOADS = [("forward (B x T)", "forward_tok_s"), ("update step (T)", "step_tok_s"),
             ("generation batch 1", "gen1_tok_s"), ("generation batch B", "genb_tok_s")]


def load_avg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tlm", default="build/launcher/tlm", help="the tlm binary")
    p.add_argument("--models", default="stories260K,llama-4x512",
                   help="comma-separated: stories260K and/or a tlm bench --random preset")
    p.add_argument("--shared", default=os.environ.get("TLM_SHARED_DIR", "../shared"),
                   help="the shared data dir holding models/stories260K")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--tokens", type=int, default=128, help="T")
    p.add_argument("--batch", type=int, default=4, help="B")
    p.add_argument("--new-tokens", type=int, default=64, help="N")
    p.add_argument("--repeat", type=int, default=5, help="R")
    p.add_argument("--seed", type=int, default=42, help="tlm bench's token seed (fixed: 42)")
    p.add_argument("--attn", default="sdpa", help="transformers attn_implementation")
    p.add_argument("--tlm-env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment for tlm bench only, e.g. OMP_WAIT_POLICY=passive")
    p.add_argument("--workdir", help="keep the model dirs here (default: a temp dir)")
    a = p.parse_args()
    if not os.access(a.tlm, os.X_OK):
        sys.exit(f"bench_torch: {a.tlm}: not an executable (build tlm, or pass --tlm)")
    import peft
    import torch
    import transformers
    transformers.utils.logging.disable_progress_bar()
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, "
          f"peft {peft.__version__}; threads {a.threads}; T {a.tokens}, B {a.batch}, "
          f"N {a.new_tokens}, medians of {a.repeat}; attention {a.attn}; tlm env "
          f"{' '.join(a.tlm_env) or '(none)'}", flush=True)

    with tempfile.TemporaryDirectory(prefix="tlm-bench-torch-") as tmp:
        work = a.workdir or tmp
        rows = []
        for name in a.models.split(","):
            d, t = prepare(name, a, work)
            l0 = load_avg()
            r = torch_bench(d, a, a.attn)
            rows.append((name, t, r, t["load_before"], l0, load_avg()))

    print(f"\n{'model':<13} {'workload':<20} {'tlm tok/s':>11} {'torch tok/s':>12} "
          f"{'tlm/torch':>9}")
    for name, t, r, lt, l0, l1 in rows:
        for label, key in WORKLOADS:
            print(f"{name:<13} {label:<20} {t[key]:>11.1f} {r[key]:>12.1f} "
                  f"{t[key] / r[key]:>8.2f}x")
        print(f"{'':<13} load (1 min): {lt:.2f} at tlm start, {l0:.2f} -> {l1:.2f} over torch")
    print("\ngoals: update step time <= 1.0x torch's (tlm/torch tok/s >= 1.0); generation "
          ">= 2x torch's tok/s")
    for name, t, r, *_ in rows:
        step = t["step_tok_s"] / r["step_tok_s"]
        gen = min(t["gen1_tok_s"] / r["gen1_tok_s"], t["genb_tok_s"] / r["genb_tok_s"])
        print(f"  {name}: update step {'met' if step >= 1.0 else 'MISSED'} ({step:.2f}x), "
              f"generation {'met' if gen >= 2.0 else 'MISSED'} (worst {gen:.2f}x)")
    for name, t, r, *_ in rows:
        print(json.dumps({"model": name, "tlm": t, "torch": r}))


if __name__ == "__main__":
    main()
