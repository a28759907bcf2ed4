#!/usr/bin/env python3
"""tests/ref/make_peft_golden.py -- what PEFT writes for a LoRA adapter, and a check that
PEFT loads a `tlm export` directory.

Default mode: builds the tiny Llama of tests/data/golden/llama_gqa, wraps it with PEFT
(r 8, alpha 16, dropout 0, q,k,v,o,gate,up,down), sets the adapter to the golden
`lora.init.<key>` tensors, save_pretrained()s it to a temporary dir and copies the
adapter_config.json PEFT wrote to tests/data/peft/ (the C export test compares with it),
plus meta.json (versions, the tensor keys PEFT saved).

--check-export DIR: loads the base model + the adapter in DIR (written by tlm export)
with PeftModel.from_pretrained, runs batch.tokens per sequence in float64 and asserts
the logits equal batch.logits_lora to 1e-5; records the result in tests/data/peft/meta.json.

--check-ckpt CKPT.h5: reads a tlm checkpoint with h5py (an independent HDF5 reader) and
checks its layout (io/ckpt/ckpt.h) and the CRC32 attributes with Python's zlib.crc32.

Usage: python tests/ref/make_peft_golden.py [--check-export DIR] [--check-ckpt CKPT.h5]
"""
import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile

import numpy as np
import peft
import safetensors
import torch
import transformers
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "tests", "data", "golden", "llama_gqa")
OUT = os.path.join(ROOT, "tests", "data", "peft")
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
TOL = 1e-5


def versions():
    return {"python": sys.version.split()[0], "torch": torch.__version__,
            "transformers": transformers.__version__, "peft": peft.__version__,
            "safetensors": safetensors.__version__, "numpy": np.__version__}


