#!/usr/bin/env python3
"""Goldens for `tlm convert gguf` (io/convert/gguf*, io/base/quant), made with the `gguf`
Python package (llama.cpp's own reader/quantizer) and transformers' GGUF loading:

  quant     every block format tlm dequantizes (F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q5_K,
            Q6_K): random blocks (plus edge cases: zero, subnormal, largest and negative
            scales), raw bytes and gguf.quants.dequantize's float32 output, as hex, in
            OUT/quant.json.
  tiny      two small GGUF models written here with gguf.GGUFWriter, committed as
            OUT/tiny-llama.gguf (llama, 3 layers, every tensor type above, q/k rows as
            llama.cpp permutes them, untied output, SentencePiece vocabulary = stories260K's
            tok512 with scores and no merges) and OUT/tiny-qwen2.gguf (qwen2, q/k/v biases,
            tied embeddings, byte-level vocabulary = tests/data/tok/bytelevel.tokenizer.json,
            pre "qwen2", a Qwen2.5-style chat template). transformers loads each: its config,
            a checksum of every tensor (float32 and bfloat16), the per-sequence CE of three
            token sequences in float64, and its tokenizer's ids for the first 300 test
            strings go to OUT/tiny.json.
  smollm2   ../shared's SmolLM2-135M-Instruct Q4_1 GGUF (skipped without it): per tensor a
            checksum and 16 values of gguf's dequantization with llama's q/k permutation
            undone (transformers' reverse_permute); 16 medical prompts rendered with the
            model's chat template (apply_chat_template) and their CE under transformers' GGUF
            model in float64; 8 prompts' greedy continuations (32 tokens, float64, every
            top-1/top-2 logit gap >= 2e-3), in OUT/smollm2.json; and the tokenizer goldens
            TOK/smollm2.ids.jsonl, TOK/smollm2.special.ids.jsonl in make_tok_golden.py's form
            for tests/data/tok/strings.jsonl. The reference tokenizer is transformers' GGUF
            tokenizer with SmolLM2's upstream pre-tokenizer (Sequence[Digits(individual),
            ByteLevel]): transformers' GGUF loader ignores tokenizer.ggml.pre "smollm" and
            keeps GPT-2's split, which llama.cpp does not do; the count of strings where the
            two differ is recorded.

Checksum ("wsum64"): sum over i of bits[i] * ((i * 0x9E3779B97F4A7C15) | 1) mod 2^64, bits
the little-endian uint32 (float32) or uint16 (bfloat16) element patterns in row-major HF
layout; tests/io/convert computes the same.

usage: python3 tests/ref/make_gguf_golden.py [--shared ../shared] [--out tests/data/gguf]
       [--only quant,tiny,smollm2]
"""
import argparse
import json
import os
import struct
import sys
import tempfile

import numpy as np

import gguf
from gguf import GGMLQuantizationType as Q

HERE = os.path.dirname(os.path.abspath(__file__))
GOLD = np.uint64(0x9E3779B97F4A7C15)


def wsum64(arr):
    a = np.ascontiguousarray(arr)
    bits = a.view(np.uint32 if a.dtype == np.float32 else np.uint16).reshape(-1).astype(np.uint64)
    idx = np.arange(bits.size, dtype=np.uint64)
    with np.errstate(over="ignore"):
        mult = (idx * GOLD) | np.uint64(1)
        return "%016x" % int(np.sum(bits * mult, dtype=np.uint64))


def f16_bits(rng, n, lo, hi, signed=False):
    v = rng.uniform(lo, hi, n).astype(np.float16)
    if signed:
        v *= rng.choice([-1, 1], n).astype(np.float16)
    return v.view(np.uint16)


