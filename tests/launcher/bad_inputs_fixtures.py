#!/usr/bin/env python3
"""Writes the broken inputs of tests/launcher/bad_inputs.table into FIXTURES (argv[1]):
model directories with one defect each (made from the demo model, jobs/demo/model), data
files, job files, checkpoints and other commands' inputs. Standard library only.
usage: bad_inputs_fixtures.py FIXTURES REPO_ROOT OUTPUT_DIR"""
import json
import math
import os
import shutil
import struct
import sys

F, ROOT, PREV = sys.argv[1], sys.argv[2], sys.argv[3]
DEMO = os.path.join(ROOT, "jobs", "demo", "model")
DATA = os.path.join(ROOT, "jobs", "demo", "data.jsonl")


def write(rel, data):
    path = os.path.join(F, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def model(name, drop=(), files=None):
    """F/models/<name>: the demo model's files, less drop, with files replacing some."""
    d = os.path.join(F, "models", name)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(DEMO):
        if f not in drop and f not in (files or {}):
            shutil.copy(os.path.join(DEMO, f), d)
    for f, data in (files or {}).items():
        write(os.path.join("models", name, f), data)


def demo(f):
    with open(os.path.join(DEMO, f), "rb") as fh:
        return fh.read()


def config(**over):
    c = json.loads(demo("config.json"))
    for k, v in over.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return json.dumps(c, indent=1)


def safetensors_parts():
    raw = demo("model.safetensors")
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def safetensors(header, blob):
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + blob


def models():
    model("ok")
    model("no-config", drop=["config.json"])
    model("config-json", files={"config.json": '{"architectures": ["LlamaForCausalLM"],\n'})
    model("config-arch", files={"config.json": config(architectures=["GPT2LMHeadModel"])})
    model("config-heads", files={"config.json": config(num_attention_heads=5)})
    model("config-kv", files={"config.json": config(num_key_value_heads=3)})
    model("config-missing", files={"config.json": config(num_hidden_layers=None)})
    model("config-type", files={"config.json": config(hidden_size="64")})
    model("config-negative", files={"config.json": config(intermediate_size=-128)})
    model("config-vocab", files={"config.json": config(vocab_size=3000)})
    model("config-layers", files={"config.json": config(num_hidden_layers=3)})
    model("config-scaling", files={"config.json": config(rope_scaling={"rope_type": "yarn",
                                                                      "factor": 4.0})})
    model("no-tokenizer", drop=["tokenizer.json"])
    model("tokenizer-json", files={"tokenizer.json": demo("tokenizer.json")[:5000]})
    tok = json.loads(demo("tokenizer.json"))
    tok["model"]["type"] = "WordPiece"
    model("tokenizer-type", files={"tokenizer.json": json.dumps(tok)})
    model("no-weights", drop=["model.safetensors"])
    model("weights-truncated", files={"model.safetensors": demo("model.safetensors")[:300000]})
    model("weights-header", files={"model.safetensors": b"\xff" * 64})
    model("weights-json", files={"model.safetensors":
                                 struct.pack("<Q", 12) + b'{"a": [1, 2' + b" " + b"\0" * 64})
    header, blob = safetensors_parts()
    h = dict(header)
    h.pop("model.layers.1.self_attn.v_proj.weight")
    model("weights-missing", files={"model.safetensors": safetensors(h, blob)})
    h = json.loads(json.dumps(header))
    t = h["model.layers.0.self_attn.q_proj.weight"]
    t["shape"] = [t["shape"][1], t["shape"][0] // 2]
    t["data_offsets"][1] = t["data_offsets"][0] + (t["data_offsets"][1] - t["data_offsets"][0]) // 2
    model("weights-shape", files={"model.safetensors": safetensors(h, blob)})
    h = json.loads(json.dumps(header))
    h["model.norm.weight"]["dtype"] = "F8_E4M3"
    model("weights-dtype", files={"model.safetensors": safetensors(h, blob)})
    h = json.loads(json.dumps(header))
    h["model.norm.weight"]["data_offsets"][1] += 10 ** 9
    model("weights-offsets", files={"model.safetensors": safetensors(h, blob)})
    tc = json.loads(demo("tokenizer_config.json"))
    tc.pop("chat_template", None)
    model("no-template", files={"tokenizer_config.json": json.dumps(tc)})
    # a NaN in model.norm.weight (bf16 0x7fc0)
    off = header["model.norm.weight"]["data_offsets"][0]
    nan = bytearray(blob)
    nan[off:off + 2] = b"\xc0\x7f"
    model("weights-nan", files={"model.safetensors": safetensors(header, bytes(nan))})
    # added tokens past the model's vocabulary
    tok = json.loads(demo("tokenizer.json"))
    tok["added_tokens"].append({"id": 2100, "content": "<|extra|>", "single_word": False,
                                "lstrip": False, "rstrip": False, "normalized": False,
                                "special": True})
    model("vocab-mismatch", files={"tokenizer.json": json.dumps(tok)})
    write("models/a-file", "not a directory\n")


def data():
    recs = [json.loads(l) for l in open(DATA)][:4]
    line = lambda r: json.dumps(r) + "\n"
    write("data/empty.jsonl", "")
    write("data/blank.jsonl", "\n  \n\t\n")
    write("data/binary.jsonl", bytes(range(256)) * 4)
    write("data/bad-json.jsonl", line(recs[0]) + line(recs[1]) + '{"instruction": "x",\n')
    write("data/not-object.jsonl", line(recs[0]) + "[1, 2]\n")
    write("data/no-prompt.jsonl", line(recs[0]) + line({"output": "o"}))
    write("data/prompt-type.jsonl", line(recs[0]) + line({"instruction": 5, "output": "o"}))
    write("data/broken-array.json", "[" + json.dumps(recs[0]) + ", 5 " + json.dumps(recs[1]))
    write("data/all-bad.jsonl", "{\n[1]\n3\n")
    os.makedirs(os.path.join(F, "data", "a-directory"), exist_ok=True)


def jobs():
    base = ("model: {path: %s, template: llama3}\n"
            "data: {path: %s, cutoff_len: 256, max_samples: 16}\n"
            "method: {threshold: 6.5, stream_batch: 8}\n"
            "generate: {max_new_tokens: 4}\n"
            "backend: cpu\n"
            "output: {dir: %s, checkpoint_every: 4, keep: 2}\n") % (
                os.path.join(F, "models", "ok"), DATA, PREV)
    write("jobs/ok.yaml", base)
    head = "model: {path: m}\ndata: {path: d}\n"
    write("jobs/empty.yaml", "")
    write("jobs/comments.yaml", "# nothing but a comment\n")
    write("jobs/binary.yaml", b"\x89HDF\r\n\x1a\n\0\0\0\0\xff\xfe")
    write("jobs/nul.yaml", head.encode() + b"\0optim: {lr: -5}\n")
    write("jobs/bom.yaml", b"\xef\xbb\xbf" + base.encode())
    write("jobs/two-docs.yaml", base + "---\noptim: {lr: -5}\n")
    write("jobs/deep-flow.yaml", "x: " + "[" * 100000 + "]" * 100000 + "\n")
    write("jobs/deep-block.yaml", "x:\n  " + "- " * 100000 + "1\n")
    write("jobs/syntax.yaml", "model: {path: m\n")
    write("jobs/tab.yaml", head + "lora:\n\trank: 8\n")
    write("jobs/not-mapping.yaml", "- model\n- data\n")
    write("jobs/latin1.yaml", head.encode() + b"output: {dir: caf\xe9}\n")
    write("jobs/dup-key.yaml", head + "lora:\n  rank: 8\n  rank: 16\n")
    write("jobs/dup-section.yaml", head + "lora: {rank: 8}\nlora: {alpha: 4}\n")
    write("jobs/no-model.yaml", "data: {path: d}\n")
    write("jobs/no-data.yaml", "model: {path: m}\n")
    write("jobs/anchor.yaml", head + "lora: &a {rank: 8}\noptim: *a\n")


def other():
    write("ckpt/garbage.h5", b"\x89HDF\r\n\x1a\n" + b"garbage" * 100)
    write("ckpt/empty.h5", b"")
    write("gguf/garbage.gguf", b"GGUF\x03\0\0\0" + b"\xff" * 40)
    write("gguf/not-gguf.gguf", b"PK\3\4 a zip file")
    write("llama2c/short.bin", struct.pack("<7i", 64, 128, 2, 4, 2, 512, 256))
    write("llama2c/tok.bin", b"\0\0")
    write("eval/bad.jsonl", '{"predict": "a", "label": "b"}\n{"predict": \n')


if __name__ == "__main__":
    shutil.rmtree(F, ignore_errors=True)
    models()
    data()
    jobs()
    other()
