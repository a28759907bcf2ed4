#!/usr/bin/env python3
"""Golden tokenizations for tests/tok: Hugging Face `tokenizers`/`transformers` ids for a
fixed set of generated strings, on three tokenizers:

  tok512    llama2.c's stories260K tok512.bin: this script builds the equivalent
            SentencePiece ModelProto (pieces, scores, types) and lets transformers'
            LlamaTokenizerFast convert it (the reference tokenizer.json).
  llama2    the real Llama 2 tokenizer.model, converted by LlamaTokenizerFast.
  bytelevel a byte-level BPE (Llama 3 split regex, NFC, ignore_merges, special tokens,
            a BOS template) trained here on generated text; its tokenizer.json is
            committed next to the goldens.

Writes OUT/strings.jsonl (one JSON string per line), OUT/<name>.ids.jsonl (one
{"ids": [...], "rt": bool[, "dec": str]} per string, add_special_tokens=False; rt = HF
decode(ids) gives the string back, dec = what it gives otherwise),
OUT/<name>.special.ids.jsonl (the first N_SPECIAL strings with add_special_tokens=True,
plus "rts"/"decs" for decode(ids, skip_special_tokens=True)), OUT/bytelevel.tokenizer.json and OUT/meta.json (versions).
Only strings and ids are written for tok512/llama2: nothing from ../shared is copied.

With --tlm-convert-dir D (D/tok512 and D/llama2, or D/tok_golden_tok512 and
D/tok_golden_llama2, written by tlm's C converter l2c_tokenizer_convert: `tlm convert
llama2c`, or the test_tok_golden_* programs, which leave them in BUILD/tests/tmp), also asserts that those tokenizer.json files tokenize every string
exactly as the reference conversion does.

usage: python3 tests/ref/make_tok_golden.py [--shared ../shared] [--out tests/data/tok]
                                            [--tlm-convert-dir D]
"""
import argparse
import json
import os
import random
import struct
import sys
import tempfile

import tokenizers
import transformers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers
from tokenizers import pre_tokenizers, processors, trainers

SEED = 1234
N_STRINGS = 2100
N_SPECIAL = 200
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
BL_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
               "<|end_header_id|>", "<|eot_id|>"]

WORDS = ("the a of and to in is was it that he she they we you for on with as his her at by "
         "from this have had not but are or be one all were there when your can said use an "
         "each which do how their if will up other about out many then them these so some "
         "would make like him into time has look two more write go see number no way could "
         "people my than first water been call who oil its now find long down day did get come "
         "made may part once upon little girl named Lily loved play outside park happy dog "
         "sun tree friend mom dad ball big red blue cat bird fish jump run sing story "
         "don't can't it's we're they've I'm you'll she'd O'Neil naïve café résumé "
         "über Straße façade coöperate Ελληνικά русский язык ελπίδα mañana").split()
CODE = ["def f(x):\n    return x ** 2\n", "for (int i = 0; i < n; i++) {\n\tsum += a[i];\n}",
        "if (p != NULL && p->next) { free(p); }", "x = [1, 2, 3]  # list\n",
        "SELECT * FROM t WHERE id=42;", "#include <stdio.h>\nint main(void) { return 0; }",
        "const f = (a, b) => a + b;", "<div class=\"x\">&amp;</div>", "a->b->c", "i++ --j",
        "    indented\n        more\n", "{\"key\": [true, null, 1.5e-3]}", "$HOME/~user/.bashrc",
        "x:=y; y<<=2; z>>>=3;", "print('hello, world!')", "\t\tcase 0:\r\n\t\t\tbreak;"]
EMOJI = ["👍", "😀", "🎉", "❤️", "🔥", "👋🏽", "👨‍👩‍👧‍👦", "👩‍💻", "🏳️‍🌈", "🇫🇷", "🇯🇵", "✨", "🤖",
         "🧠", "☕", "1️⃣", "👁‍🗨", "🧑🏿‍🚀"]
CJK = ["你好世界", "今天天气很好", "机器学习", "こんにちは", "カタカナ", "日本語の文章です",
       "안녕하세요", "한국어", "漢字", "中文，标点。", "「引用」", "ｆｕｌｌｗｉｄｔｈ"]
ACCENTS = ["é", "e\u0301", "ñ", "n\u0303", "Å", "A\u030a", "ü", "u\u0308", "ệ", "e\u0323\u0302",
           "ǅ", "ﬁ", "Ω", "\u2126", "ḱ", "k\u0301", "ö\u0304", "Ǖ"]
ODD = ["\x00", "\x01", "\x07", "\x1b", "\x7f", "\u0085", "\u00a0", "\u200b", "\u200c", "\u200d",
       "\u2028", "\u2029", "\ufeff", "\u3000", "\u1680", "\u2003", "\u202f", "\u0301", "\u0308",
       "\ue000", "\uf8ff", "\U000f0000", "\U0010fffd", "\U0001d400", "\U0001f600", "\U00020000",
       "\ufffd", "\u00ad", "\u2060", "\u061c", "\u0000x", "\t", "\v", "\f", "\r", "\x1c",
       "\U0001F3FB"]
