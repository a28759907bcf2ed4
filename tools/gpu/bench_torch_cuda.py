#!/usr/bin/env python3
"""tools/gpu/bench_torch_cuda.py -- the reference numbers for `tlm bench --backend cuda`:
Hugging Face transformers + PEFT on the same model directory (the random llama3-8b that
`tlm bench --random llama3-8b --save-model DIR` wrote), bf16 on one GPU, the workloads
tlm measures: one TLM update step on T tokens (forward, mean cross-entropy, backward into
LoRA q_proj,v_proj r8 alpha 16, clip 1.0, AdamW) and greedy `generate` at batch 1 (N new
tokens after a T-token prompt, KV cache). With --tlm-json (the JSON lines of `tlm bench
--json`), prints tlm / torch ratios. Run by tools/gpu/check.sh on the GPU machine; torch,
transformers and peft are that machine's. (tools/bench_torch.py is the CPU counterpart.)

  python3 tools/gpu/bench_torch_cuda.py --model DIR --tokens 512,2048 --tlm-json bench.jsonl
"""
import argparse
import json
import statistics
import sys
import time


def median_time(fn, repeat, sync):
    fn()  # warm-up
    sync()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a Hugging Face model directory")
    p.add_argument("--device", default="cuda")
    p.add_argument("--tokens", default="512,2048", help="T values, comma-separated")
    p.add_argument("--new-tokens", type=int, default=32, help="N for generate")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--attn", default="sdpa", help="transformers attn_implementation")
    p.add_argument("--tlm-json", help="tlm bench --json output (lines starting with '{')")
    a = p.parse_args()

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    dev = torch.device(a.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(a.model, torch_dtype=torch.bfloat16,
                                                 attn_implementation=a.attn).to(dev)
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name(dev) if dev.type == 'cuda' else dev}:"
          f" loaded {a.model} in {time.perf_counter() - t0:.1f} s", flush=True)
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0,
                                             target_modules=["q_proj", "v_proj"]))
    lora = [q for q in model.parameters() if q.requires_grad]
    for q in lora:
        q.data = q.data.float()  # fp32 adapter over the bf16 base, as tlm keeps it
    opt = torch.optim.AdamW(lora, lr=5e-5, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    vocab = model.config.vocab_size
    gen = torch.Generator(device="cpu").manual_seed(42)
    rows = {}
    for T in [int(t) for t in a.tokens.split(",")]:
        ids = torch.randint(3, vocab, (1, T), generator=gen).to(dev)

        def step():
            with torch.autocast(dev.type, dtype=torch.bfloat16):
                loss = model(input_ids=ids, labels=ids).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(lora, 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)

        s = median_time(step, a.repeat, sync)
        rows[("step", T)] = T / s
        print(f"  update step T {T:5d}: {T / s:10.1f} tok/s  {s:8.4f} s", flush=True)

        def generate():
            with torch.no_grad():
                model.generate(input_ids=ids, max_new_tokens=a.new_tokens, min_new_tokens=a.new_tokens,
                               do_sample=False, pad_token_id=0)

        s = median_time(generate, a.repeat, sync)
        rows[("gen1", T)] = a.new_tokens / s
        print(f"  generate batch 1, prompt {T:5d}, N {a.new_tokens}: {a.new_tokens / s:10.1f} tok/s"
              f"  {s:8.4f} s (prefill included)", flush=True)
    if a.tlm_json:
        print("tlm / torch (same shape, same GPU):")
        with open(a.tlm_json) as f:
            for line in f:
                if not line.startswith("{"):
                    continue
                j = json.loads(line)
                T = j.get("T")
                for key, name in (("step", "step_tok_s"), ("gen1", "gen1_tok_s")):
                    if (key, T) in rows and j.get(name):
                        print(f"  {key:5s} T {T:5d}: tlm {j[name]:10.1f} / torch {rows[(key, T)]:10.1f}"
                              f" tok/s = {j[name] / rows[(key, T)]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
