#!/usr/bin/env python3
"""Golden chat-template encodings for tests/jobs/test_chat_template.c.

Reproduces how the TLM reference (github.com/Fhujinwu/TLM, a LLaMA-Factory fork) builds
the input of a test sample, for one user turn and the assistant turn after it:

  src/llamafactory/data/template.py    register_template(...) for llama3, llama2, qwen,
                                       mistral, empty (tlm's "none"); Template._encode,
                                       Llama2Template._encode, _convert_elements_to_ids
  src/llamafactory/data/formatter.py   StringFormatter.apply (replace "{{name}}" once each)
  src/llamafactory/data/processor/processor_utils.py   infer_seqlen (cutoff_len)
  src/llamafactory/data/processor/{self_supervised,unsupervised}.py
                                       _encode_data_example: messages = prompt + response
                                       (or an empty assistant turn), encode_oneturn, then
                                       input_ids[:source_len]

The TEMPLATES table and encode functions below are a re-implementation of those (so CI
needs no checkout of the fork). With --reference-src PATH (PATH = the fork's src/
directory) the script also imports the fork's own template.py and formatter.py, with
their heavy imports stubbed, and asserts that its elements equal ours for every case.

Ids: each text element is encoded alone with add_special_tokens=False, BOS/EOS elements
become the tokenizer's ids (dropped when it has none), on two tokenizers:
  bytelevel  tests/data/tok/bytelevel.tokenizer.json (BOS <|begin_of_text|> from its
             template, no EOS), committed by tests/ref/make_tok_golden.py
  llama2     ../shared/tokenizers/llama2/tokenizer.model converted by transformers'
             LlamaTokenizerFast (BOS <s>, EOS </s>); only ids are written.

Writes OUT/<template>.json: {"template", "stop_words", "cases": [{"prompt", "system",
"response", "prompt_elems", "response_elems", "ids": {tokenizer: {"prompt", "response",
"inputs": {cutoff: ids}}}}]}; an element is {"text": s} or {"special": "bos"|"eos"}.
"inputs" (the truncated input as the TTL data path builds it) is given for cases with
the default system prompt.

usage: python3 tests/ref/make_template_golden.py [--shared ../shared]
           [--out tests/data/templates] [--reference-src /path/to/TLM/src]
"""
import argparse
import json
import os
import sys
import tempfile

BOS, EOS = {"special": "bos"}, {"special": "eos"}

# name -> the register_template arguments that matter for one user turn (template.py).
# Formatters not given there take register_template's defaults: user/system
# "{{content}}", assistant ["{{content}}", {"eos_token"}].
TEMPLATES = {
    "llama3": dict(
        prefix=[BOS],
        user=["<|start_header_id|>user<|end_header_id|>\n\n{{content}}<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\n"],
        system=["<|start_header_id|>system<|end_header_id|>\n\n{{content}}<|eot_id|>"],
        assistant=["{{content}}<|eot_id|>"], default_system="",
        stop_words=["<|eot_id|>", "<|eom_id|>"], llama2_class=False),
    "llama2": dict(
        prefix=[], user=[BOS, "[INST] {{content}} [/INST]"],
        system=["<<SYS>>\n{{content}}\n<</SYS>>\n\n"], assistant=["{{content}}", EOS],
        default_system="", stop_words=[], llama2_class=True),
    "qwen": dict(
        prefix=[], user=["<|im_start|>user\n{{content}}<|im_end|>\n<|im_start|>assistant\n"],
        system=["<|im_start|>system\n{{content}}<|im_end|>\n"],
        assistant=["{{content}}<|im_end|>\n"],
        default_system="You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
        stop_words=["<|im_end|>"], llama2_class=False),
    "mistral": dict(
        prefix=[BOS], user=["[INST] {{content}}[/INST]"], system=["{{content}}\n\n"],
        assistant=[" {{content}}", EOS], default_system="", stop_words=[], llama2_class=True),
    "none": dict(  # LLaMA-Factory's "empty"
        prefix=[], user=["{{content}}"], system=["{{content}}"], assistant=["{{content}}"],
        default_system="", stop_words=[], llama2_class=False),
}
REFERENCE_NAME = {"none": "empty"}