SPECIAL_STRS = ["<s>", "</s>", "<unk>", "<|begin_of_text|>", "<|eot_id|>", "<|end_of_text|>",
                "<|start_header_id|>user<|end_header_id|>", "[[note]]", "<mask>", "<s", "</s",
                "<|eot_id", "< s>", "<0x41>", "▁", "▁▁x"]
SPACES = [" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n ", "\t \t", "    ", " \u00a0 ",
          "\n\n\n   ", "        "]


def gen_number(r):
    k = r.randrange(6)
    if k == 0:
        return str(r.randrange(10 ** r.randrange(1, 12)))
    if k == 1:
        return f"{r.uniform(-1e4, 1e4):.{r.randrange(0, 6)}f}"
    if k == 2:
        return f"{r.randrange(1000):,}{r.randrange(1000):03d}"
    if k == 3:
        return f"({r.randrange(100, 999)}) {r.randrange(100, 999)}-{r.randrange(1000, 9999)}"
    if k == 4:
        return f"{r.randrange(1, 31)}/{r.randrange(1, 12)}/{r.randrange(1900, 2100)}"
    return "".join(r.choice("0123456789") for _ in range(r.randrange(1, 25)))


def gen_prose(r, n_words):
    out = []
    for i in range(n_words):
        w = r.choice(WORDS)
        if i == 0 or r.random() < 0.1:
            w = w.capitalize()
        if r.random() < 0.05:
            w = w.upper()
        out.append(w)
        if r.random() < 0.12:
            out[-1] += r.choice([",", ".", "!", "?", ";", ":", "...", "'s", "\"", ")"])
    return " ".join(out)


def gen_piece(r):
    k = r.randrange(11)
    if k <= 2:
        return gen_prose(r, r.randrange(1, 14))
    if k == 3:
        return r.choice(CODE)
    if k == 4:
        return gen_number(r)
    if k == 5:
        return r.choice(SPACES)
    if k == 6:
        return "".join(r.choice(EMOJI) for _ in range(r.randrange(1, 4)))
    if k == 7:
        return r.choice(CJK)
    if k == 8:
        return "".join(r.choice(ACCENTS) for _ in range(r.randrange(1, 5))) + r.choice(WORDS)
    if k == 9:
        return "".join(r.choice(ODD) for _ in range(r.randrange(1, 4)))
    return r.choice(SPECIAL_STRS)


def gen_strings(seed, n):
    r = random.Random(seed)
    fixed = ["", " ", "  ", "a", " a", "a ", "Hello world", " Hello world", "Hello  world  ",
             "\n", "\t", "<s>", "<s>hi</s> x", " <s> ", "<|begin_of_text|>Hi<|eot_id|>",
             "[[note]] x [[note]]", "a <mask> b", "a  <mask>  b", "é", "e\u0301", "👨‍👩‍👧‍👦",
             "12345678901234", "don't", "DON'T", "I'LL", "\r\n\r\n", "x\u00a0y", "\u3000\u3000"]
    out = list(fixed)
    while len(out) < n:
        parts = [gen_piece(r) for _ in range(r.randrange(1, 6))]
        s = "".join(p + (r.choice(["", " ", " ", "\n"]) if i + 1 < len(parts) else "")
                    for i, p in enumerate(parts))
        if r.random() < 0.1:
            s = " " * r.randrange(1, 4) + s
        if r.random() < 0.1:
            s = s + " " * r.randrange(1, 4)
        out.append(s)
    return out


def tok512_model_proto(bin_path, work_dir):
    """The SentencePiece ModelProto equivalent to a llama2.c tokenizer.bin."""
    from sentencepiece import sentencepiece_model_pb2 as spb
    data = open(bin_path, "rb").read()
    pos = 4
    m = spb.ModelProto()
    i = 0
    while pos < len(data):
        score, n = struct.unpack_from("<fi", data, pos)
        pos += 8
        piece = data[pos:pos + n].decode("utf-8")
        pos += n
        piece = piece.strip("\n") if i in (1, 2) else piece
        p = m.pieces.add()
        p.piece = piece.replace(" ", "\u2581")
        p.score = score
        if i == 0:
            p.type = spb.ModelProto.SentencePiece.UNKNOWN
        elif i in (1, 2):
            p.type = spb.ModelProto.SentencePiece.CONTROL
        elif piece.startswith("<0x") and len(piece) == 6:
            p.type = spb.ModelProto.SentencePiece.BYTE
        else:
            p.type = spb.ModelProto.SentencePiece.NORMAL
        i += 1
    ts = m.trainer_spec
    ts.model_type = spb.TrainerSpec.BPE
    ts.vocab_size = i
    ts.byte_fallback = True
    ts.unk_id, ts.bos_id, ts.eos_id, ts.pad_id = 0, 1, 2, -1
    ns = m.normalizer_spec
    ns.name = "identity"
    ns.add_dummy_prefix = True
    ns.remove_extra_whitespaces = False
    path = os.path.join(work_dir, "tokenizer.model")
    with open(path, "wb") as f:
        f.write(m.SerializeToString())
    return path


