#!/usr/bin/env python3
"""Golden chatml encodings (tests/data/templates/chatml.json) for tests/io/text/
test_chat_template.c, checked against transformers' apply_chat_template on the chat template
of a real ChatML model: SmolLM2-135M-Instruct's, read from ../shared's GGUF.

tlm's chatml is the reference's (LLaMA-Factory) chatml template -- user/system/assistant
slots, stop words <|im_end|> and <|im_start|> -- with the model's own default system
prompt, which LLaMA-Factory's parse_template also derives from the tokenizer's template.
For every case of make_template_golden.py this script formats the elements as the
reference's Template._encode does (make_template_golden.format_messages) and asserts that
their text is exactly apply_chat_template's (add_generation_prompt=True for the prompt; the
whole [user, assistant] chat for the response turn), and that encoding the elements one by
one gives apply_chat_template's token ids on SmolLM2's tokenizer -- except the case whose
prompt holds a literal "{{idx}}", which the reference's StringFormatter rewrites to "0" and
transformers keeps (hf_equal false; tlm follows the reference).

Writes {"template", "stop_words", "model_template", "default_system", "cases": [{"prompt",
"system", "response", "prompt_elems", "response_elems", "hf_prompt_text", "ids":
{"bytelevel": {"prompt", "response"}, "smollm2": {"prompt", "response", "inputs"}}}]}.

usage: python3 tests/ref/make_chatml_golden.py [--shared ../shared] [--out tests/data/templates]
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_template_golden import (CASES, CUTOFFS, Tok, as_json_elems, format_messages,  # noqa
                                  infer_seqlen, to_ids, tokenizers_for)
from make_gguf_golden import SMOL, smol_reference_tokenizer  # noqa

SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join(HERE, "..", "..", "..", "shared"))
    ap.add_argument("--out", default=os.path.join(HERE, "..", "data", "templates"))
    a = ap.parse_args()
    d, f = os.path.split(os.path.join(a.shared, SMOL))
    hf, _ = smol_reference_tokenizer(d, f)
    template = hf.chat_template
    t = dict(prefix=[], user=["<|im_start|>user\n{{content}}<|im_end|>\n<|im_start|>assistant\n"],
             system=["<|im_start|>system\n{{content}}<|im_end|>\n"],
             assistant=["{{content}}<|im_end|>\n"], default_system=SYSTEM,
             stop_words=["<|im_end|>", "<|im_start|>"], llama2_class=False)
    bytelevel = tokenizers_for(HERE, "/nonexistent")["bytelevel"]
    smol = Tok(hf.backend_tokenizer, None, None)  # the template writes no BOS
    cases, n_equal = [], 0
    for prompt, system, response in CASES:
        p_el, r_el = format_messages(t, prompt, system, response or "")
        msgs = ([{"role": "system", "content": system}] if system else []) + \
               [{"role": "user", "content": prompt}]
        hf_prompt = hf.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
        hf_full = hf.apply_chat_template(msgs + [{"role": "assistant", "content": response or ""}],
                                         tokenize=False)
        # The reference's StringFormatter also replaces a literal "{{idx}}" inside the
        # user's text (tlm reproduces it); that case alone differs from transformers.
        hf_equal = "".join(p_el) == hf_prompt
        assert hf_equal or "{{idx}}" in prompt, (prompt, p_el, hf_prompt)
        assert not hf_equal or hf_full == hf_prompt + "".join(r_el), (prompt, hf_full)
        p_ids, r_ids = to_ids(smol, p_el), to_ids(smol, r_el)
        assert not hf_equal or p_ids == hf(hf_prompt, add_special_tokens=False)["input_ids"]
        n_equal += hf_equal
        entry = {"prompt": p_ids, "response": r_ids}
        if not system:
            entry["inputs"] = {str(c): p_ids[:infer_seqlen(len(p_ids), len(r_ids), c)[0]]
                               for c in CUTOFFS}
        cases.append({"prompt": prompt, "system": system, "response": response,
                      "prompt_elems": as_json_elems(p_el), "response_elems": as_json_elems(r_el),
                      "hf_prompt_text": hf_prompt, "hf_equal": hf_equal,
                      "ids": {"bytelevel": {"prompt": to_ids(bytelevel, p_el),
                                            "response": to_ids(bytelevel, r_el)},
                              "smollm2": entry}})
    import transformers
    doc = {"template": "chatml", "generator": "tests/ref/make_chatml_golden.py",
           "transformers": transformers.__version__, "stop_words": t["stop_words"],
           "model_template": template, "default_system": SYSTEM, "cases": cases}
    with open(os.path.join(a.out, "chatml.json"), "w") as fh:
        json.dump(doc, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    print(f"chatml: {n_equal} of {len(cases)} cases equal to apply_chat_template (text and "
          f"SmolLM2 ids); the other one holds a literal {{{{idx}}}}, which the reference rewrites")
    return 0


if __name__ == "__main__":
    sys.exit(main())
