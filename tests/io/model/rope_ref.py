"""Prints the RoPE cos/sin reference values that tests/io/model/test_model_config.c checks.

Run: python3 tests/io/model/rope_ref.py   (torch 2.15, transformers 5.23 when last generated)

Builds the configs of test_model_config.c with transformers and evaluates its own
rotary embedding modules, so the values are what Hugging Face computes, not a
re-derivation of the formula.
"""
import torch
from transformers import LlamaConfig, Qwen2Config
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding
from transformers.models.qwen2.modeling_qwen2 import Qwen2RotaryEmbedding

CASES = {
    # llama3.2-style: explicit head_dim 32 (not hidden/heads = 16), llama3 scaling
    "llama32": (LlamaConfig(hidden_size=64, num_attention_heads=4, num_key_value_heads=2,
                            head_dim=32, max_position_embeddings=131072, rope_theta=500000.0,
                            rope_scaling={"rope_type": "llama3", "factor": 32.0,
                                          "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                          "original_max_position_embeddings": 8192}),
                LlamaRotaryEmbedding),
    "qwen2": (Qwen2Config(hidden_size=128, num_attention_heads=4, num_key_value_heads=2,
                          max_position_embeddings=32768, rope_theta=1000000.0),
              Qwen2RotaryEmbedding),
}
POSITIONS = [0, 1, 7, 1000, 65535]


def c_float(x):
    s = f"{x:.9g}"
    return (s if ("." in s or "e" in s) else s + ".0") + "f"


INDICES = [0, 3, 8, 12, 15]

for name, (cfg, cls) in CASES.items():
    rot = cls(cfg)
    cos, sin = rot(torch.zeros(1), torch.tensor([POSITIONS]))
    for label, t in (("cos", cos), ("sin", sin)):
        vals = [c_float(t[0, p, i].item()) for p in range(len(POSITIONS)) for i in INDICES]
        print(f"static const float {name.upper()}_{label.upper()}[] = {{" + ", ".join(vals) + "};")
