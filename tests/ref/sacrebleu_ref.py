#!/usr/bin/env python3
"""sacrebleu_ref.py — `bitbench eval bleu` against the reference sacrebleu package.

Corpora: the first 200 lines of datasets/mt/dev.en (and dev.el, Greek, for lowercasing)
as references against seeded perturbed copies as hypotheses (words dropped, swapped,
upper-cased; entities, numbers, punctuation and Unicode whitespace inserted), with a
second perturbed English reference stream; and a synthetic corpus of random tokens drawn
from ASCII punctuation, digits, Greek capitals (final sigma), U+0130, combining marks,
CJK, emoji and every Python whitespace character.
Checks, for BLEU (every tokenizer, smoothing method and value, lowercase) and chrF
(chrF, chrF++, lowercase, whitespace, eps smoothing, other orders/beta):
  - corpus scores from `--json --width 12` within 1e-9 of sacrebleu's unrounded score,
    signature and verbose string identical;
  - `--sentence --json --width 12`: every segment within 1e-9;
  - text output (default width 1) identical to sacrebleu's Score.format, and for
    `--metrics bleu,chrf` identical to `python3 -m sacrebleu ... -f text` (alignment);
  - lowercasing of every code point str.lower() changes, and of capital sigma beside
    every case-ignorable character, equal to Python's (char tokenizer, BLEU 100 per line).
Usage: sacrebleu_ref.py PATH/TO/bitbench. Exits 77 (meson's skip) when sacrebleu cannot
be imported; scripts/install-deps pip-installs it."""
import json
import os
import random
import subprocess
import sys
import tempfile

try:
    import sacrebleu
    from sacrebleu.metrics import BLEU, CHRF
except ImportError as e:
    print(f"SKIP: the reference sacrebleu package is not importable ({e}); scripts/install-deps pip-installs it")
    sys.exit(77)

BB = sys.argv[1]
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
TOL = 1e-9
N_LINES = 200
failures = 0
checks = 0


def expect(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print(f"FAIL: {what}")


def read_lines(path, n):
    with open(path, encoding="utf-8", newline="\n") as f:
        return [line.rstrip() for _, line in zip(range(n), f)]


NOISE = ["&amp;", "&quot;", "&lt;b&gt;", "&amp;quot;", "<skipped>", "3.14", "1,000", "9-5", "1.5-2.0", "U.S.A.",
         "...", "—", "“quoted”", "x@y.com", "(hi)", "[a]{b}", "C++", "50%", "$5.00,", "a/b\\c", "İstanbul",
         "ΣΑΣ", "ΟΔΟΣ.", "don't", "--", "-", "e.g.", "12.,34", "«ναί»", "\u00a0", "\u2028", "\u3000", "\t"]


def perturb(line, rng):
    words = line.split()
    out = []
    i = 0
    while i < len(words):
        w = words[i]
        r = rng.random()
        if r < 0.06:
            pass                                   # drop
        elif r < 0.12 and i + 1 < len(words):
            out += [words[i + 1], w]              # swap
            i += 1
        elif r < 0.17:
            out.append(w.upper())
        elif r < 0.21:
            out.append(w.capitalize())
        elif r < 0.27:
            out += [w, rng.choice(NOISE)]
        else:
            out.append(w)
        i += 1
    seps = [" ", " ", " ", "  ", "\u00a0", "\t"]
    text = out[0] if out else ""
    for w in out[1:]:
        text += rng.choice(seps) + w
    if rng.random() < 0.05:
        text = ""
    if rng.random() < 0.1:
        text += rng.choice([" ", "\t", "\u3000", " \u00a0"])
    return text


POOL = (list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") * 3 +
        list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") * 2 +
        list("ΣΑΟΔΛσςαοδλ") + ["\u0130", "\u0301", "\u0342", "é", "ß", "Ǆ", "日本", "語", "\U0001F600", "’", "…",
                               "–", "„", "·", "΄", "\u00ad"])
SPACES = [" ", " ", " ", "\t", "\u00a0", "\u2028", "\u3000", "\u0085", "\u1680", "\u2009", "\u202f", "\x1c", "\r",
          "\x0b", "\x0c"]


def synthetic(rng, n):
    lines = []
    for _ in range(n):
        toks = ["".join(rng.choice(POOL) for _ in range(rng.randint(1, 6))) for _ in range(rng.randint(0, 14))]
        text = ""
        for t in toks:
            text += (rng.choice(SPACES) if text else "") + t
        lines.append(text.rstrip())
    return lines


def write(dirname, name, lines):
    path = os.path.join(dirname, name)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(line + "\n" for line in lines))
    return path


def run_bb(args):
    p = subprocess.run([BB, "eval", "bleu"] + args, capture_output=True, text=True, encoding="utf-8")
    if p.returncode != 0:
        raise RuntimeError(f"bitbench {' '.join(args)} exited {p.returncode}: {p.stderr.strip()}")
    return p.stdout


