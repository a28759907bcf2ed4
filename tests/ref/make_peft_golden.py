#!/usr/bin/env python3
"""tests/ref/make_peft_golden.py -- what PEFT writes for a LoRA adapter, in the PEFT the TLM
reference pins (0.12, with transformers 4.46) and in current PEFT, and a check that both
load a `tlm export` directory.

Every mode runs under two interpreters: this one (current PEFT) and --old-python (default
/tmp/peft012/bin/python, a venv made with
    python3 -m venv /tmp/peft012 && /tmp/peft012/bin/pip install peft==0.12.0 \
        transformers==4.46.3 torch
), which this script calls with --worker so each half runs in its own PEFT.

Default mode: builds the tiny Llama of tests/data/golden/llama_gqa, wraps it with PEFT
(r 8, alpha 16, dropout 0, q,k,v,o,gate,up,down), sets the adapter to the golden
`lora.init.<key>` tensors, save_pretrained()s it to a temporary dir and copies the
adapter_config.json each PEFT wrote to tests/data/peft/ (adapter_config.json: current PEFT,
adapter_config.peft-0.12.json: PEFT 0.12), plus lora_config_fields.json (the keys each
PEFT's LoraConfig accepts: any other key makes LoraConfig(**config) fail) and meta.json
(versions, the tensor keys PEFT saved). The C export test compares with these files.

--check-export DIR: loads the adapter in DIR (written by tlm export) with
AutoPeftModelForCausalLM.from_pretrained(DIR) from an unrelated working directory (so the
base model comes from base_model_name_or_path alone), in each PEFT; runs batch.tokens
per sequence in float64 and asserts the logits equal batch.logits_lora to 1e-5. Records
the results in tests/data/peft/meta.json and the config that was loaded as
tests/data/peft/export_adapter_config.json (base_model_name_or_path written relative to
the repository), which the C test compares every export with.

--check-ckpt CKPT.h5: reads a tlm checkpoint with h5py (an independent HDF5 reader) and
checks its layout (io/ckpt/ckpt.h) and the CRC32 attributes with Python's zlib.crc32.

Usage: python tests/ref/make_peft_golden.py [--old-python PY] [--check-export DIR]
                                            [--check-ckpt CKPT.h5]
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import peft
import safetensors
import torch
import transformers
from peft import AutoPeftModelForCausalLM, LoraConfig, get_peft_model
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "tests", "data", "golden", "llama_gqa")
OUT = os.path.join(ROOT, "tests", "data", "peft")
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
TOL = 1e-5
OLD_PYTHON = "/tmp/peft012/bin/python"


def dtype_kw(dtype):
    """transformers renamed torch_dtype to dtype in 4.56; 4.46 knows only the old name."""
    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    return {"dtype": dtype} if (major, minor) >= (4, 56) else {"torch_dtype": dtype}


def lora_fields():
    import dataclasses
    return sorted(f.name for f in dataclasses.fields(LoraConfig))


def in_old_peft(old_python, *args):
    """Runs this script's --worker under old_python; returns the JSON it prints."""
    if not os.access(old_python, os.X_OK):
        sys.exit(f"{old_python}: not found; make the PEFT 0.12 venv first:\n"
                 "  python3 -m venv /tmp/peft012 && /tmp/peft012/bin/pip install "
                 "peft==0.12.0 transformers==4.46.3 torch")
    out = subprocess.run([old_python, os.path.abspath(__file__), "--worker", *args],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


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


def save_with_peft():
    """What this PEFT's save_pretrained writes for the golden adapter (config as a dict)."""
    golden = load_file(os.path.join(MODEL, "golden.safetensors"))
    init = {k[len("lora.init."):]: v for k, v in golden.items() if k.startswith("lora.init.")}
    base = AutoModelForCausalLM.from_pretrained(MODEL, **dtype_kw(torch.float32))
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
        model.save_pretrained(tmp)
        with open(os.path.join(tmp, "adapter_config.json")) as f:
            written = json.load(f)
        saved = load_file(os.path.join(tmp, "adapter_model.safetensors"))
        for key, val in init.items():
            assert key in saved, key
            assert torch.equal(saved[key], val), key
        assert set(saved) == set(init), sorted(set(saved) ^ set(init))
    finally:
        shutil.rmtree(tmp)
    # PEFT records the base's name_or_path (the absolute dir it loaded from); the C test
    # checks that key on its own.
    written["base_model_name_or_path"] = "tests/data/golden/llama_gqa"
    written["target_modules"] = sorted(written["target_modules"])  # a Python set in PEFT
    return {"config": written, "fields": lora_fields(), "versions": versions(),
            "n_tensors": len(init)}


def write_json(name, obj):
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def make_golden(old_python):
    new, old = save_with_peft(), in_old_peft(old_python, "save")
    write_json("adapter_config.json", new["config"])
    write_json("adapter_config.peft-0.12.json", old["config"])
    write_json("lora_config_fields.json", {
        "what": "dataclasses.fields(peft.LoraConfig): the keys LoraConfig(**config) accepts",
        "peft " + old["versions"]["peft"]: old["fields"],
        "peft " + new["versions"]["peft"]: new["fields"]})
    meta = load_meta()
    meta.update({"script": "tests/ref/make_peft_golden.py", "versions": new["versions"],
                 "versions_old": old["versions"],
                 "adapter": {"r": 8, "lora_alpha": 16, "targets": TARGETS,
                             "tensors": "golden.safetensors lora.init.<key>",
                             "n_tensors": new["n_tensors"]},
                 "saved_keys_equal_golden_keys": True})
    save_meta(meta)
    print("wrote adapter_config.json (peft", new["versions"]["peft"],
          "), adapter_config.peft-0.12.json (peft", old["versions"]["peft"],
          "), lora_config_fields.json in", OUT)


def load_export(export_dir):
    """AutoPeftModelForCausalLM on export_dir from an unrelated cwd, logits vs golden."""
    torch.set_num_threads(2)
    golden = load_file(os.path.join(MODEL, "golden.safetensors"))
    export_dir = os.path.abspath(export_dir)
    here = os.getcwd()
    elsewhere = tempfile.mkdtemp(prefix="peft-load-")
    try:
        os.chdir(elsewhere)  # a relative base_model_name_or_path would not resolve here
        model = AutoPeftModelForCausalLM.from_pretrained(export_dir, **dtype_kw(torch.float32))
    finally:
        os.chdir(here)
        shutil.rmtree(elsewhere)
    model = model.double().eval()
    tokens, lens = golden["batch.tokens"].long(), golden["batch.seq_lens"].tolist()
    outs, at = [], 0
    with torch.no_grad():
        for n in lens:
            outs.append(model(input_ids=tokens[at:at + n][None]).logits[0])
            at += n
    got = torch.cat(outs).float()
    diff = (got.double() - golden["batch.logits_lora"].double()).abs().max().item()
    base_diff = (got.double() - golden["batch.logits_base"].double()).abs().max().item()
    return {"ok": diff <= TOL and base_diff > 1.0, "max_abs_diff_vs_logits_lora": diff,
            "max_abs_diff_vs_logits_base": base_diff, "tolerance": TOL,
            "loader": "peft.AutoPeftModelForCausalLM.from_pretrained(DIR) from another "
                      "working directory, float64",
            "versions": versions()}


def check_export(export_dir, old_python):
    results = [load_export(export_dir), in_old_peft(old_python, "load", export_dir)]
    files = {}
    for name in ("adapter_model.safetensors", "adapter_config.json"):
        with open(os.path.join(export_dir, name), "rb") as f:
            files[name] = hashlib.sha256(f.read()).hexdigest()
    with open(os.path.join(export_dir, "adapter_config.json")) as f:
        cfg = json.load(f)
    base = cfg["base_model_name_or_path"]
    assert os.path.isabs(base) and os.path.samefile(base, MODEL), base
    cfg["base_model_name_or_path"] = "tests/data/golden/llama_gqa"
    write_json("export_adapter_config.json", cfg)
    meta = load_meta()
    meta["check_export"] = {"peft " + r["versions"]["peft"]: r for r in results}
    meta["check_export"]["sha256"] = files
    save_meta(meta)
    for r in results:
        print(f"check-export {export_dir}: peft {r['versions']['peft']} transformers "
              f"{r['versions']['transformers']}: max |logits - logits_lora| = "
              f"{r['max_abs_diff_vs_logits_lora']:.3g} (vs base "
              f"{r['max_abs_diff_vs_logits_base']:.3g}): {'OK' if r['ok'] else 'FAIL'}")
    return 0 if all(r["ok"] for r in results) else 1


def worker(args):
    """The half that runs inside --old-python: one JSON line on stdout."""
    if args[0] == "save":
        out = save_with_peft()
    elif args[0] == "load":
        out = load_export(args[1])
    else:
        raise SystemExit(f"unknown worker task {args[0]}")
    print(json.dumps(out))
    return 0


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
    ap.add_argument("--old-python", metavar="PY", default=OLD_PYTHON,
                    help="the interpreter of the PEFT 0.12 + transformers 4.46 venv")
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        return worker(a.worker)
    if a.check_ckpt:
        return check_ckpt(a.check_ckpt)
    if a.check_export:
        return check_export(a.check_export, a.old_python)
    make_golden(a.old_python)
    return 0


if __name__ == "__main__":
    sys.exit(main())