# ---------------------------------------------------------------- quant
def random_blocks(rng, qtype, n_blocks):
    bs, ts = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, (n_blocks, ts), dtype=np.uint8)
    u16 = lambda b, off, vals: b[:, off:off + 2].view(np.uint16).__setitem__(slice(None), vals[:, None])
    if qtype in (Q.Q8_0, Q.Q4_0):
        u16(raw, 0, f16_bits(rng, n_blocks, 1e-3, 0.1, True))
    elif qtype == Q.Q4_1:
        u16(raw, 0, f16_bits(rng, n_blocks, 1e-3, 0.1))
        u16(raw, 2, f16_bits(rng, n_blocks, 1e-3, 1.0, True))
    elif qtype in (Q.Q4_K, Q.Q5_K):
        u16(raw, 0, f16_bits(rng, n_blocks, 1e-4, 1e-2))
        u16(raw, 2, f16_bits(rng, n_blocks, 0, 1e-2))
    elif qtype == Q.Q6_K:
        u16(raw, ts - 2, f16_bits(rng, n_blocks, 1e-4, 1e-2, True))
    # edge scales in the first blocks: zero, subnormal, the largest half, negative
    edge = np.array([0x0000, 0x0001, 0x7BFF, 0xBC00], dtype=np.uint16)
    k = min(4, n_blocks)
    off = ts - 2 if qtype == Q.Q6_K else 0
    raw[:k, off:off + 2].view(np.uint16)[:, 0] = edge[:k]
    return raw


