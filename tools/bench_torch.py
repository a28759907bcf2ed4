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

Models: stories260K (converted by `tlm convert llama2c` from --shared), llama-4x512
(`tlm bench --random llama-4x512 --save-model DIR` writes it; torch loads DIR) and any
Hugging Face directory (--model DIR, e.g. SmolLM2-135M from `tlm convert gguf`).
The two sides alternate (--rounds of tlm bench then torch, one torch model kept loaded),
so both see the same load; the table gives medians over the rounds and the median of the
per-round ratios. --threads 1,2 adds the thread scaling of every phase. It prints the CPU,
each side's BLAS and the kernel family it runs.
A benchmark, not a test: timings depend on the machine and its load, which is printed.

usage: tools/bench_torch.py [--tlm build/launcher/tlm] [--threads 1,2] [--models a,b]
                            [--model DIR] [--rounds 3] [--profile] ...
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


class TorchBench:
    """The three workloads in PyTorch on one model, loaded once so rounds can alternate
    with tlm's runs; run() measures at a thread count and returns tokens/s and seconds."""

    def __init__(self, model_dir, a):
        import torch
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModelForCausalLM

        torch.manual_seed(a.seed)
        base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32,
                                                    attn_implementation=a.attn)
        lc = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0,
                        target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
        self.torch, self.a = torch, a
        self.model = get_peft_model(base, lc)
        V, T, B = base.config.vocab_size, a.tokens, a.batch
        self.ids = torch.tensor(bench_tokens(B * T, V, a.seed), dtype=torch.long).view(B, T)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = torch.optim.AdamW(self.params, lr=5e-5, betas=(0.9, 0.999), eps=1e-8,
                                     weight_decay=0.0)
        # EOS off, so every row gets exactly N tokens, as tlm bench runs with no stop ids.
        gc = self.model.generation_config
        gc.eos_token_id = None
        gc.pad_token_id = 0
        gc.bos_token_id = None

    def forward(self):
        with self.torch.no_grad():
            self.model(input_ids=self.ids, labels=self.ids)

    def step(self):
        one = self.ids[:1]
        self.model.train()
        out = self.model(input_ids=one, labels=one)
        out.loss.backward()
        self.torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        self.model.eval()

    def generate(self, n):
        T, N = self.a.tokens, self.a.new_tokens
        x = self.ids[:n]
        with self.torch.no_grad():
            out = self.model.generate(input_ids=x, attention_mask=self.torch.ones_like(x),
                                      max_new_tokens=N, min_new_tokens=N, do_sample=False,
                                      num_beams=1, use_cache=True)
        if out.shape != (n, T + N):
            sys.exit(f"bench_torch: generate gave shape {tuple(out.shape)}, "
                     f"expected {(n, T + N)}")

    def run(self, threads):
        a = self.a
        self.torch.set_num_threads(threads)
        self.model.eval()
        T, B, N = a.tokens, a.batch, a.new_tokens
        res = {"forward_s": median_time(self.forward, a.repeat),
               "step_s": median_time(self.step, a.repeat),
               "gen1_s": median_time(lambda: self.generate(1), a.repeat),
               "genb_s": median_time(lambda: self.generate(B), a.repeat)}
        res["forward_tok_s"] = B * T / res["forward_s"]
        res["step_tok_s"] = T / res["step_s"]
        res["gen1_tok_s"] = N / res["gen1_s"]
        res["genb_tok_s"] = B * N / res["genb_s"]
        return res