def apply(slots, **kwargs):
    """StringFormatter.apply: each text slot gets str.replace("{{name}}", value, 1) for
    every keyword, in order; special slots pass through."""
    out = []
    for slot in slots:
        if isinstance(slot, str):
            for name, value in kwargs.items():
                slot = slot.replace("{{" + name + "}}", value, 1)
        out.append(slot)
    return out


def format_messages(t, prompt, system, response):
    """Template._encode / Llama2Template._encode element lists for [user, assistant]."""
    system = system or t["default_system"]
    first = list(t["prefix"])
    if t["llama2_class"]:
        system_text = apply(t["system"], content=system)[0] if system else ""
        first += apply(t["user"], content=system_text + prompt)
    else:
        if system:
            first += apply(t["system"], content=system)
        first += apply(t["user"], content=prompt, idx="0")
    return first, apply(t["assistant"], content=response)


def infer_seqlen(source_len, target_len, cutoff_len):
    """processor_utils.infer_seqlen."""
    if target_len * 2 < cutoff_len:
        max_target_len = cutoff_len
    elif source_len * 2 < cutoff_len:
        max_target_len = cutoff_len - source_len
    else:
        max_target_len = int(cutoff_len * (target_len / (source_len + target_len)))
    new_target_len = min(max_target_len, target_len)
    max_source_len = max(cutoff_len - new_target_len, 0)
    return min(max_source_len, source_len), new_target_len


class Tok:
    """The slice of a HF tokenizer _convert_elements_to_ids uses."""

    def __init__(self, tokenizer, bos, eos):
        self.t, self.bos_token_id, self.eos_token_id = tokenizer, bos, eos

    def encode(self, text, add_special_tokens=False):
        return self.t.encode(text, add_special_tokens=add_special_tokens).ids


def to_ids(tok, elems):
    """_convert_elements_to_ids: texts encoded one by one, empty ones skipped."""
    ids = []
    for e in elems:
        if isinstance(e, str):
            if e:
                ids += tok.encode(e, add_special_tokens=False)
        elif e == BOS and tok.bos_token_id is not None:
            ids.append(tok.bos_token_id)
        elif e == EOS and tok.eos_token_id is not None:
            ids.append(tok.eos_token_id)
    return ids


def as_json_elems(elems):
    return [{"text": e} if isinstance(e, str) else e for e in elems]


LONG = " ".join(f"word{i} is here, and" for i in range(40))
CASES = [  # (prompt, system, response)
    ("Hello", None, None),
    ("If you are a doctor, please answer the medical questions based on the patient's "
     "description.\nDoctor, I have a cough and a fever.", None, "You may have the flu."),
    ("", None, None),
    ("caf\u00e9 na\u00efve \u00fcber \u0440\u0443\u0441\u0441\u043a\u0438\u0439 "
     "\u4f60\u597d \U0001f600", None, "ok"),
    ("literal {{idx}} and {{content}} and {{idx}} again", None, None),
    ("contains <|eot_id|> and <|im_end|> and </s> and [INST] markers", None, None),
    ("  leading and trailing spaces  \n\n", None, "  spaced  "),
    ("Summarise the text.\n" + LONG, None, None),
    ("Short question?", None, LONG),
    ("Who are you?", "You are a pirate.", "Arr."),
    ("Tabs\tand\r\nCRLF", "", None),
]
CUTOFFS = [8, 16, 40, 4096]


