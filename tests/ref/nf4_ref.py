#!/usr/bin/env python3
"""nf4_ref.py — precisions/nf4.c against an independent NF4 implementation written from
specs/precisions.md §3.2 (bitsandbytes' default backend quantize_4bit/quantize_blockwise,
in torch float32), on the file tests/nf4_dump.c writes.

The real `bitsandbytes` cannot run here (no GPU; its CPU backend needs a matching build), so
this re-implements its algorithm:
  code books  NF4: the spec's 16 values, and create_normal_map(0.9677083) rebuilt with
              torch.special.ndtri (scipy's norm.ppf) — must agree within 1 float32 ulp;
              dynamic map: bnb's create_dynamic_map(signed=True) with torch.linspace — must
              agree with ours within 2 ulps per entry (torch's linspace computes in 8-wide
              vectors whose base is rounded from double, ours is the scalar float formula;
              torch 1.13 here: 44 entries differ by 1-2 ulps; the count is printed). The
              quantizers below use OUR map, so the algorithm is checked exactly.
  absmax      per block of 64 inputs of a row (bnb: 64 consecutive elements of the flattened
              tensor; the same blocks when C % 64 == 0; ours end at the row end otherwise).
  codes       argmin |clamp(w * (1/absmax), -1, 1) - NF4| (float32, first index on ties), bnb's
              default backend. Ours bucketize against float32 midpoints (lower code on a tie),
              which can differ only where w/absmax is within float rounding of a midpoint:
              every disagreement must be such a near-tie ("ties excepted"); their count is
              printed. An all-zero block: bnb divides by 0 (NaN); ours is code 7.
  double quant offset = mean(absmax) (float64 sum, as ours; torch's float32 mean may differ in
              the last bit: printed), a2 = max|absmax - offset| per 256, q = argmin |clamp((a -
              offset) * (1/a2), -1, 1) - map|, absmax' = map[q] * a2 + offset: exact.
  values      NF4[code] * absmax' against our unpack: bit-exact where the codes agree.
  kernels     our forward y = x @ W'^T and backward_input dx = dy @ W' against float64 torch
              on the reference-dequantized W': relative error <= 1e-5.
  layout      the packed bytes are parsed from the layout documented in nf4.c (metadata
              "nf4_layout"): codes, constants, total size and bits per weight.
Usage: nf4_ref.py DUMP.safetensors. Exit 0 pass, 1 fail, 77 skip (torch missing and CI unset)."""
import json
import os
import sys

try:
    import numpy as np
    import torch
except ImportError as e:
    if os.environ.get("CI"):
        print(f"FAIL: torch/numpy not importable in CI ({e})")
        sys.exit(1)
    print(f"SKIP: torch/numpy not importable ({e})")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bitbench_model import read_safetensors  # noqa: E402

# specs/precisions.md §3.2, bitsandbytes get_4bit_type("nf4")
SPEC_NF4 = [-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
            -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
            0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
            0.7229568362236023, 1.0]
BLOCK = 64
failures = 0


def check(cond, what):
    global failures
    print(("OK    " if cond else "FAIL  ") + what)
    if not cond:
        failures += 1


def ulps(a, b):
    """Distance in float32 ulps, elementwise (same sign assumed or both near 0)."""
    ia = np.asarray(a, np.float32).view(np.int32).astype(np.int64)
    ib = np.asarray(b, np.float32).view(np.int32).astype(np.int64)
    return np.abs(ia - ib)


def create_normal_map(offset=0.9677083):
    """bnb functional.create_normal_map(use_extra_value=True), scipy norm.ppf -> ndtri."""
    ppf = lambda p: torch.special.ndtri(p.double()).tolist()  # noqa: E731
    v1 = ppf(torch.linspace(offset, 0.5, 9)[:-1])
    v3 = [-x for x in ppf(torch.linspace(offset, 0.5, 8)[:-1])]
    values = torch.tensor(v1 + [0.0] * (256 - 15) + v3, dtype=torch.float32).sort().values
    values = values / values.max()
    return np.concatenate([values[:7].numpy(), [0.0], values[-8:].numpy()]).astype(np.float32)


