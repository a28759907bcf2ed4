#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora (tests/fuzz/corpus/<harness>/): tiny valid inputs we
wrote by hand, so each harness starts past its parser's first checks. Standard library
only; the output is committed, rerun after changing it: python3 tests/fuzz/make_seeds.py"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")


def put(harness, name, data):
    d = os.path.join(OUT, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def safetensors(tensors, meta=None):
    header, blob = {}, b""
    if meta:
        header["__metadata__"] = meta
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(blob), len(blob) + len(raw)]}
        blob += raw
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + blob


def seeds_safetensors():
    f32 = lambda n: struct.pack("<%df" % n, *[0.5 * i for i in range(n)])
    put("safetensors", "two-f32", safetensors({"a": ("F32", [2, 3], f32(6)),
                                               "b.weight": ("F32", [4], f32(4))}))
    put("safetensors", "bf16-meta", safetensors({"w": ("BF16", [2, 2], b"\x80\x3f" * 4)},
                                                {"format": "pt"}))
    put("safetensors", "scalar-i64", safetensors({"s": ("I64", [], struct.pack("<q", 7))}))
    put("safetensors", "empty", safetensors({}))


def bytelevel_tokenizer():
    # bytes_to_unicode of GPT-2 for the printable ASCII letters used here is identity.
    vocab = {c: i for i, c in enumerate("abcdehlorw ")}
    vocab["\u0120"] = len(vocab)  # 'Ġ' (space)
    for m in ["he", "ll", "lo", "hel", "hello", "\u0120w", "or"]:
        vocab[m] = len(vocab)
    return {
        "version": "1.0",
        "added_tokens": [{"id": len(vocab), "content": "<|end|>", "single_word": False,
                          "lstrip": False, "rstrip": False, "normalized": False,
                          "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False,
                          "trim_offsets": True, "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab,
                  "merges": ["h e", "l l", "l o", "he l", "hel lo", "\u0120 w", "o r"]},
    }


def sentencepiece_tokenizer():
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab["<0x%02X>" % b] = len(vocab)
    for p in ["\u2581", "a", "b", "c", "\u2581a", "ab", "\u2581ab"]:
        vocab[p] = len(vocab)
    return {
        "version": "1.0",
        "added_tokens": [{"id": i, "content": t, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True}
                         for t, i in [("<unk>", 0), ("<s>", 1), ("</s>", 2)]],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
        "pre_tokenizer": None,
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"Sequence": {"id": "A", "type_id": 0}}],
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [1],
                                                      "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>",
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": ["\u2581 a", "a b", "\u2581a b"]},
    }


def seeds_tokenizer():
    # tokenizer.json, a NUL, then the text the harness encodes.
    put("tokenizer", "bytelevel", json.dumps(bytelevel_tokenizer()) + "\0hello world<|end|>")
    put("tokenizer", "sentencepiece", json.dumps(sentencepiece_tokenizer()) + "\0ab abc \u00e9")


def llama_config(**over):
    c = {"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
         "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
         "vocab_size": 2002, "max_position_embeddings": 512, "rms_norm_eps": 1e-5,
         "rope_theta": 10000.0, "tie_word_embeddings": True, "bos_token_id": 1,
         "eos_token_id": [2, 3], "torch_dtype": "bfloat16"}
    c.update(over)
    return json.dumps(c, indent=1)


