#!/usr/bin/env python3
"""tools/make_demo_model.py -- writes jobs/demo/model, the tiny random Llama the demo job
(jobs/demo.yaml) adapts: a Hugging Face directory with config.json, generation_config.json,
model.safetensors (BF16, tied embeddings) and the repository's own small byte-level
tokenizer (tests/data/tok/bytelevel.tokenizer.json, Llama-3-style special tokens) with a
tokenizer_config.json naming BOS <|begin_of_text|> and EOS <|eot_id|> as Llama-3-Instruct does.

Standard library only (no numpy, no torch) and deterministic: the weights come from
Python's Mersenne Twister (random.Random(seed).gauss), which is stable across versions,
so re-running the script rewrites byte-identical files.

Shape: 2 layers, D 64, 4 heads, 2 kv heads, head_dim 16, FFN 128, V 2002, 512 positions.
Init: weights N(0, 0.02) as transformers' initializer_range, except the embedding
(N(0, 0.1)): the logits of a random model are then nearly uniform (input ce ~ ln V + 0.3),
yet the tied lm_head is large enough that an adapter can move them (a 0.02 embedding caps
the reachable logit spread near +-1). Norm weights 1.

Usage: python3 tools/make_demo_model.py [OUTDIR]   (default jobs/demo/model)
"""
import json
import os
import random
import shutil
import struct
import sys

SEED = 20250613
L, D, H, KVH, HD, F, V, MAX_POS = 2, 64, 4, 2, 16, 128, 2002, 512


def bf16_bytes(values):
    """Round-to-nearest-even fp32 -> bf16, little endian (what torch's .to(bfloat16) does)."""
    out = bytearray()
    for x in values:
        u = struct.unpack("<I", struct.pack("<f", x))[0]
        u += 0x7FFF + ((u >> 16) & 1)
        out += struct.pack("<H", (u >> 16) & 0xFFFF)
    return bytes(out)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "jobs", "demo", "model")
    os.makedirs(out, exist_ok=True)
    rng = random.Random(SEED)

    tensors = []  # (name, shape, values), written in this order

    def add(name, shape, std=0.02, const=None):
        n = 1
        for s in shape:
            n *= s
        vals = [const] * n if const is not None else [rng.gauss(0.0, std) for _ in range(n)]
        tensors.append((name, shape, vals))

    add("model.embed_tokens.weight", [V, D], std=0.1)
    for layer in range(L):
        p = "model.layers.%d." % layer
        add(p + "input_layernorm.weight", [D], const=1.0)
        add(p + "self_attn.q_proj.weight", [H * HD, D])
        add(p + "self_attn.k_proj.weight", [KVH * HD, D])
        add(p + "self_attn.v_proj.weight", [KVH * HD, D])
        add(p + "self_attn.o_proj.weight", [D, H * HD])
        add(p + "post_attention_layernorm.weight", [D], const=1.0)
        add(p + "mlp.gate_proj.weight", [F, D])
        add(p + "mlp.up_proj.weight", [F, D])
        add(p + "mlp.down_proj.weight", [D, F])
    add("model.norm.weight", [D], const=1.0)

    header, blobs, offset = {}, [], 0
    for name, shape, vals in tensors:
        b = bf16_bytes(vals)
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    header["__metadata__"] = {"format": "pt", "generator": "tools/make_demo_model.py",
                              "seed": str(SEED)}
    hjson = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    with open(os.path.join(out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)

    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "hidden_size": D, "num_hidden_layers": L, "num_attention_heads": H,
        "num_key_value_heads": KVH, "head_dim": HD, "intermediate_size": F,
        "vocab_size": V, "max_position_embeddings": MAX_POS, "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0, "tie_word_embeddings": True, "hidden_act": "silu",
        "bos_token_id": 0, "eos_token_id": 4, "torch_dtype": "bfloat16",
    }
    gen = {"bos_token_id": 0, "eos_token_id": [1, 4], "do_sample": False}
    tok_cfg = {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>",
               "add_bos_token": False, "add_eos_token": False,
               "model_max_length": MAX_POS, "tokenizer_class": "PreTrainedTokenizerFast"}
    for fname, obj in (("config.json", config), ("generation_config.json", gen),
                       ("tokenizer_config.json", tok_cfg)):
        with open(os.path.join(out, fname), "w") as f:
            json.dump(obj, f, indent=1, sort_keys=True)
            f.write("\n")
    shutil.copyfile(os.path.join(root, "tests", "data", "tok", "bytelevel.tokenizer.json"),
                    os.path.join(out, "tokenizer.json"))
    print("wrote %s (%d tensors, %d bytes of weights)" % (out, len(tensors), offset))


if __name__ == "__main__":
    main()