def hf_llama_from_model(model_path, save_dir):
    """transformers' conversion of a SentencePiece model (BOS template as Llama's)."""
    d = os.path.dirname(model_path)
    t = transformers.LlamaTokenizerFast.from_pretrained(d, add_bos_token=True,
                                                        add_eos_token=False)
    t.save_pretrained(save_dir)
    return Tokenizer.from_file(os.path.join(save_dir, "tokenizer.json"))


def train_bytelevel(strings_seed):
    corpus = gen_strings(strings_seed, 6000)
    corpus += [gen_prose(random.Random(i), 40) for i in range(2000)]
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=2000, min_frequency=2, show_progress=False,
                                  special_tokens=BL_SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer=trainer)
    tok.add_tokens([AddedToken("[[note]]", normalized=True, special=False)])
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True, normalized=False)])
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A",
                                      pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
                                      special_tokens=[("<|begin_of_text|>", bos)])])
    return tok


def encode_all(tok, strings, special):
    """One row per string: ids; rt = HF decode(ids) gives s back, else dec = what it gives;
    with special also rts/decs for decode(ids, skip_special_tokens=True)."""
    out = []
    for s in strings:
        ids = tok.encode(s, add_special_tokens=special).ids
        row = {"ids": ids}
        for key, skip in (("rt", False), ("rts", True)) if special else (("rt", False),):
            dec = tok.decode(ids, skip_special_tokens=skip)
            row[key] = dec == s
            if dec != s:
                row["dec" + key[2:]] = dec
        out.append(row)
    return out


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n")


def check_same(name, ref, other_path, strings):
    other = Tokenizer.from_file(other_path)
    bad = 0
    for special in (False, True):
        for s in strings:
            a = ref.encode(s, add_special_tokens=special).ids
            b = other.encode(s, add_special_tokens=special).ids
            if a != b:
                if bad < 5:
                    print(f"{name}: MISMATCH {s!r}: ref {a} tlm {b}")
                bad += 1
    print(f"{name}: tlm converter output {'differs on %d strings' % bad if bad else 'identical'}"
          f" ({2 * len(strings)} encodings)")
    return bad


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join(here, "..", "..", "..", "shared"))
    ap.add_argument("--out", default=os.path.join(here, "..", "data", "tok"))
    ap.add_argument("--tlm-convert-dir", default=None)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    strings = gen_strings(SEED, N_STRINGS)
    write_jsonl(os.path.join(a.out, "strings.jsonl"), strings)
    refs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in (
                ("tok512", lambda d: tok512_model_proto(
                    os.path.join(a.shared, "models/stories260K/tok512.bin"), d)),
                ("llama2", lambda d: os.path.join(a.shared, "tokenizers/llama2/tokenizer.model"))):
            src = os.path.join(tmp, name + "_src")
            os.makedirs(src)
            model = make(src)
            if os.path.dirname(model) != src:
                os.symlink(model, os.path.join(src, "tokenizer.model"))
            refs[name] = hf_llama_from_model(os.path.join(src, "tokenizer.model"),
                                             os.path.join(tmp, name + "_hf"))
    bl = train_bytelevel(SEED + 1)
    bl.save(os.path.join(a.out, "bytelevel.tokenizer.json"))
    refs["bytelevel"] = Tokenizer.from_file(os.path.join(a.out, "bytelevel.tokenizer.json"))
    for name, tok in refs.items():
        write_jsonl(os.path.join(a.out, f"{name}.ids.jsonl"), encode_all(tok, strings, False))
        write_jsonl(os.path.join(a.out, f"{name}.special.ids.jsonl"),
                    encode_all(tok, strings[:N_SPECIAL], True))
    meta = {"generator": "tests/ref/make_tok_golden.py", "seed": SEED, "n_strings": N_STRINGS,
            "n_special": N_SPECIAL, "tokenizers": tokenizers.__version__,
            "transformers": transformers.__version__, "python": sys.version.split()[0]}
    with open(os.path.join(a.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    bad = 0
    if a.tlm_convert_dir:
        for name in ("tok512", "llama2"):
            path = os.path.join(a.tlm_convert_dir, name, "tokenizer.json")
            if not os.path.exists(path):  # the layout test_tok_golden leaves in its tmp dir
                path = os.path.join(a.tlm_convert_dir, "tok_golden_" + name, "tokenizer.json")
            bad += check_same(name, refs[name], path, strings)
    total = sum(os.path.getsize(os.path.join(a.out, f)) for f in os.listdir(a.out))
    print(f"wrote {len(strings)} strings, goldens for {sorted(refs)}; {total} bytes in {a.out}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
