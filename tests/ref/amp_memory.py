"""amp_memory.py — the engine's mixed-precision activation memory against torch.autocast's.

precisions.md §1 (fp16/bf16): the activations of the matmuls are kept for backward in 16
bits, "so activation memory really halves". The published method is torch.autocast
(Micikevicius et al. 2018, "Mixed Precision Training"): linears and matmuls run in 16 bits
and their saved inputs are 16-bit copies, while LayerNorm, softmax/cross-entropy and the
residual additions stay FP32. This script measures what that method saves for backward
and compares the engine with it on the same model:

  1. `bitbench bench precisions` trains `small` (B=8, T=256) at fp32, fp16 and bf16 and
     reports the activation bytes its allocator holds (mib_activations);
  2. PyTorch builds the same GPT-2 (sizes from `bitbench memcalc`), runs one forward in
     fp32 and one under torch.autocast(bfloat16) (CPU autocast has no fp16 in torch 1.13;
     the bytes are the same), and sums the distinct storages that autograd saves for
     backward (saved_tensors_hooks), leaving out the parameters and their 16-bit casts
     (weights, which the engine counts as packed weights, not activations).

Checks: the engine's fp32 activations are within 3 % of torch's fp32 saved bytes (the same
tensors are kept), and the engine's fp16 and bf16 activations, as a fraction of its fp32,
are no more than torch.autocast's fraction + 0.01.

Usage: amp_memory.py BITBENCH. Exit 0 pass, 1 fail, 77 skip (torch missing and CI unset).
"""
import csv
import math
import os
import re
import subprocess
import sys
import tempfile

try:
    import torch
    import torch.nn.functional as F
except Exception as e:  # noqa: BLE001 - any import failure means no reference
    if os.environ.get("CI"):
        print(f"FAIL: torch not importable in CI ({e})")
        sys.exit(1)
    print(f"SKIP: torch not importable ({e})")
    sys.exit(77)

MODEL, B, T = "small", 8, 256
MIB = 1024.0 * 1024.0


def engine_sizes(bitbench):
    """The model's sizes from memcalc's header line, e.g. 'gpt2 L=6 C=384 NH=6 ... V=4096'."""
    out = subprocess.run([bitbench, "memcalc", "--model", MODEL, "--batch", str(B), "--seq", str(T)],
                         check=True, capture_output=True, text=True).stdout
    head = out.splitlines()[0]
    dims = dict(re.findall(r"\b(L|C|NH|NKV|F|V)=(\d+)", head))
    if "(gpt2 " not in head or len(dims) != 6:
        raise SystemExit(f"FAIL: cannot read the model's sizes from: {head}")
    return {k: int(v) for k, v in dims.items()}


def engine_activations(bitbench):
    """MiB of activations per precision, measured by the engine's allocator."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([bitbench, "bench", "precisions", "--model", MODEL, "--batch", str(B), "--seq", str(T),
                        "--precisions", "fp16,bf16", "--steps", "2", "--warmup", "1", "--rounds", "1",
                        "--out", tmp], check=True, capture_output=True, text=True)
        with open(os.path.join(tmp, "precisions.csv"), newline="") as f:
            return {r["precision"]: float(r["mib_activations"]) for r in csv.DictReader(f)}


class Block(torch.nn.Module):
    """A GPT-2 block as in nanoGPT / the engine: pre-LayerNorm, causal attention that keeps
    its probabilities (no fused kernel), tanh-GELU MLP."""

    def __init__(self, d):
        super().__init__()
        C, Fh = d["C"], d["F"]
        self.nh = d["NH"]
        self.ln1, self.ln2 = torch.nn.LayerNorm(C), torch.nn.LayerNorm(C)
        self.qkv, self.proj = torch.nn.Linear(C, 3 * C), torch.nn.Linear(C, C)
        self.fc, self.fcp = torch.nn.Linear(C, Fh), torch.nn.Linear(Fh, C)

    def forward(self, x):
        Bn, Tn, C = x.shape
        hd = C // self.nh
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.reshape(Bn, Tn, self.nh, hd).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
        mask = torch.tril(torch.ones(Tn, Tn, dtype=torch.bool))
        att = F.softmax(att.masked_fill(~mask, float("-inf")), dim=-1)
        y = (att @ v).transpose(1, 2).reshape(Bn, Tn, C)
        x = x + self.proj(y)
        return x + self.fcp(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        self.wte, self.wpe = torch.nn.Embedding(d["V"], d["C"]), torch.nn.Embedding(T, d["C"])
        self.h = torch.nn.ModuleList(Block(d) for _ in range(d["L"]))
        self.lnf = torch.nn.LayerNorm(d["C"])

    def forward(self, idx, tgt):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for blk in self.h:
            x = blk(x)
        logits = F.linear(self.lnf(x), self.wte.weight)  # tied head
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1))


def param_cast(t):
    """Whether t is a parameter seen through casts/views (autocast's 16-bit weight copies)."""
    g = t.grad_fn
    while g is not None and type(g).__name__ in ("ToCopyBackward0", "TBackward0", "ViewBackward0",
                                                 "TransposeBackward0", "ExpandBackward0"):
        nxt = [f for f, _ in g.next_functions if f is not None]
        if any(type(f).__name__ == "AccumulateGrad" for f in nxt):
            return True
        g = nxt[0] if nxt else None
    return False


def torch_saved_mib(model, idx, tgt, autocast):
    params = {p.data_ptr() for p in model.parameters()}
    storages = {}

    def pack(t):
        st = t.storage()
        ptr = st.data_ptr()
        if ptr not in params and not param_cast(t):
            storages[ptr] = max(storages.get(ptr, 0), st.size() * t.element_size())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        if autocast:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                model(idx, tgt)
        else:
            model(idx, tgt)
    return sum(storages.values()) / MIB


def main():
    if len(sys.argv) != 2:
        print("usage: amp_memory.py BITBENCH", file=sys.stderr)
        return 2
    bitbench = sys.argv[1]
    d = engine_sizes(bitbench)
    if d["NKV"] != d["NH"]:
        print(f"FAIL: {MODEL} is expected to be plain multi-head attention, got NKV={d['NKV']}")
        return 1
    ours = engine_activations(bitbench)
    torch.manual_seed(0)
    model = GPT(d)
    idx = torch.randint(0, d["V"], (B, T))
    tgt = torch.randint(0, d["V"], (B, T))
    t32 = torch_saved_mib(model, idx, tgt, False)
    t16 = torch_saved_mib(model, idx, tgt, True)
    ratio_torch = t16 / t32
    print(f"{MODEL} B={B} T={T}: torch saved for backward: fp32 {t32:.1f} MiB, autocast bf16 {t16:.1f} MiB "
          f"({ratio_torch:.3f} of fp32)")
    fails = 0
    off = abs(ours["fp32"] - t32) / t32
    ok = off <= 0.03
    fails += not ok
    print(f"{'OK  ' if ok else 'FAIL'} fp32: engine {ours['fp32']:.1f} MiB, torch {t32:.1f} MiB ({100 * off:.2f} % apart, "
          f"limit 3 %)")
    for p in ("fp16", "bf16"):
        r = ours[p] / ours["fp32"]
        ok = r <= ratio_torch + 0.01
        fails += not ok
        print(f"{'OK  ' if ok else 'FAIL'} {p}: engine {ours[p]:.1f} MiB = {r:.3f} of its fp32; torch.autocast "
              f"{ratio_torch:.3f} (limit +0.01)")
    print(f"amp_memory: {'PASS' if not fails else f'{fails} FAILED'}")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
