#!/usr/bin/env python3
"""tests/ref/make_nf4_golden.py -- QLoRA's NF4 from bitsandbytes, frozen for
test_ops_cpu_quant: bitsandbytes.functional.quantize_4bit(x, blocksize=64,
quant_type="nf4") on CPU of a seeded (8, 256) tensor (rows at scales 1e-3 .. 1, one row
all zeros, one with a single outlier), its packed codes (two a byte, the even element in
the high nibble) as I32 and its per-64 absmax (fp32, no double quantization), and
dequantize_4bit's floats. Writes tests/data/golden/nf4/nf4_bnb.safetensors.
Usage: python3 tests/ref/make_nf4_golden.py (bitsandbytes >= 0.45 with its CPU backend)."""
import os

import bitsandbytes
import bitsandbytes.functional as F
import torch
from safetensors.torch import save_file

torch.manual_seed(18)
x = torch.randn(8, 256, dtype=torch.float32)
for r, s in enumerate([1e-3, 1e-2, 0.05, 0.1, 0.5, 1.0, 0.0, 0.02]):
    x[r] *= s
x[7, 100] = 3.0  # one outlier: its block's other weights fall on the levels near 0
q, st = F.quantize_4bit(x, blocksize=64, quant_type="nf4")
d = F.dequantize_4bit(q, st)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "golden", "nf4")
os.makedirs(out, exist_ok=True)
save_file({"x": x.contiguous(), "codes": q.reshape(-1).to(torch.int32).contiguous(),
           "absmax": st.absmax.float().contiguous(), "dequantized": d.float().contiguous()},
          os.path.join(out, "nf4_bnb.safetensors"),
          metadata={"bitsandbytes": bitsandbytes.__version__})
print("wrote nf4_bnb.safetensors with bitsandbytes", bitsandbytes.__version__)