def torch_identity():
    """torch's CPU, BLAS and the kernel family MKL dispatches to (MKL_VERBOSE of one
    matmul in a child process, which prints the ISA MKL chose)."""
    import torch
    cfg = torch.__config__.show()
    blas = next((l.strip(" -") for l in cfg.splitlines() if "Math Kernel Library" in l
                 or "OpenBLAS" in l), "BLAS unknown")
    code = "import torch; a = torch.ones(256, 256); (a @ a).sum().item()"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=dict(os.environ, MKL_VERBOSE="1"))
    # "MKL_VERBOSE oneMKL 2024.0 ... for Intel(R) 64 architecture <ISA phrase>, Lnx ..."
    head = next((l for l in p.stdout.splitlines() if l.startswith("MKL_VERBOSE oneMKL")), "")
    family = head.split(" architecture ", 1)[-1].split(", Lnx")[0] if head else "?"
    return (f"torch {torch.__version__}: {blas}; MKL code path: {family}; ATen CPU "
            f"capability {torch.backends.cpu.get_cpu_capability()}")


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


def bench_args(a, threads, profile):
    return (["--json", "--backend", "cpu", "--threads", str(threads), "--tokens",
             str(a.tokens), "--batch", str(a.batch), "--new-tokens", str(a.new_tokens),
             "--repeat", str(a.repeat), "--cpu-weights", a.cpu_weights]
            + (["--profile"] if profile else []))


def model_dir(name, a, work):
    """The HF directory a model name stands for, made when needed; returns (label, dir,
    tlm bench's model arguments)."""
    if os.path.isdir(name):
        return os.path.basename(os.path.normpath(name)), name, ["--model", name]
    d = os.path.join(work, name)
    if name == "stories260K":
        src = os.path.join(a.shared, "models", "stories260K")
        if not os.path.isdir(d):
            run_tlm([a.tlm, "convert", "llama2c", os.path.join(src, "stories260K.bin"),
                     os.path.join(src, "tok512.bin"), d], [])
        return name, d, ["--model", d]
    os.makedirs(d, exist_ok=True)
    return name, d, ["--random", name, "--save-model", d]


WORKLOADS = [("forward (B x T)", "forward_tok_s"), ("update step (T)", "step_tok_s"),
             ("generation batch 1", "gen1_tok_s"), ("generation batch B", "genb_tok_s")]

# The issue-11 goals, tlm over torch tokens/s (bf16 weights: generation >= 3x).
GOALS = {"forward_tok_s": 1.2, "step_tok_s": 1.5, "gen1_tok_s": 2.0, "genb_tok_s": 2.0}


def load_avg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def measure(name, a, work, threads):
    """Rounds of tlm bench then torch, alternating, at one thread count; per workload the
    medians of each side's tokens/s and of the per-round ratios."""
    label, d, margs = model_dir(name, a, work)
    tlm_runs, torch_runs, loads = [], [], []
    tb = None
    for r in range(a.rounds):
        profile = a.profile and r == a.rounds - 1
        loads.append(load_avg())
        t = tlm_json(run_tlm([a.tlm, "bench"] + margs + bench_args(a, threads, profile),
                             a.tlm_env))
        margs = ["--model", d]  # written once; later rounds load the same weights
        tb = tb or TorchBench(d, a)
        loads.append(load_avg())
        torch_runs.append(tb.run(threads))
        tlm_runs.append(t)
    loads.append(load_avg())
    row = {"model": label, "threads": threads, "loads": loads, "weights": a.cpu_weights, "tlm": {}, "torch": {},
           "ratio": {}, "tlm_runs": tlm_runs, "torch_runs": torch_runs}
    for _, key in WORKLOADS:
        row["tlm"][key] = statistics.median(t[key] for t in tlm_runs)
        row["torch"][key] = statistics.median(r[key] for r in torch_runs)
        row["ratio"][key] = statistics.median(t[key] / r[key]
                                              for t, r in zip(tlm_runs, torch_runs))
    return row


def print_rows(rows):
    print(f"\n{'model':<22} {'thr':>3} {'workload':<20} {'tlm tok/s':>11} {'torch tok/s':>12} "
          f"{'tlm/torch':>9} {'goal':>6}")
    for row in rows:
        for label, key in WORKLOADS:
            goal = GOALS[key] * (1.5 if row["weights"] == "bf16" and "gen" in key else 1.0)
            print(f"{row['model']:<22} {row['threads']:>3} {label:<20} {row['tlm'][key]:>11.1f} "
                  f"{row['torch'][key]:>12.1f} {row['ratio'][key]:>8.2f}x "
                  f"{'met' if row['ratio'][key] >= goal else 'MISSED':>6}")
        print(f"{'':<22} load (1 min) through the rounds: "
              + " ".join(f"{l:.2f}" for l in row["loads"]))