def sig_of(metric):
    return metric.get_signature().format()


def same_sig(ours, theirs):
    if sacrebleu.__version__ == "2.6.0":
        return ours == theirs
    return ours.rsplit("|", 1)[0] == theirs.rsplit("|", 1)[0]   # bitbench signs as 2.6.0


# (label, bitbench flags, sacrebleu constructor kwargs)
BLEU_CONFIGS = [
    ("bleu", [], {}),
    ("bleu tok=none", ["--tokenize", "none"], {"tokenize": "none"}),
    ("bleu tok=intl", ["--tokenize", "intl"], {"tokenize": "intl"}),
    ("bleu tok=char", ["--tokenize", "char"], {"tokenize": "char"}),
    ("bleu lowercase", ["--lowercase"], {"lowercase": True}),
    ("bleu lowercase intl", ["--lowercase", "--tokenize", "intl"], {"lowercase": True, "tokenize": "intl"}),
    ("bleu smooth=floor", ["--smooth", "floor"], {"smooth_method": "floor"}),
    ("bleu smooth=floor 0.3", ["--smooth", "floor", "--smooth-value", "0.3"],
     {"smooth_method": "floor", "smooth_value": 0.3}),
    ("bleu smooth=add-k", ["--smooth", "add-k"], {"smooth_method": "add-k"}),
    ("bleu smooth=add-k 2", ["--smooth", "add-k", "--smooth-value", "2"], {"smooth_method": "add-k", "smooth_value": 2}),
    ("bleu smooth=none", ["--smooth", "none"], {"smooth_method": "none"}),
]
CHRF_CONFIGS = [
    ("chrf", [], {}),
    ("chrf++", ["--chrf-word-order", "2"], {"word_order": 2}),
    ("chrf++ lowercase", ["--chrf-word-order", "2", "--chrf-lowercase"], {"word_order": 2, "lowercase": True}),
    ("chrf whitespace", ["--chrf-whitespace"], {"whitespace": True}),
    ("chrf eps", ["--chrf-eps-smoothing"], {"eps_smoothing": True}),
    ("chrf nc=4 nw=1 beta=3", ["--chrf-char-order", "4", "--chrf-word-order", "1", "--chrf-beta", "3"],
     {"char_order": 4, "word_order": 1, "beta": 3}),
]


def check_corpus(tag, hyp_path, ref_paths, hyps, refs):
    ref_args = [a for p in ref_paths for a in ("--ref", p)]
    for kind, configs, cls in (("bleu", BLEU_CONFIGS, BLEU), ("chrf", CHRF_CONFIGS, CHRF)):
        for label, flags, kwargs in configs:
            base = ["--hyp", hyp_path] + ref_args + ["--metrics", kind] + flags
            metric = cls(**kwargs)
            score = metric.corpus_score(hyps, refs)
            sig = sig_of(metric)
            got = json.loads(run_bb(base + ["--json", "--width", "12"]))
            expect(abs(got["score"] - score.score) <= TOL,
                   f"{tag} {label}: score {got['score']!r} vs sacrebleu {score.score!r}")
            expect(same_sig(got["signature"], sig), f"{tag} {label}: signature {got['signature']} vs {sig}")
            if kind == "bleu":
                expect(got.get("verbose_score") == score._verbose,
                       f"{tag} {label}: verbose {got.get('verbose_score')!r} vs {score._verbose!r}")
            text = run_bb(base).rstrip("\n")
            want = score.format(1, False, sig)
            expect(same_sig(text, want) if sacrebleu.__version__ != "2.6.0" else text == want,
                   f"{tag} {label}: text\n    ours   {text}\n    theirs {want}")
            # Sentence level: one metric, effective order for BLEU, every segment.
            skw = dict(kwargs, effective_order=True) if kind == "bleu" else kwargs
            smetric = cls(**skw)
            sent = json.loads(run_bb(base + ["--sentence", "--json", "--width", "12"]))
            expect(len(sent) == len(hyps), f"{tag} {label}: {len(sent)} sentence results for {len(hyps)} lines")
            bad = []
            for i, (h, r) in enumerate(zip(hyps, zip(*refs))):
                s = smetric.sentence_score(h, list(r))
                if i < len(sent) and abs(sent[i]["score"] - s.score) > TOL:
                    bad.append(f"line {i + 1}: {sent[i]['score']!r} vs {s.score!r} (hyp {h!r})")
            expect(not bad, f"{tag} {label} --sentence: {len(bad)} segments differ, first: {bad[:3]}")
            print(f"ok   {tag} {label}: {score.score:.6f}")