def seeds_config():
    put("config", "llama", llama_config())
    put("config", "llama31", llama_config(rope_scaling={
        "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
        "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}, head_dim=16))
    put("config", "qwen2", llama_config(architectures=["Qwen2ForCausalLM"],
                                         tie_word_embeddings=False, eos_token_id=2))


def seeds_job():
    put("job", "demo", open(os.path.join(HERE, "..", "..", "jobs", "demo.yaml")).read())
    put("job", "flow", "{model: {path: m}, data: {path: d.jsonl, prompt: [q]},"
                       " method: {name: eata, eata: {fisher_alpha: 2000}}}\n")
    put("job", "offline", "model:\n  path: m\ndata:\n  path: d\n  max_samples: 10\n"
                          "method:\n  setting: offline\n  stream_batch: 4\n"
                          "optim: {lr: 1e-4, schedule: cosine, warmup_ratio: 0.1}\n"
                          "lora:\n  rank: 4\n  targets:\n    - q_proj\n    - o_proj\n"
                          "seed: 7\n")


def seeds_dataset():
    rec = [{"instruction": "Name a fruit.", "input": "", "output": "apple"},
           {"instruction": "Add", "input": "2 and 3", "output": "5"}]
    put("dataset", "jsonl", "".join(json.dumps(r) + "\n" for r in rec))
    put("dataset", "array", json.dumps(rec, indent=1))
    put("dataset", "odd", '{"instruction": "x", "output": null}\n[1]\n{"input": 3}\n\n')


# ---- GGUF (v3, little-endian): a llama with D 8, one layer, F32 tensors.
def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gkv(key, vtype, val):
    out = gstr(key) + struct.pack("<I", vtype)
    if vtype == 4:
        return out + struct.pack("<I", val)
    if vtype == 6:
        return out + struct.pack("<f", val)
    if vtype == 8:
        return out + gstr(val)
    if vtype == 9:  # (elem_type, list)
        et, items = val
        out += struct.pack("<IQ", et, len(items))
        for it in items:
            out += gstr(it) if et == 8 else struct.pack("<i" if et == 5 else "<f", it)
        return out
    raise ValueError(vtype)


def gguf(kvs, tensors, align=32):
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for kv in kvs:
        head += gkv(*kv)
    offs, blob = [], b""
    for name, ne, raw in tensors:
        blob += b"\0" * (-len(blob) % align)
        offs.append(len(blob))
        blob += raw
    for (name, ne, raw), off in zip(tensors, offs):
        head += gstr(name) + struct.pack("<I", len(ne)) + struct.pack("<%dQ" % len(ne), *ne)
        head += struct.pack("<IQ", 0, off)  # type 0: F32
    head += b"\0" * (-len(head) % align)
    return head + blob


def f32s(n, scale=0.01):
    return struct.pack("<%df" % n, *[scale * ((i * 7) % 13 - 6) for i in range(n)])


def seeds_gguf():
    d, f, v = 8, 16, 12
    tokens = ["a", "b", "c", "ab", "\u0120", "\u0120a", "<s>", "</s>", "x", "y", "z", "xy"]
    kvs = [("general.architecture", 8, "llama"), ("llama.embedding_length", 4, d),
           ("llama.feed_forward_length", 4, f), ("llama.block_count", 4, 1),
           ("llama.attention.head_count", 4, 2), ("llama.attention.head_count_kv", 4, 2),
           ("llama.context_length", 4, 64), ("llama.rope.freq_base", 6, 10000.0),
           ("llama.attention.layer_norm_rms_epsilon", 6, 1e-5),
           ("tokenizer.ggml.model", 8, "gpt2"), ("tokenizer.ggml.pre", 8, "gpt-2"),
           ("tokenizer.ggml.tokens", 9, (8, tokens)),
           ("tokenizer.ggml.token_type", 9, (5, [1] * 6 + [3, 3] + [1] * 4)),
           ("tokenizer.ggml.merges", 9, (8, ["a b", "\u0120 a", "x y"])),
           ("tokenizer.ggml.bos_token_id", 4, 6), ("tokenizer.ggml.eos_token_id", 4, 7)]
    layer = [("attn_norm.weight", [d]), ("attn_q.weight", [d, d]), ("attn_k.weight", [d, d]),
             ("attn_v.weight", [d, d]), ("attn_output.weight", [d, d]),
             ("ffn_norm.weight", [d]), ("ffn_gate.weight", [d, f]),
             ("ffn_up.weight", [d, f]), ("ffn_down.weight", [f, d])]
    ts = [("token_embd.weight", [d, v], f32s(d * v)), ("output_norm.weight", [d], f32s(d, 1))]
    for name, ne in layer:
        n = 1
        for x in ne:
            n *= x
        ts.append(("blk.0." + name, ne, f32s(n)))
    put("gguf", "llama-gpt2", gguf(kvs, ts))
    sp = [kv for kv in kvs if not kv[0].startswith("tokenizer.ggml.")]
    sp_tokens = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(4)] + \
                ["\u2581", "a", "\u2581a", "b", "ab"]
    sp += [("tokenizer.ggml.model", 8, "llama"), ("tokenizer.ggml.tokens", 9, (8, sp_tokens)),
           ("tokenizer.ggml.scores", 9, (6, [0.0] * 7 + [-1.0, -2.0, -3.0, -4.0, -5.0])),
           ("tokenizer.ggml.token_type", 9, (5, [2, 3, 3] + [6] * 4 + [1] * 5))]
    put("gguf", "llama-spm", gguf(sp, ts + [("output.weight", [d, v], f32s(d * v))]))


if __name__ == "__main__":
    seeds_safetensors()
    seeds_tokenizer()
    seeds_config()
    seeds_job()
    seeds_dataset()
    seeds_gguf()