def load_meta():
    path = os.path.join(OUT, "meta.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return {}


def save_meta(meta):
    with open(os.path.join(OUT, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
        f.write("\n")


def make_golden():
    golden = load_file(os.path.join(MODEL, "golden.safetensors"))
    init = {k[len("lora.init."):]: v for k, v in golden.items() if k.startswith("lora.init.")}
    base = AutoModelForCausalLM.from_pretrained(MODEL, dtype=torch.float32)
    cfg = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=TARGETS,
                     bias="none", task_type="CAUSAL_LM")
    model = get_peft_model(base, cfg)
    sd = model.state_dict()
    with torch.no_grad():
        for key, val in init.items():
            live = key.replace(".lora_A.weight", ".lora_A.default.weight") \
                      .replace(".lora_B.weight", ".lora_B.default.weight")
            sd[live].copy_(val)
    tmp = tempfile.mkdtemp(prefix="peft-golden-")
    try:
        # base_model_name_or_path: PEFT records the base's name_or_path (here the model dir
        # as given); the C test only checks that the key exists.
        model.save_pretrained(tmp)
        with open(os.path.join(tmp, "adapter_config.json")) as f:
            written = json.load(f)
        saved = load_file(os.path.join(tmp, "adapter_model.safetensors"))
        for key, val in init.items():
            assert key in saved, key
            assert torch.equal(saved[key], val), key
        assert set(saved) == set(init), sorted(set(saved) ^ set(init))
        written["base_model_name_or_path"] = "tests/data/golden/llama_gqa"
        with open(os.path.join(OUT, "adapter_config.json"), "w") as f:
            json.dump(written, f, indent=2, sort_keys=True)
            f.write("\n")
    finally:
        shutil.rmtree(tmp)
    meta = load_meta()
    meta.update({"script": "tests/ref/make_peft_golden.py", "versions": versions(),
                 "adapter": {"r": 8, "lora_alpha": 16, "targets": TARGETS,
                             "tensors": "golden.safetensors lora.init.<key>",
                             "n_tensors": len(init)},
                 "saved_keys_equal_golden_keys": True})
    save_meta(meta)
    print("wrote", os.path.join(OUT, "adapter_config.json"))


def check_export(export_dir):
    torch.set_num_threads(2)
    golden = load_file(os.path.join(MODEL, "golden.safetensors"))
    base = AutoModelForCausalLM.from_pretrained(MODEL, dtype=torch.float32).double()
    model = PeftModel.from_pretrained(base, export_dir).double().eval()
    tokens, lens = golden["batch.tokens"].long(), golden["batch.seq_lens"].tolist()
    outs, at = [], 0
    with torch.no_grad():
        for n in lens:
            outs.append(model(input_ids=tokens[at:at + n][None]).logits[0])
            at += n
    got = torch.cat(outs).float()
    want = golden["batch.logits_lora"]
    diff = (got.double() - want.double()).abs().max().item()
    base_diff = (got.double() - golden["batch.logits_base"].double()).abs().max().item()
    ok = diff <= TOL and base_diff > 1.0
    files = {}
    for name in ("adapter_model.safetensors", "adapter_config.json"):
        with open(os.path.join(export_dir, name), "rb") as f:
            files[name] = hashlib.sha256(f.read()).hexdigest()
    meta = load_meta()
    meta["check_export"] = {"ok": ok, "max_abs_diff_vs_logits_lora": diff,
                            "max_abs_diff_vs_logits_base": base_diff, "tolerance": TOL,
                            "loader": "peft.PeftModel.from_pretrained, float64",
                            "versions": versions(), "sha256": files}
    save_meta(meta)
    print(f"check-export {export_dir}: max |logits - logits_lora| = {diff:.3g} "
          f"(vs base {base_diff:.3g}): {'OK' if ok else 'FAIL'}")
    return 0 if ok else 1


def check_ckpt(path):
    import zlib
    import h5py
    with h5py.File(path, "r") as f:
        assert f.attrs["format_version"] == 1, dict(f.attrs)
        ad = f["adapter"]
        r = int(ad.attrs["rank"])
        # Creation order is what the CRC covers (the writer's order).
        names = []
        ad.id.links.iterate(lambda n: names.append(n.decode()) or None,
                            idx_type=h5py.h5.INDEX_CRT_ORDER)
        assert len(names) == int(ad.attrs["n_tensors"]) and names, names
        for group in ("adapter", "optim/m", "optim/v"):
            crc = 0
            for n in names:
                a = np.asarray(f[group][n], dtype="<f4")
                assert a.ndim == 2 and a.shape == f["adapter"][n].shape, (group, n, a.shape)
                assert (a.shape[0] == r) if n.endswith("lora_A.weight") else (a.shape[1] == r)
                crc = zlib.crc32(a.tobytes(), crc)
            assert crc == int(f[group].attrs["crc32"]), (group, hex(crc))
        for k in ("step", "optim_step", "schedule_pos", "samples_done"):
            assert f["state"][k].shape == () and f["state"][k].dtype == np.int64, k
        assert f["state/rng"].shape == (4,) and f["state/rng"].dtype == np.uint64
        assert f["stream/position"].shape == (int(f["stream/dp_size"][()]),)
        sc = f["scores"]
        assert sc.maxshape == (None,) and sc.fletcher32, (sc.maxshape, sc.fletcher32)
        assert list(sc.dtype.names) == ["sample", "rank", "step", "tokens", "ce", "ppl",
                                        "selected", "weight"], sc.dtype
        print(f"check-ckpt {path}: OK ({len(names)} tensors, rank {r}, "
              f"{sc.shape[0]} score rows, step {int(f['state/step'][()])}, "
              f"job {len(f['job'][()])} bytes)")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check-export", metavar="DIR")
    ap.add_argument("--check-ckpt", metavar="CKPT")
    a = ap.parse_args()
    if a.check_ckpt:
        return check_ckpt(a.check_ckpt)
    if a.check_export:
        return check_export(a.check_export)
    make_golden()
    return 0


if __name__ == "__main__":
    sys.exit(main())