def lowercase_lines():
    """Every code point that str.lower() changes, and U+03A3 next to every case-ignorable
    character (the Final_Sigma rule), as lines of space-separated items."""
    items = [chr(cp) for cp in range(0x110000) if not 0xD800 <= cp < 0xE000 and chr(cp).lower() != chr(cp)]
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000 or chr(cp).isspace():
            continue
        c = chr(cp)
        t1, t2 = (" " + c + "\u03a3").lower(), ("A" + c + "\u03a3").lower()
        if t2.endswith("\u03c2") and not t1.endswith("\u03c2"):   # case-ignorable
            items += ["A" + c + "\u03a3", "\u03a3" + c + "A", "A\u03a3" + c, c + "\u03a3" + c + "B"]
    return [" ".join(items[i:i + 40]) for i in range(0, len(items), 40)]


def check_lowercase(d):
    """bitbench's lowercasing equals str.lower(): with --tokenize char every code point is a
    token, so each line lowered by bitbench must match Python's lowering exactly (BLEU 100)."""
    lines = lowercase_lines()
    hyp = write(d, "lc.hyp", lines)
    ref = write(d, "lc.ref", [x.lower() for x in lines])
    got = json.loads(run_bb(["--hyp", hyp, "--ref", ref, "--tokenize", "char", "--lowercase", "--sentence", "--json",
                             "--width", "12"]))
    bad = [i for i, r in enumerate(got) if r["score"] != 100.0]
    expect(len(got) == len(lines) and not bad,
           f"lowercasing differs from str.lower() on {len(bad)} of {len(lines)} lines, first: "
           f"{[lines[i][:80] for i in bad[:2]]}")
    print(f"ok   lowercasing of {sum(len(x.split()) for x in lines)} code points / sigma contexts equals str.lower()")


def main():
    rng = random.Random(20240601)
    en = read_lines(os.path.join(ROOT, "datasets", "mt", "dev.en"), N_LINES)
    el = read_lines(os.path.join(ROOT, "datasets", "mt", "dev.el"), N_LINES)
    en_hyp = [perturb(x, rng) for x in en]
    en_ref2 = [perturb(x, rng) for x in en]
    el_hyp = [perturb(x, rng) for x in el]
    syn_ref = synthetic(rng, N_LINES)
    syn_hyp = [perturb(x, rng) if rng.random() < 0.7 else y for x, y in zip(syn_ref, synthetic(rng, N_LINES))]
    with tempfile.TemporaryDirectory() as d:
        # sacrebleu's CLI reads files and rstrips lines; give the API the same lines.
        files = {name: write(d, name, lines) for name, lines in
                 (("en.hyp", en_hyp), ("en.ref", en), ("en.ref2", en_ref2), ("el.hyp", el_hyp), ("el.ref", el),
                  ("syn.hyp", syn_hyp), ("syn.ref", syn_ref))}
        strip = [x.rstrip() for x in en_hyp], [x.rstrip() for x in en_ref2], [x.rstrip() for x in el_hyp]
        check_lowercase(d)
        check_corpus("en 1 ref", files["en.hyp"], [files["en.ref"]], strip[0], [en])
        check_corpus("en 2 refs", files["en.hyp"], [files["en.ref"], files["en.ref2"]], strip[0], [en, strip[1]])
        check_corpus("el 1 ref", files["el.hyp"], [files["el.ref"]], strip[2], [el])
        check_corpus("synthetic", files["syn.hyp"], [files["syn.ref"]], [x.rstrip() for x in syn_hyp], [syn_ref])
        # The sacrebleu CLI itself: several metrics, text format, '='-alignment.
        for tag in ("en", "el"):
            args = ["--ref", files[f"{tag}.ref"], "--hyp", files[f"{tag}.hyp"], "--metrics", "bleu,chrf"]
            ours = run_bb(args + ["--chrf-word-order", "2"])
            p = subprocess.run([sys.executable, "-m", "sacrebleu", files[f"{tag}.ref"], "-i", files[f"{tag}.hyp"],
                                "-m", "bleu", "chrf", "--chrf-word-order", "2", "-f", "text"],
                               capture_output=True, text=True, encoding="utf-8")
            expect(p.returncode == 0, f"sacrebleu CLI failed: {p.stderr}")
            if sacrebleu.__version__ == "2.6.0":
                expect(ours == p.stdout, f"{tag}: text of bleu,chrf differs from the sacrebleu CLI:\n{ours}\n{p.stdout}")
            p = subprocess.run([sys.executable, "-m", "sacrebleu", files[f"{tag}.ref"], "-i", files[f"{tag}.hyp"],
                                "-m", "bleu", "chrf", "--chrf-word-order", "2"],
                               capture_output=True, text=True, encoding="utf-8")
            theirs = json.loads(p.stdout)
            ours = json.loads(run_bb(args + ["--chrf-word-order", "2", "--json"]))
            if sacrebleu.__version__ == "2.6.0":
                expect(ours == theirs, f"{tag}: JSON of bleu,chrf differs from the sacrebleu CLI:\n{ours}\n{theirs}")
            print(f"ok   {tag}: bitbench eval bleu --metrics bleu,chrf matches the sacrebleu CLI (text and JSON)")
    print(f"sacrebleu {sacrebleu.__version__}: {checks - failures}/{checks} checks passed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