def make_quant(out, rng):
    doc = {"generator": "tests/ref/make_gguf_golden.py", "gguf": gguf.__version__
           if hasattr(gguf, "__version__") else "0.19.0", "types": {}}
    for qtype in (Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q4_K, Q.Q5_K, Q.Q6_K):
        bs, ts = gguf.GGML_QUANT_SIZES[qtype]
        raw = random_blocks(rng, qtype, 2048 // bs)
        vals = gguf.quants.dequantize(raw.reshape(1, -1), qtype).astype(np.float32)
        doc["types"][qtype.name] = {"id": int(qtype), "n_elems": int(vals.size),
                                    "blocks_hex": raw.tobytes().hex(),
                                    "values_hex": vals.tobytes().hex()}
    for qtype, dt in ((Q.F16, np.float16), (Q.BF16, None)):
        bits = rng.integers(0, 1 << 16, 1024, dtype=np.uint16)
        exp = (bits >> (10 if dt is not None else 7)) & (0x1F if dt is not None else 0xFF)
        bits = bits[exp != (0x1F if dt is not None else 0xFF)][:1000]  # finite only
        vals = gguf.quants.dequantize(bits.view(np.uint8), qtype).astype(np.float32)
        doc["types"][qtype.name] = {"id": int(qtype), "n_elems": int(vals.size),
                                    "blocks_hex": bits.tobytes().hex(),
                                    "values_hex": vals.tobytes().hex()}
    with open(os.path.join(out, "quant.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print("quant: wrote", sorted(doc["types"]))


# ---------------------------------------------------------------- tiny models
def quantize_rows(rng, qtype, rows, cols, scale=0.15):
    if qtype in (Q.Q4_K, Q.Q5_K, Q.Q6_K):  # gguf cannot quantize these: random blocks
        bs, _ = gguf.GGML_QUANT_SIZES[qtype]
        return random_blocks(rng, qtype, rows * cols // bs).reshape(rows, -1)
    w = (rng.standard_normal((rows, cols)) * scale).astype(np.float32)
    if qtype == Q.F32:
        return w
    if qtype == Q.F16:
        return w.astype(np.float16)
    return gguf.quants.quantize(w, qtype)


def add(writer, name, arr, qtype):
    if arr.dtype == np.uint8:
        writer.add_tensor(name, arr, raw_dtype=qtype)
    else:
        writer.add_tensor(name, arr)


def read_tok512(path):
    with open(path, "rb") as f:
        data = f.read()
    off, pieces, scores = 4, [], []
    while off < len(data):
        score, n = struct.unpack_from("<fi", data, off)
        off += 8
        pieces.append(data[off:off + n].decode("utf-8"))
        scores.append(score)
        off += n
    toks, types = [], []
    for i, p in enumerate(pieces):
        if p.startswith("\n") and p.endswith("\n"):
            p = p[1:-1]
        toks.append(p.replace(" ", "\u2581"))
        types.append(2 if i == 0 else 3 if i in (1, 2) else
                     6 if p.startswith("<0x") and len(p) == 6 else 1)
    return toks, scores, types


LLAMA2_TEMPLATE = ("{% for message in messages %}{% if message['role'] == 'system' %}"
                   "{{ '<<SYS>>\\n' + message['content'] + '\\n<</SYS>>\\n\\n' }}"
                   "{% elif message['role'] == 'user' %}{{ bos_token + '[INST] ' + "
                   "message['content'] + ' [/INST]' }}{% else %}{{ message['content'] + "
                   "eos_token }}{% endif %}{% endfor %}")
QWEN_TEMPLATE = ("{%- if messages[0]['role'] == 'system' %}\n    {{- '<|im_start|>system\\n' + "
                 "messages[0]['content'] + '<|im_end|>\\n' }}\n{%- else %}\n    {{- "
                 "'<|im_start|>system\\nYou are a tiny test model.<|im_end|>\\n' }}\n"
                 "{%- endif %}\n{%- for message in messages %}{%- if not (message.role == "
                 "'system' and loop.first) %}{{- '<|im_start|>' + message.role + '\\n' + "
                 "message.content + '<|im_end|>' + '\\n' }}{%- endif %}{%- endfor %}\n"
                 "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}\n")


def write_tiny_llama(path, rng, shared):
    D, F, L, H, KVH, HD = 64, 256, 3, 4, 2, 16
    toks, scores, types = read_tok512(os.path.join(shared, "models/stories260K/tok512.bin"))
    V = len(toks)
    w = gguf.GGUFWriter(path, "llama")
    w.add_name("tiny llama test")
    w.add_block_count(L)
    w.add_context_length(256)
    w.add_embedding_length(D)
    w.add_feed_forward_length(F)
    w.add_head_count(H)
    w.add_head_count_kv(KVH)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(HD)
    w.add_vocab_size(V)
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(toks)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_space_prefix(True)
    w.add_chat_template(LLAMA2_TEMPLATE)
    add(w, "token_embd.weight", quantize_rows(rng, Q.Q8_0, V, D, 0.3), Q.Q8_0)
    per_layer = [("attn_q", Q.Q4_0, H * HD, D), ("attn_k", Q.Q4_1, KVH * HD, D),
                 ("attn_v", Q.F16, KVH * HD, D), ("attn_output", Q.BF16, D, H * HD),
                 ("ffn_gate", Q.Q8_0, F, D), ("ffn_up", Q.Q4_0, F, D)]
    down = [Q.Q4_K, Q.Q5_K, Q.Q6_K]
    for l in range(L):
        add(w, f"blk.{l}.attn_norm.weight",
            (1 + 0.1 * rng.standard_normal(D)).astype(np.float32), Q.F32)
        for name, qt, r, c in per_layer:
            add(w, f"blk.{l}.{name}.weight", quantize_rows(rng, qt, r, c), qt)
        add(w, f"blk.{l}.ffn_down.weight", quantize_rows(rng, down[l], D, F), down[l])
        add(w, f"blk.{l}.ffn_norm.weight",
            (1 + 0.1 * rng.standard_normal(D)).astype(np.float32), Q.F32)
    add(w, "output_norm.weight", (1 + 0.1 * rng.standard_normal(D)).astype(np.float32), Q.F32)
    add(w, "output.weight", quantize_rows(rng, Q.F16, V, D, 0.3), Q.F16)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def write_tiny_qwen2(path, rng):
    from tokenizers import Tokenizer
    bl = Tokenizer.from_file(os.path.join(HERE, "..", "data", "tok", "bytelevel.tokenizer.json"))
    vocab = bl.get_vocab(with_added_tokens=True)
    V = max(vocab.values()) + 1
    toks = [None] * V
    for t, i in vocab.items():
        toks[i] = t
    specials = {a.content for a in bl.get_added_tokens_decoder().values() if a.special}
    types = [3 if t in specials else 4 if t == "[[note]]" else 1 for t in toks]
    model = json.loads(bl.to_str())["model"]
    merges = [" ".join(m) if isinstance(m, list) else m for m in model["merges"]]
    D, F, L, H, KVH, HD = 64, 128, 2, 4, 2, 16
    w = gguf.GGUFWriter(path, "qwen2")
    w.add_name("tiny qwen2 test")
    w.add_block_count(L)
    w.add_context_length(256)
    w.add_embedding_length(D)
    w.add_feed_forward_length(F)
    w.add_head_count(H)
    w.add_head_count_kv(KVH)
    w.add_rope_freq_base(1000000.0)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(toks)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(vocab["<|begin_of_text|>"])
    w.add_eos_token_id(vocab["<|eot_id|>"])
    w.add_add_bos_token(False)
    w.add_chat_template(QWEN_TEMPLATE)
    add(w, "token_embd.weight", quantize_rows(rng, Q.Q8_0, V, D, 0.3), Q.Q8_0)
    for l in range(L):
        add(w, f"blk.{l}.attn_norm.weight",
            (1 + 0.1 * rng.standard_normal(D)).astype(np.float32), Q.F32)
        for name, qt, r, c in (("attn_q", Q.Q4_1, H * HD, D), ("attn_k", Q.Q8_0, KVH * HD, D),
                               ("attn_v", Q.Q4_0, KVH * HD, D),
                               ("attn_output", Q.F16, D, H * HD), ("ffn_gate", Q.BF16, F, D),
                               ("ffn_up", Q.Q8_0, F, D), ("ffn_down", Q.Q4_1, D, F)):
            add(w, f"blk.{l}.{name}.weight", quantize_rows(rng, qt, r, c), qt)
        for name, n in (("attn_q", H * HD), ("attn_k", KVH * HD), ("attn_v", KVH * HD)):
            add(w, f"blk.{l}.{name}.bias", (0.1 * rng.standard_normal(n)).astype(np.float32),
                Q.F32)
        add(w, f"blk.{l}.ffn_norm.weight",
            (1 + 0.1 * rng.standard_normal(D)).astype(np.float32), Q.F32)
    add(w, "output_norm.weight", (1 + 0.1 * rng.standard_normal(D)).astype(np.float32), Q.F32)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def per_sample_ce(model, seqs):
    import torch
    out = []
    with torch.no_grad():
        for s in seqs:
            ids = torch.tensor([s])
            logits = model(ids).logits[0].double()
            lp = torch.log_softmax(logits[:-1], -1)
            out.append(float(-lp[torch.arange(len(s) - 1), ids[0, 1:]].mean()))
    return out


def reference_tiny(path, strings, rng):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    d, f = os.path.split(path)
    cfg = AutoConfig.from_pretrained(d, gguf_file=f).to_dict()
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32)
    tensors = {}
    for name, t in model.state_dict().items():
        if name == "lm_head.weight" and cfg.get("tie_word_embeddings"):
            continue
        a = t.detach().contiguous()
        tensors[name] = {"shape": list(a.shape), "f32": wsum64(a.numpy()),
                         "bf16": wsum64(a.to(torch.bfloat16).view(torch.int16).numpy()
                                        .view(np.uint16))}
    V = cfg["vocab_size"]
    seqs = [rng.integers(3, V, n).tolist() for n in (5, 17, 40)]
    ce = per_sample_ce(model.double(), seqs)
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    ids = [tok(s, add_special_tokens=False)["input_ids"] for s in strings]
    keys = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
            "num_key_value_heads", "vocab_size", "max_position_embeddings", "rms_norm_eps",
            "tie_word_embeddings", "bos_token_id", "eos_token_id")
    rope = cfg.get("rope_parameters") or {}
    return {"config": {k: cfg.get(k) for k in keys} | {"rope_theta": rope.get("rope_theta",
                                                                             cfg.get("rope_theta")),
                                                      "architectures": cfg.get("architectures")},
            "tensors": tensors, "ce": {"seqs": seqs, "ce": ce}, "tok_ids": ids,
            "add_bos": bool(tok("a")["input_ids"][:1] == [tok.bos_token_id])}


def make_tiny(out, rng, shared):
    strings = [json.loads(l) for l in open(os.path.join(HERE, "..", "data", "tok",
                                                        "strings.jsonl"))][:300]
    doc = {"generator": "tests/ref/make_gguf_golden.py", "n_strings": len(strings), "models": {}}
    for name, writer in (("tiny-llama", lambda p: write_tiny_llama(p, rng, shared)),
                         ("tiny-qwen2", lambda p: write_tiny_qwen2(p, rng))):
        path = os.path.join(out, name + ".gguf")
        writer(path)
        doc["models"][name] = reference_tiny(path, strings, rng)
        print(f"tiny: {name}.gguf {os.path.getsize(path)} bytes, "
              f"{len(doc['models'][name]['tensors'])} tensors")
    with open(os.path.join(out, "tiny.json"), "w") as f:
        json.dump(doc, f, indent=None, separators=(",", ":"), ensure_ascii=False)
        f.write("\n")


# ---------------------------------------------------------------- SmolLM2 (../shared)
SMOL = "models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf"
SUB = {"attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj",
       "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
       "attn_output": "self_attn.o_proj", "ffn_norm": "post_attention_layernorm",
       "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}


def reverse_permute(w, n_head):
    """transformers' LlamaTensorProcessor._reverse_permute_weights."""
    dim = w.shape[0] // n_head // 2
    return w.reshape(n_head, dim, 2, *w.shape[1:]).swapaxes(2, 1).reshape(w.shape)


def smol_weights(path):
    r = gguf.GGUFReader(path)
    H = int(r.fields["llama.attention.head_count"].contents())
    KVH = int(r.fields["llama.attention.head_count_kv"].contents())
    out = {}
    for t in r.tensors:
        w = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        w = w.reshape([int(x) for x in reversed(t.shape)])
        if t.name == "token_embd.weight":
            hf = "model.embed_tokens.weight"
        elif t.name == "output_norm.weight":
            hf = "model.norm.weight"
        else:
            _, l, s, kind = t.name.split(".")
            hf = f"model.layers.{l}.{SUB[s]}.{kind}"
            if s in ("attn_q", "attn_k"):
                w = reverse_permute(w, H if s == "attn_q" else KVH)
        flat = w.reshape(-1)
        pos = [k * flat.size // 16 for k in range(16)]
        out[hf] = {"type": t.tensor_type.name, "shape": list(w.shape), "f32": wsum64(w),
                   "at": pos, "values": [float(flat[p]) for p in pos]}
    return out


def smol_reference_tokenizer(d, f):
    from tokenizers import pre_tokenizers
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    raw = tok.backend_tokenizer.to_str()
    tok.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)])
    return tok, raw


def greedy(model, ids, n_new):
    """Greedy continuation in float64 with a KV cache; returns (tokens, min top-2 gap)."""
    import torch
    with torch.no_grad():
        out = model(torch.tensor([ids]), use_cache=True)
        past, logits, toks, gap = out.past_key_values, out.logits[0, -1], [], float("inf")
        for _ in range(n_new):
            top = torch.topk(logits, 2).values
            gap = min(gap, float(top[0] - top[1]))
            nxt = int(torch.argmax(logits))
            toks.append(nxt)
            out = model(torch.tensor([[nxt]]), past_key_values=past, use_cache=True)
            past, logits = out.past_key_values, out.logits[0, -1]
    return toks, gap


def make_smollm2(out, tok_out, shared):
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM
    sys.path.insert(0, HERE)
    from make_tok_golden import encode_all, write_jsonl, N_SPECIAL
    path = os.path.join(shared, SMOL)
    d, f = os.path.split(path)
    torch.set_num_threads(2)
    weights = smol_weights(path)
    tok, raw = smol_reference_tokenizer(d, f)
    strings = [json.loads(l) for l in open(os.path.join(HERE, "..", "data", "tok",
                                                        "strings.jsonl"))]
    ref = tok.backend_tokenizer
    raw_tok = Tokenizer.from_str(raw)
    n_raw_diff = sum(ref.encode(s, add_special_tokens=False).ids !=
                     raw_tok.encode(s, add_special_tokens=False).ids for s in strings)
    write_jsonl(os.path.join(tok_out, "smollm2.ids.jsonl"), encode_all(ref, strings, False))
    write_jsonl(os.path.join(tok_out, "smollm2.special.ids.jsonl"),
                encode_all(ref, strings[:N_SPECIAL], True))
    render = lambda p: tok(tok.apply_chat_template([{"role": "user", "content": p}],
                                                   add_generation_prompt=True, tokenize=False),
                           add_special_tokens=False)["input_ids"]
    med = json.load(open(os.path.join(shared, "data/adapteval/GenMedGPT_random_5k.json")))
    prompts = [r["instruction"] + "\n" + r["input"] for r in med[4000:4016]]
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32).double()
    model.eval()
    ce_ids = [render(p) for p in prompts]
    ce = per_sample_ce(model, ce_ids)
    demo = [json.loads(l) for l in open(os.path.join(HERE, "..", "..", "jobs", "demo",
                                                     "data.jsonl"))]
    gen, tried = [], 0
    for r in demo:
        p = r["instruction"] + ("\n" + r["input"] if r.get("input") else "")
        ids = render(p)
        toks, gap = greedy(model, ids, 32)
        tried += 1
        if gap >= 2e-3:
            gen.append({"prompt": p, "ids": ids, "output": toks, "min_gap": gap})
        if len(gen) == 8:
            break
    assert len(gen) == 8, "not enough prompts with a safe greedy margin"
    doc = {"generator": "tests/ref/make_gguf_golden.py", "gguf_file": SMOL,
           "sha256": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
           "tensors": weights, "ce": {"prompts": prompts, "ids": ce_ids, "ce": ce},
           "gen": {"n_new": 32, "tried": tried, "cases": gen},
           "tokenizer": {"n_strings": len(strings),
                         "n_differ_transformers_gguf_split": n_raw_diff}}
    import transformers
    doc["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__}
    with open(os.path.join(out, "smollm2.json"), "w") as fh:
        json.dump(doc, fh, indent=None, separators=(",", ":"))
        fh.write("\n")
    print(f"smollm2: {len(weights)} tensors, ce {min(ce):.3f}..{max(ce):.3f}, 8 greedy cases "
          f"of {tried} tried, tokenizer: transformers' GGUF split differs on {n_raw_diff} of "
          f"{len(strings)} strings")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.environ.get("TLM_SHARED_DIR",
                                                       os.path.join(HERE, "..", "..", "..",
                                                                    "shared")))
    ap.add_argument("--out", default=os.path.join(HERE, "..", "data", "gguf"))
    ap.add_argument("--tok-out", default=os.path.join(HERE, "..", "data", "tok"))
    ap.add_argument("--only", default="quant,tiny,smollm2")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    parts = a.only.split(",")
    if "quant" in parts:
        make_quant(a.out, np.random.default_rng(10))
    if "tiny" in parts:
        make_tiny(a.out, np.random.default_rng(11), a.shared)
    if "smollm2" in parts:
        if os.path.exists(os.path.join(a.shared, SMOL)):
            make_smollm2(a.out, a.tok_out, a.shared)
        else:
            print("smollm2: skipped,", os.path.join(a.shared, SMOL), "is absent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