def print_scaling(rows):
    """tokens/s at the most threads over tokens/s at the fewest, per model and phase."""
    by_model = {}
    for row in rows:
        by_model.setdefault(row["model"], []).append(row)
    for model, rs in by_model.items():
        if len(rs) < 2:
            continue
        lo, hi = min(rs, key=lambda r: r["threads"]), max(rs, key=lambda r: r["threads"])
        print(f"\nthread scaling {model}: {hi['threads']} threads over {lo['threads']}")
        for label, key in WORKLOADS:
            print(f"  {label:<20} tlm {hi['tlm'][key] / lo['tlm'][key]:.2f}x   torch "
                  f"{hi['torch'][key] / lo['torch'][key]:.2f}x")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tlm", default="build/launcher/tlm", help="the tlm binary")
    p.add_argument("--models", default="stories260K,llama-4x512",
                   help="comma-separated: stories260K, a tlm bench --random preset, or a "
                        "Hugging Face model directory")
    p.add_argument("--model", action="append", default=[], metavar="DIR",
                   help="a Hugging Face model directory (e.g. one `tlm convert gguf` made); "
                        "replaces --models' default")
    p.add_argument("--shared", default=os.environ.get("TLM_SHARED_DIR", "../shared"),
                   help="the shared data dir holding models/stories260K")
    p.add_argument("--threads", default="2", help="thread counts, comma-separated (1,2: "
                   "thread scaling)")
    p.add_argument("--tokens", type=int, default=128, help="T")
    p.add_argument("--batch", type=int, default=4, help="B")
    p.add_argument("--new-tokens", type=int, default=64, help="N")
    p.add_argument("--repeat", type=int, default=5, help="R, timed runs per workload")
    p.add_argument("--rounds", type=int, default=3,
                   help="tlm-then-torch rounds; medians over them")
    p.add_argument("--profile", action="store_true",
                   help="tlm bench --profile in the last round (its tables go to stderr)")
    p.add_argument("--cpu-weights", default="fp32", choices=["fp32", "bf16"],
                   help="tlm's frozen-weight storage (torch stays fp32, as the reference runs)")
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
    threads = [int(t) for t in a.threads.split(",")]
    models = a.model or a.models.split(",")
    print(f"cpu: {cpu_model()}, {os.cpu_count()} cpus", flush=True)
    print(torch_identity(), flush=True)
    print(f"transformers {transformers.__version__}, peft {peft.__version__}; threads "
          f"{a.threads}; T {a.tokens}, B {a.batch}, N {a.new_tokens}, medians of {a.repeat} "
          f"in each of {a.rounds} rounds; attention {a.attn}; tlm weights {a.cpu_weights}; tlm env "
          f"{' '.join(a.tlm_env) or '(none)'}", flush=True)

    with tempfile.TemporaryDirectory(prefix="tlm-bench-torch-") as tmp:
        work = a.workdir or tmp
        rows = [measure(name, a, work, n) for name in models for n in threads]
    t0 = rows[0]["tlm_runs"][0]
    print(f"tlm: {t0['blas']}, kernels {t0['blas_family']} on {t0['cpu']}")
    print_rows(rows)
    print_scaling(rows)
    print("\ngoals (issue 11): forward >= 1.2x, update step >= 1.5x, generation >= 2x torch's "
          "tokens/s at batch 1 and B with fp32 weights, >= 3x with bf16 weights")
    for row in rows:
        print(json.dumps({k: row[k] for k in ("model", "threads", "weights", "loads", "tlm",
                                              "torch", "ratio")}))


if __name__ == "__main__":
    main()