def create_dynamic_map(max_exponent_bits=7, total_bits=8):
    """bnb functional.create_dynamic_map(signed=True)."""
    data = []
    non_sign_bits = total_bits - 1
    for i in range(max_exponent_bits):
        fraction_items = int(2 ** (i + non_sign_bits - max_exponent_bits) + 1)
        boundaries = torch.linspace(0.1, 1, fraction_items)
        means = (boundaries[:-1] + boundaries[1:]) / 2.0
        data += ((10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
        data += (-(10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
    data += [0.0, 1.0]
    data.sort()
    return np.array(data, dtype=np.float32)


def argmin_first(s, code):
    """torch.argmin(|s - code|) in float32: the first index on ties (bnb default backend)."""
    return torch.argmin(torch.abs(torch.from_numpy(s).reshape(-1, 1) - torch.from_numpy(code)), dim=-1).numpy()


def parse_packed(raw, OC, C, dq):
    """Our packed format, from the layout documented in precisions/nf4.c."""
    nb, P = -(-C // BLOCK), -(-OC // 16)
    codes_bytes = P * nb * 512
    blocks = np.frombuffer(raw[:codes_bytes], np.uint8).reshape(P, nb, 8, 16, 4)  # panel, block, chunk, row, byte
    lanes = blocks.view("<u4").reshape(P, nb, 8, 16)
    nib = np.stack([(lanes >> (4 * k)) & 15 for k in range(8)], axis=-1)  # P, nb, chunk, row, k
    codes = nib.transpose(0, 3, 1, 2, 4).reshape(P * 16, nb * BLOCK)  # row, input
    pad_ok = bool((codes[OC:, :] == 7).all() and (codes[:, C:] == 7).all())
    codes = codes[:OC, :C].astype(np.int64)
    rest = raw[codes_bytes:]
    nconst = OC * nb
    if dq:
        n2 = -(-nconst // 256)
        f = np.frombuffer(rest[:4 * (1 + n2)], "<f4")
        q = np.frombuffer(rest[4 * (1 + n2):4 * (1 + n2) + nconst], np.uint8)
        size = codes_bytes + 4 * (1 + n2) + nconst
        return codes, pad_ok, {"offset": f[0], "a2": f[1:], "q": q.astype(np.int64)}, size
    a = np.frombuffer(rest[:4 * nconst], "<f4")
    return codes, pad_ok, {"absmax": a}, codes_bytes + 4 * nconst


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    t, meta = read_safetensors(sys.argv[1])
    nf4, dyn = t["nf4_values"].astype(np.float32), t["dq_code"].astype(np.float32)

    # -- code books ------------------------------------------------------------------------
    spec = np.array(SPEC_NF4, np.float32)
    check(np.array_equal(nf4.view(np.int32), spec.view(np.int32)), "NF4 table == specs §3.2 table (float32, bit for bit)")
    gen = create_normal_map()
    check(int(ulps(gen, spec).max()) <= 1,
          f"create_normal_map(0.9677083) via ndtri within 1 ulp of the spec table (max {int(ulps(gen, spec).max())} ulp)")
    bnb_map = create_dynamic_map()
    d = ulps(dyn, bnb_map)
    check(int(d.max()) <= 2, f"dynamic map within 2 ulps of bnb create_dynamic_map via torch {torch.__version__} "
                             f"({int((d > 0).sum())} of 256 entries differ, by up to {int(d.max())} ulps: torch's "
                             "vectorized linspace)")
    mids = (nf4[:-1] + nf4[1:]) * np.float32(0.5)

    # -- cases ------------------------------------------------------------------------------
    total_ties = 0
    for case in json.loads(meta["cases"]):
        name, OC, C, N, dq = case["name"], case["OC"], case["C"], case["N"], case["double_quant"]
        tag = f"{name} OC={OC} C={C} {'double-quant' if dq else 'fp32-absmax'}"
        w = t[f"{name}.w"].astype(np.float32)
        raw = t[f"{name}.packed"].tobytes()
        codes, pad_ok, consts, size = parse_packed(raw, OC, C, dq)
        check(size == len(raw) and pad_ok, f"{tag}: layout: {len(raw)} bytes (documented: {size}), code 7 padding")
        if OC % 16 == 0 and C % BLOCK == 0 and (OC * C // BLOCK) % 256 == 0:
            bpw = 8 * len(raw) / (OC * C)
            want = 4 + 8 / 64 + 32 / (64 * 256) + 32 / (OC * C) if dq else 4.5
            check(abs(bpw - want) < 1e-12, f"{tag}: {bpw:.6f} bits per weight (formula {want:.6f})")
        nb = -(-C // BLOCK)
        # absmax per (row, block), and the scaled weights
        a = np.zeros((OC, nb), np.float32)
        s = np.zeros((OC, C), np.float32)
        for b in range(nb):
            blk = w[:, b * BLOCK:(b + 1) * BLOCK]
            a[:, b] = np.abs(blk).max(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                inv = (np.float32(1) / a[:, b]).astype(np.float32)
                s[:, b * BLOCK:(b + 1) * BLOCK] = np.clip(blk * inv[:, None], -1, 1)
        zero_block = np.repeat(a == 0, BLOCK, axis=1)[:, :C]
        ref_codes = argmin_first(s.reshape(-1), nf4).reshape(OC, C)
        ref_codes[zero_block] = 7
        differ = ref_codes != codes
        near = np.abs(s[..., None] - mids).min(axis=-1) <= 2.0 ** -23
        total_ties += int(differ.sum())
        random_ties = int(differ[np.arange(OC) != 4].sum())  # row 4 holds planted midpoints
        check(not (differ & ~near).any(),
              f"{tag}: codes == bnb argmin except {int(differ.sum())} ties "
              f"(all within 2^-23 of a midpoint; {int(near.sum())} such values, planted in row 4; "
              f"{random_ties} ties in the random rows)")
        # constants
        af = a.reshape(-1)
        if dq:
            off = np.float32(af.astype(np.float64).mean())
            off_t = torch.from_numpy(af).mean().item()
            check(consts["offset"] == off, f"{tag}: offset == mean(absmax) {off:.9g} (torch float32 mean "
                                            f"{'equal' if np.float32(off_t) == off else 'differs: %.9g' % off_t})")
            centered = (af - off).astype(np.float32)
            qs, a2s = [], []
            for k0 in range(0, len(af), 256):
                blk = centered[k0:k0 + 256]
                a2 = np.float32(np.abs(blk).max())
                inv = np.float32(1) / a2 if a2 > 0 else np.float32(0)
                qs.append(argmin_first(np.clip(blk * inv, -1, 1).astype(np.float32), dyn))
                a2s.append(a2)
            q, a2 = np.concatenate(qs), np.array(a2s, np.float32)
            check(np.array_equal(consts["a2"], a2) and np.array_equal(consts["q"], q),
                  f"{tag}: double quantization: {len(a2)} blocks of 256, a2 and 8-bit codes exact "
                  f"({int((consts['q'] != q).sum())} codes differ)")
            a_deq = (dyn[q] * a2[np.arange(len(af)) // 256]).astype(np.float32) + off
        else:
            check(np.array_equal(consts["absmax"], af), f"{tag}: fp32 absmax constants exact")
            a_deq = af
        a_deq = a_deq.astype(np.float32).reshape(OC, nb)
        wref = (nf4[ref_codes] * np.repeat(a_deq, BLOCK, axis=1)[:, :C]).astype(np.float32)
        wq = t[f"{name}.wq"]
        same = ~differ
        check(np.array_equal(wq[same].view(np.int32), wref[same].view(np.int32)) or
              np.array_equal(wq[same], wref[same]),
              f"{tag}: unpacked weights == NF4[code] * absmax' bit for bit (where codes agree)")
        # kernels against float64 on the reference weights
        wr = torch.from_numpy(wref).double()
        for what, got, want in (
                ("forward y = x W'^T", t[f"{name}.y"], torch.from_numpy(t[f"{name}.x"]).double() @ wr.T),
                ("backward_input dx = dy W'", t[f"{name}.dx"], torch.from_numpy(t[f"{name}.dy"]).double() @ wr)):
            if differ.any():  # a tie decided the other way: compare with our weights instead
                wo = torch.from_numpy(wq.astype(np.float32)).double()
                want = (torch.from_numpy(t[f"{name}.x"]).double() @ wo.T if what.startswith("forward")
                        else torch.from_numpy(t[f"{name}.dy"]).double() @ wo)
            err = (torch.from_numpy(got).double() - want).abs().max().item() / (want.abs().max().item() + 1e-30)
            check(err <= 1e-5, f"{tag}: {what}: rel error {err:.3g} vs float64 (<= 1e-5)")
    print(f"nf4_ref: {'PASS' if failures == 0 else 'FAIL: %d checks failed' % failures} "
          f"({total_ties} tie codes decided differently from bnb's argmin)")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