def load_reference(src):
    """Imports the fork's template.py/formatter.py with their heavy imports stubbed."""
    import enum
    import importlib.util
    import logging
    import types

    def module(name, **attrs):
        m = types.ModuleType(name)
        m.__path__ = []
        m.__dict__.update(attrs)
        sys.modules[name] = m
        return m

    class Role(str, enum.Enum):
        USER, ASSISTANT, SYSTEM = "user", "assistant", "system"
        FUNCTION, OBSERVATION = "function", "observation"

    class Plugin:
        def process_messages(self, messages, *a):
            return messages

    log = logging.getLogger("llamafactory-ref")
    log.info_rank0 = log.warning_rank0 = log.warning_rank0_once = log.info
    base = os.path.join(src, "llamafactory")
    module("llamafactory").__path__ = [base]
    module("llamafactory.data").__path__ = [os.path.join(base, "data")]
    module("llamafactory.extras").__path__ = [os.path.join(base, "extras")]
    module("llamafactory.extras.logging", get_logger=lambda *a: log)
    module("llamafactory.extras.misc", check_version=lambda *a, **k: None)
    module("llamafactory.data.data_utils", Role=Role, SLOTS=list)
    module("llamafactory.data.mm_plugin", get_mm_plugin=lambda *a, **k: Plugin())
    loaded = {}
    for name in ("tool_utils", "formatter", "template"):
        spec = importlib.util.spec_from_file_location(
            "llamafactory.data." + name, os.path.join(base, "data", name + ".py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod
        spec.loader.exec_module(mod)
        loaded[name] = mod
    return loaded["template"].TEMPLATES


class Recorder:
    """A tokenizer that returns the elements it is given, to read _encode's elements."""
    bos_token_id, eos_token_id = "BOS", "EOS"

    def encode(self, text, add_special_tokens=False):
        return [text]

    def convert_tokens_to_ids(self, token):
        return token


def check_reference(ref_templates):
    bad = 0
    for name, t in TEMPLATES.items():
        ref = ref_templates[REFERENCE_NAME.get(name, name)]
        assert ref.default_system == t["default_system"], name
        assert list(ref.stop_words) == t["stop_words"], name
        assert not ref.efficient_eos and not ref.replace_eos, name
        for prompt, system, response in CASES:
            msgs = [{"role": "user", "content": prompt},
                    {"role": "assistant", "content": response or ""}]
            got = ref._encode(Recorder(), msgs, system or "", "")
            ours = [to_ids(Recorder(), e) for e in format_messages(t, prompt, system,
                                                                    response or "")]
            if got != ours:
                print(f"MISMATCH {name} {prompt[:30]!r}: reference {got} ours {ours}")
                bad += 1
    print(f"checked {len(TEMPLATES)} templates x {len(CASES)} cases against the reference: "
          f"{bad} mismatches")
    return bad


def tokenizers_for(here, shared):
    from tokenizers import Tokenizer
    toks = {}
    bl = Tokenizer.from_file(os.path.join(here, "..", "data", "tok", "bytelevel.tokenizer.json"))
    toks["bytelevel"] = Tok(bl, bl.token_to_id("<|begin_of_text|>"), None)
    model = os.path.join(shared, "tokenizers", "llama2", "tokenizer.model")
    if os.path.exists(model):
        sys.path.insert(0, here)
        from make_tok_golden import hf_llama_from_model
        with tempfile.TemporaryDirectory() as tmp:
            os.symlink(model, os.path.join(tmp, "tokenizer.model"))
            l2 = hf_llama_from_model(os.path.join(tmp, "tokenizer.model"),
                                     os.path.join(tmp, "hf"))
        toks["llama2"] = Tok(l2, l2.token_to_id("<s>"), l2.token_to_id("</s>"))
    return toks


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join(here, "..", "..", "..", "shared"))
    ap.add_argument("--out", default=os.path.join(here, "..", "data", "templates"))
    ap.add_argument("--reference-src", default=None)
    a = ap.parse_args()
    bad = check_reference(load_reference(a.reference_src)) if a.reference_src else 0
    toks = tokenizers_for(here, a.shared)
    os.makedirs(a.out, exist_ok=True)
    for name, t in TEMPLATES.items():
        cases = []
        for prompt, system, response in CASES:
            p_el, r_el = format_messages(t, prompt, system, response or "")
            case = {"prompt": prompt, "system": system, "response": response,
                    "prompt_elems": as_json_elems(p_el), "response_elems": as_json_elems(r_el),
                    "ids": {}}
            for tname, tok in toks.items():
                p_ids, r_ids = to_ids(tok, p_el), to_ids(tok, r_el)
                entry = {"prompt": p_ids, "response": r_ids}
                if not system:
                    entry["inputs"] = {
                        str(c): p_ids[:infer_seqlen(len(p_ids), len(r_ids), c)[0]]
                        for c in CUTOFFS}
                case["ids"][tname] = entry
            cases.append(case)
        doc = {"template": name, "generator": "tests/ref/make_template_golden.py",
               "stop_words": t["stop_words"], "cases": cases}
        with open(os.path.join(a.out, name + ".json"), "w") as f:
            json.dump(doc, f, indent=1, ensure_ascii=False)
            f.write("\n")
    print(f"wrote {len(TEMPLATES)} templates x {len(CASES)} cases, ids for {sorted(toks)} "
          f"to {a.out}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
