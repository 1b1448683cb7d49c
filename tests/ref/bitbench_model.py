"""bitbench_model — the PyTorch reference for bitbench's two model families.

Shared by torch_parity.py (which checks our C engine against it) and make_fake_io.py
(which fabricates engine output to self-test the checker). The file contract is in
tests/ref/README.md; this module is its executable form:

  * a minimal safetensors reader/writer (no `safetensors` package needed);
  * the parameter table (names, shapes) for a config;
  * forward() for "gpt2" and "llama" from a plain dict of tensors, for every precision:
    fp32, or quantization-aware (QAT) fp16/bf16/int8/int4/b158 with the engine's fake
    quantizers (precisions/fakequant.c) reproduced in float32, identity STE and SubLN;
  * the cross-entropy loss, the weight-decay set, and a float64-capable AdamW trainer
    built on torch.optim.AdamW + torch.nn.utils.clip_grad_norm_.

Only torch, numpy and the standard library are used. Written for torch >= 1.12
(F.gelu(approximate='tanh')); tested with Debian 12's python3-torch 1.13.
"""
import json
import math
import struct

import numpy as np
import torch
import torch.nn.functional as F

# --------------------------------------------------------------------------------------
# safetensors: 8-byte little-endian u64 header length N, N bytes of JSON
#   {name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
#    "__metadata__": {str: str}}
# then the raw little-endian data; offsets are relative to the first byte after the
# header. Format: https://github.com/huggingface/safetensors (README, "Format").
# --------------------------------------------------------------------------------------

_ST_TO_NP = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2",
    "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
    "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1",
    "BOOL": "?",
}
_NP_TO_ST = {np.dtype(v).str.replace("|", "<"): k for k, v in _ST_TO_NP.items()}


class FormatError(Exception):
    """A file does not follow the contract (missing tensor, bad shape, corrupt header)."""


def read_safetensors(path):
    """Returns (tensors, metadata): {name: numpy array (writable copy)}, {str: str}."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise FormatError(f"{path}: shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8:
        raise FormatError(f"{path}: header length {n} exceeds the file ({len(blob)} bytes)")
    try:
        header = json.loads(blob[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FormatError(f"{path}: header is not JSON ({e})") from None
    if not isinstance(header, dict):
        raise FormatError(f"{path}: header is not a JSON object")
    data = memoryview(blob)[8 + n:]
    meta = header.pop("__metadata__", None) or {}
    tensors = {}
    for name, info in header.items():
        try:
            dtype, shape, (b, e) = info["dtype"], list(info["shape"]), info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise FormatError(f"{path}: tensor {name!r}: malformed entry {info!r}") from None
        count = math.prod(shape)
        if not (0 <= b <= e <= len(data)):
            raise FormatError(f"{path}: tensor {name!r}: offsets [{b},{e}] outside the "
                              f"{len(data)}-byte buffer")
        if dtype == "BF16":  # numpy has no bfloat16: widen to float32 by a 16-bit shift
            if e - b != 2 * count:
                raise FormatError(f"{path}: tensor {name!r}: {e - b} bytes for {count} BF16")
            u = np.frombuffer(data[b:e], dtype="<u2").astype(np.uint32) << 16
            tensors[name] = u.view(np.float32).reshape(shape)
            continue
        if dtype not in _ST_TO_NP:
            raise FormatError(f"{path}: tensor {name!r}: unsupported dtype {dtype}")
        np_dtype = np.dtype(_ST_TO_NP[dtype])
        if e - b != count * np_dtype.itemsize:
            raise FormatError(f"{path}: tensor {name!r}: {e - b} bytes for shape {shape} "
                              f"{dtype}")
        tensors[name] = np.frombuffer(data[b:e], dtype=np_dtype).reshape(shape).copy()
    return tensors, {str(k): str(v) for k, v in meta.items()}


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: numpy array or torch tensor} in insertion order; header padded
    with spaces to a multiple of 8 bytes (as the reference implementation does)."""
    header, chunks, off = {}, [], 0
    for name, t in tensors.items():
        if isinstance(t, torch.Tensor):
            t = t.detach().cpu().numpy()
        a = np.ascontiguousarray(t)
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)
        key = a.dtype.str.replace("|", "<")
        if key not in _NP_TO_ST:
            raise ValueError(f"{name}: dtype {a.dtype} has no safetensors name here")
        raw = a.tobytes()
        header[name] = {"dtype": _NP_TO_ST[key], "shape": list(a.shape),
                        "data_offsets": [off, off + len(raw)]}
        chunks.append(raw)
        off += len(raw)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hbytes += b" " * (-len(hbytes) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for c in chunks:
            f.write(c)


# --------------------------------------------------------------------------------------
# Config and parameter table
# --------------------------------------------------------------------------------------

CONFIG_KEYS = ("family", "n_layer", "n_embd", "n_head", "n_kv_head", "vocab_size",
               "max_seq", "ffn_hidden", "norm_eps", "rope_theta")

# Optional keys (engine checkpoints and QAT parity files carry them); absent = fp32.
PRECISIONS = ("fp32", "fp16", "bf16", "int8", "int4", "b158")
QUANT_DEFAULTS = {"precision": "fp32", "group": 32, "act_quant": "token"}
# Optional flags (engine/config.h; bb_config_to_json writes them only when on): absent = off.
#   quant_head   the LM head is a quantized linear of the precision too (fake-quant head
#                weights, its input quantized like the blocks' linear inputs, fp16/bf16
#                round the logits)
#   quant_embed  the token lookup reads a fake-quant copy of wte (wpe stays FP32)
#   half_residual  fp16/bf16 only: the residual stream is rounded to the 16-bit format after
#                the embedding sum and after each block's two residual additions
#                (RESIDUAL_SITES)
QUANT_FLAGS = ("quant_head", "quant_embed", "half_residual")

# AdamW weight decay applies to these matrices/embeddings only; norms (including the
# b158 SubLN gains subln_attw/subln_ffnw) and biases get 0.
DECAY_NAMES = frozenset({"wte", "wpe", "qkvw", "attprojw", "fcw", "fcprojw", "lm_head"})

# The four linears of each block that a precision quantizes (precisions/precision.h).
QUANTIZED_NAMES = ("qkvw", "attprojw", "fcw", "fcprojw")


def quantized_tables(cfg):
    """The (V, C) tables cfg quantizes besides the blocks' linears, {IO name: the parameter
    they are the fake quantization of}: "head" with quant_head (the FP32 head: lm_head, or
    wte for gpt2's tied head) and "embed" with quant_embed (wte). engine/config.h: the
    precision's weight quantizer over the whole (V, C) matrix, one output channel per
    vocabulary row, as for a linear's (OC, C) weight (int8 per row, int4 per group along C,
    b158 one absmean for the matrix). A tied gpt2 with both flags reads the same
    fake_weights(wte) in the lookup and the head (the engine keeps one matrix)."""
    out = {}
    if cfg.get("quant_head"):
        out["head"] = "wte" if cfg["family"] == "gpt2" else "lm_head"
    if cfg.get("quant_embed"):
        out["embed"] = "wte"
    return out


def parse_config(text):
    """Parses the "config" metadata string; checks keys, family and divisibility, and the
    optional precision keys (precision, group, act_quant; defaults fp32, 32, token)."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise FormatError(f"config metadata is not JSON ({e})") from None
    missing = [k for k in CONFIG_KEYS if k not in raw]
    if missing:
        raise FormatError(f"config metadata lacks {', '.join(missing)}")
    cfg = {k: raw[k] for k in CONFIG_KEYS}
    for k in CONFIG_KEYS[1:8]:
        cfg[k] = int(cfg[k])
    cfg["norm_eps"] = float(cfg["norm_eps"])
    cfg["rope_theta"] = float(cfg["rope_theta"])
    for k, d in QUANT_DEFAULTS.items():
        cfg[k] = raw.get(k, d)
    cfg["group"] = int(cfg["group"])
    if cfg["family"] not in ("gpt2", "llama"):
        raise FormatError(f"config family {cfg['family']!r} is neither gpt2 nor llama")
    if cfg["precision"] not in PRECISIONS:
        raise FormatError(f"config precision {cfg['precision']!r} is not one of "
                          f"{', '.join(PRECISIONS)}")
    if cfg["act_quant"] not in ("token", "block"):
        raise FormatError(f"config act_quant {cfg['act_quant']!r} is neither token nor block")
    if cfg["act_quant"] == "block" and cfg["precision"] != "int4":
        raise FormatError("config: act_quant=block is an int4 option")
    if cfg["precision"] == "int4" and cfg["group"] not in (32, 64, 128):
        raise FormatError(f"config: int4 group must be 32, 64 or 128 (got {cfg['group']})")
    for k in QUANT_FLAGS:
        cfg[k] = raw.get(k, False)
        if not isinstance(cfg[k], bool):
            raise FormatError(f"config {k} must be true or false (got {cfg[k]!r})")
        if cfg[k] and cfg["precision"] == "fp32":  # refused by bb_config_validate too
            raise FormatError(f"config: {k} needs a quantized precision (precision is fp32)")
    if cfg["half_residual"] and cfg["precision"] not in ("fp16", "bf16"):  # likewise
        raise FormatError(f"config: half_residual needs fp16 or bf16, the 16-bit format it "
                          f"rounds to (precision is {cfg['precision']})")
    C, NH, NKV = cfg["n_embd"], cfg["n_head"], cfg["n_kv_head"]
    if NH <= 0 or C % NH or NKV <= 0 or NH % NKV:
        raise FormatError(f"config: need n_embd % n_head == 0 and n_head % n_kv_head == 0 "
                          f"(n_embd={C}, n_head={NH}, n_kv_head={NKV})")
    if cfg["family"] == "gpt2" and NKV != NH:
        raise FormatError(f"config: gpt2 needs n_kv_head == n_head (got {NKV} != {NH})")
    if cfg["family"] == "llama" and (C // NH) % 2:
        raise FormatError(f"config: RoPE needs an even head dim (got {C // NH})")
    return cfg


def param_shapes(cfg):
    """{name: shape} in the contract's order; per-layer tensors are stacked on dim 0."""
    L, C, V, T, Fh = (cfg[k] for k in ("n_layer", "n_embd", "vocab_size", "max_seq",
                                       "ffn_hidden"))
    hd = C // cfg["n_head"]
    if cfg["family"] == "gpt2":
        return _with_subln(cfg, {
            "wte": (V, C), "wpe": (T, C),
            "ln1w": (L, C), "ln1b": (L, C),
            "qkvw": (L, 3 * C, C), "qkvb": (L, 3 * C),
            "attprojw": (L, C, C), "attprojb": (L, C),
            "ln2w": (L, C), "ln2b": (L, C),
            "fcw": (L, Fh, C), "fcb": (L, Fh),
            "fcprojw": (L, C, Fh), "fcprojb": (L, C),
            "lnfw": (C,), "lnfb": (C,),
        })
    qkv_out = (cfg["n_head"] + 2 * cfg["n_kv_head"]) * hd
    return _with_subln(cfg, {
        "wte": (V, C),
        "ln1w": (L, C),
        "qkvw": (L, qkv_out, C),
        "attprojw": (L, C, C),
        "ln2w": (L, C),
        "fcw": (L, 2 * Fh, C),
        "fcprojw": (L, C, Fh),
        "lnfw": (C,),
        "lm_head": (V, C),
    })


def _with_subln(cfg, shapes):
    """b158 adds the SubLN gains after the family's tensors (the engine's order)."""
    if cfg.get("precision", "fp32") == "b158":
        L, C, Fh = cfg["n_layer"], cfg["n_embd"], cfg["ffn_hidden"]
        shapes.update({"subln_attw": (L, C), "subln_ffnw": (L, Fh)})
    return shapes


# --------------------------------------------------------------------------------------
# Fake quantization (QAT) — precisions/precision.h and precisions/fakequant.c, reproduced
# operation by operation in float32 (the engine's arithmetic), so that scales and integer
# codes agree bit for bit when the inputs do. round() is C's roundf: half away from zero
# (torch.round rounds half to even). The weight functions take one layer's matrix
# (OC, C); the activation functions quantize along the last dimension.
# --------------------------------------------------------------------------------------

_F32 = torch.float32


def round_half_away(x):
    """roundf for a float32 tensor: sign(x) * floor(|x| + 0.5). The sum is formed in
    float64, where it is exact (a float32 |x| + 0.5 could round 0.49999997 up to 1)."""
    d = x.double()
    return (torch.sign(d) * torch.floor(d.abs() + 0.5)).to(x.dtype)


def _rounder(fault):
    # "round-even" (torch.round, half to even) is a deliberate fault for the self-test.
    return torch.round if fault == "round-even" else round_half_away


def _clamp_round(y, lo, hi, rnd):
    """(clamp(round(y), lo, hi), mask of the elements the clamp changed)."""
    r = rnd(y)
    q = torch.clamp(r, lo, hi)
    return q, q != r


def fake_weights(w, precision, group=32, fault=None):
    """fake_weights(W) of precision for one (OC, C) float32 matrix; returns (value,
    clipped) — clipped marks the elements whose code the clamp changed (used only by the
    "ste-mask" fault)."""
    assert w.dtype == _F32 and w.dim() == 2
    rnd = _rounder(fault)
    none = torch.zeros_like(w, dtype=torch.bool)
    if precision == "fp32":
        return w.clone(), none
    if precision == "fp16":
        return w.half().to(_F32), none           # round to nearest even (IEEE 754)
    if precision == "bf16":
        return w.bfloat16().to(_F32), none       # round to nearest even
    if precision == "int8":                      # per output row absmax
        amax = w.abs().amax(dim=1, keepdim=True)
        s = amax / 127.0
        inv = torch.where(s > 0, 1.0 / s, torch.zeros_like(s))
        q, clip = _clamp_round(w * inv, -127.0, 127.0, rnd)
        return q * s, clip
    if precision == "int4":                      # groups of `group` along C, symmetric
        out, clip = torch.empty_like(w), torch.empty_like(w, dtype=torch.bool)
        for g0 in range(0, w.shape[1], group):
            x = w[:, g0:g0 + group]
            amax = x.abs().amax(dim=1, keepdim=True)
            s = torch.clamp(amax / 7.5, min=1e-9)
            inv = 1.0 / s
            q, c = _clamp_round(x * inv, -8.0, 7.0, rnd)
            out[:, g0:g0 + group], clip[:, g0:g0 + group] = q * s, c
        return out, clip
    if precision == "b158":                      # per matrix absmean, ternary
        mean = (w.double().abs().sum() / w.numel()).to(_F32)   # sum in double, then float
        g = torch.clamp(mean, min=1e-5)
        inv = 1.0 / g
        q, clip = _clamp_round(w * inv, -1.0, 1.0, rnd)
        return q * g, clip
    raise ValueError(f"unknown precision {precision!r}")


def _fake_rows_int8(x, rnd):
    """int8 per row of the last dim (BitNet act_quant): s = max(amax, 1e-5) / 127,
    q = clamp(round(x * 127 / max(amax, 1e-5)), -128, 127)."""
    m = torch.clamp(x.abs().amax(dim=-1, keepdim=True), min=1e-5)
    s, inv = m / 127.0, 127.0 / m
    return torch.clamp(rnd(x * inv), -128.0, 127.0) * s


def act_mode(cfg):
    """How a precision quantizes the inputs of its linears (bb_fake_acts modes)."""
    prec = cfg.get("precision", "fp32")
    if prec in ("fp32", "fp16", "bf16"):
        return {"fp32": None, "fp16": "fp16", "bf16": "bf16"}[prec]
    if prec == "int4" and cfg.get("act_quant", "token") == "block":
        return "block"
    return "token"


def fake_acts(x, mode, group=32, fault=None):
    """bb_fake_acts on a float32 tensor (…, C): rows are the last dimension."""
    assert x.dtype == _F32
    rnd = _rounder(fault)
    if mode is None:
        return x.clone()
    if mode == "fp16":
        return x.half().to(_F32)
    if mode == "bf16":
        return x.bfloat16().to(_F32)
    if mode == "token":
        return _fake_rows_int8(x, rnd)
    if mode == "block":                          # int8 per block of `group` along C
        return torch.cat([_fake_rows_int8(x[..., c0:c0 + group], rnd)
                          for c0 in range(0, x.shape[-1], group)], dim=-1)
    raise ValueError(f"unknown activation mode {mode!r}")


def ste(x, q, pass_mask=None):
    """Identity straight-through estimator (BitNet `x + (q(x) - x).detach()`): the value
    is q (a float32 result, cast to x's dtype), the gradient flows to x unchanged.
    pass_mask (fault "ste-mask" only) blocks the gradient where it is False."""
    q = q.to(x.dtype)
    if pass_mask is not None:
        x = torch.where(pass_mask, x, x.detach())
    return x + (q - x).detach()


# Where a block quantizes activations: the input of qkvw, attprojw, fcw and fcprojw.
ACT_SITES = ("qkv", "attproj", "fc", "fcproj")
# Mixed precision (fp16, bf16) also rounds two linear outputs to the 16-bit format, as a
# half-precision GEMM returns them (torch.autocast; engine/model_internal.h
# bb_model_round_output): the qkv projection after RoPE ("qkv_out", (…, QKV) with
# q, k, v heads concatenated as the engine lays them out) and the MLP's first linear before
# its activation ("fc_out", (…, F) gpt2, (…, 2F) llama [gate | up]), and the attention
# probabilities before P V ("att", (B, NH, T, T) a layer; backend.h bb_att_fmt), whose
# backward reads the rounded values too (RoundedSoftmax).
OUT_SITES = ("qkv_out", "fc_out", "att")
FLOAT_MODES = ("fp16", "bf16")
# quant_head (engine/config.h): the LM head is a quantized linear too. Its input, the final
# norm's output, is quantized like the blocks' linear inputs ("head", (B, T, C);
# bb_model_quantize_input), and fp16/bf16 round its output, the logits, to 16 bits
# ("head_out", (B, T, V); bb_model_round_output, identity STE like qkv_out / fc_out). One of
# each per forward: no layer index (Quantizer layer None; IO tensors (S, B, T, dim)).
HEAD_SITES = ("head", "head_out")
# half_residual (engine/config.h; fp16/bf16): the residual stream rounded to the 16-bit
# format, round to nearest even, identity STE (engine/model.c bb_model_round_residual):
# the block input after the embedding sum ("encoded", (B, T, C), one per forward:
# wte[tok] (+ wpe), or the fake-quant table's row with quant_embed), and each block's two
# residual additions, "residual2" = x + attproj(...) (+ attprojb) and "residual3" =
# residual2 + fcproj(...) (+ fcprojb), (B, T, C) a layer. The engine's names (model.h).
RESIDUAL_SITES = ("encoded", "residual2", "residual3")
# The sites with one value per forward, not one per layer.
FORWARD_SITES = HEAD_SITES + ("encoded",)


def act_sites(cfg):
    """The sites where cfg's precision rounds activations, in the order of the IO file."""
    sites = ACT_SITES + (OUT_SITES if act_mode(cfg) in FLOAT_MODES else ())
    if cfg.get("quant_head"):
        sites += ("head",) + (("head_out",) if act_mode(cfg) in FLOAT_MODES else ())
    if cfg.get("half_residual"):
        sites += RESIDUAL_SITES
    return sites


def site_layers(cfg, site):
    """The leading dimensions of a site's values in one forward: (L,) for the blocks'
    sites, () for the head's and the embedding sum's (one per forward)."""
    return () if site in FORWARD_SITES else (cfg["n_layer"],)


def site_shape(cfg, site, B, T):
    """The shape of one layer's values at a site: (B, T, dim), or (B, NH, T, T) for att."""
    C, NH, NKV, Fh = cfg["n_embd"], cfg["n_head"], cfg["n_kv_head"], cfg["ffn_hidden"]
    if site == "att":
        return (B, NH, T, T)
    dim = {"qkv": C, "attproj": C, "fc": C, "fcproj": Fh,
           "qkv_out": (NH + 2 * NKV) * (C // NH),
           "fc_out": 2 * Fh if cfg["family"] == "llama" else Fh,
           "head": C, "head_out": cfg["vocab_size"],
           "encoded": C, "residual2": C, "residual3": C}[site]
    return (B, T, dim)


class RoundedSoftmax(torch.autograd.Function):
    """The attention probabilities of mixed precision: the value is pq, the softmax of the
    scores rounded to 16 bits (given), and the backward is the softmax's with pq in place
    of the exact probabilities, dS = pq (dP - rowsum(pq dP)), as the engine's attention
    backward reads its kept (or recomputed and rounded) 16-bit values (backend.h)."""

    @staticmethod
    def forward(ctx, scores, pq):
        ctx.save_for_backward(pq)
        return pq.clone()

    @staticmethod
    def backward(ctx, g):
        (pq,) = ctx.saved_tensors
        return pq * (g - (g * pq).sum(-1, keepdim=True)), None


class ActCheck:
    """Checks activations that the engine quantized (its float32 buffers) against the
    reference's own input x of that linear, and collects the verdict.

    A quantizer is a step function, and our x differs from the engine's by float32
    arithmetic noise (~1e-7 of the row's max|x|; eps = 1e-5 is the bound allowed), so an
    element whose x lies within eps * rowmax of a rounding boundary may legitimately be
    rounded either way. The engine's value must be exactly on the format's grid (int8:
    code * scale with an integer code in the clamp range; fp16/bf16: representable) and
    must be the quantization of some input in [x - d, x + d], d = eps * max|x| of the row
    (or block) — i.e. the reference's own value, or, inside that band, its neighbour."""

    EPS = 1e-5

    def __init__(self):
        self.n = 0            # elements checked
        self.other = 0        # in the band, rounded to the other side (accepted)
        self.bad = 0          # outside what any input in the band gives
        self.worst = None     # (site, layer, index, ours, ref) of the first bad element
        self.max_dist = 0.0   # largest boundary distance (rel. to rowmax) of an `other`

    def verify(self, x, q_eng, mode, group, site, layer):
        x = x.detach().to(torch.float64)
        q_eng = q_eng.detach().to(torch.float64)
        if mode in ("token", "block"):
            width = x.shape[-1] if mode == "token" else group
            for c0 in range(0, x.shape[-1], width):
                self._int8(x[..., c0:c0 + width], q_eng[..., c0:c0 + width], site, layer)
        else:
            self._float(x, q_eng, mode, site, layer)

    def _tally(self, ok, other, dist, q_eng, ref, site, layer):
        self.n += ok.numel()
        self.other += int(other.sum())
        nbad = int((~ok).sum())
        if nbad and self.worst is None:
            i = tuple(int(v) for v in (~ok).nonzero()[0])
            self.worst = (site, layer, i, float(q_eng[i]), float(ref[i]))
        self.bad += nbad
        if other.any():
            self.max_dist = max(self.max_dist, float(dist[other].max()))

    def _int8(self, x, q_eng, site, layer):
        m = torch.clamp(x.abs().amax(-1, keepdim=True), min=1e-5)
        s = m / 127.0
        v = x / s                                     # code units, float64
        dv = 2 * 127 * self.EPS                       # x noise plus the scale's
        code = lambda y: torch.clamp(round_half_away(y), -128.0, 127.0)  # noqa: E731
        k_mid, k_lo, k_hi = code(v), code(v - dv), code(v + dv)
        ke = q_eng / s
        k_eng = torch.round(ke)
        on_grid = (ke - k_eng).abs() <= 4 * 127 * self.EPS
        ok = on_grid & (k_eng >= k_lo) & (k_eng <= k_hi) & (k_eng >= -128) & (k_eng <= 127)
        other = ok & (k_eng != k_mid)
        dist = ((v.abs() - v.abs().floor()) - 0.5).abs() / 127.0   # boundary distance / rowmax
        self._tally(ok, other, dist, q_eng, k_mid * s, site, layer)

    def _float(self, x, q_eng, mode, site, layer):
        cast = (lambda y: y.to(_F32).half().to(torch.float64)) if mode == "fp16" else \
            (lambda y: y.to(_F32).bfloat16().to(torch.float64))
        d = self.EPS * x.abs().amax(-1, keepdim=True)
        mid, lo, hi = cast(x), cast(x - d), cast(x + d)
        ok = (cast(q_eng) == q_eng) & (q_eng >= lo) & (q_eng <= hi)
        other = ok & (q_eng != mid)
        rowmax = x.abs().amax(-1, keepdim=True) + 1e-30
        dist = ((q_eng + mid) / 2 - x).abs() / rowmax  # the boundary between the two
        self._tally(ok, other, dist, q_eng, mid, site, layer)


class Quantizer:
    """The fake quantization of one forward pass for cfg's precision; the quantized
    values enter the graph through the STE. Weights: fake_weights of the float32 value of
    the parameter. Activations (act(x, site, layer)), by the first that applies:
      engine   {site: (L, B, T, dim) tensor, (B, T, dim) for the head's sites}: the
               engine's quantized input of that linear, used after act_check (an
               ActCheck) verified it against x;
      replay   {(site, layer): tensor}: the decisions of a float32 twin (forward());
      else     fake_acts of the float32 value of x.
    record, a dict, collects the values used, keyed (site, layer); layer is None at the
    sites with one value per forward (FORWARD_SITES).

    out(x, site, layer) rounds a linear's output the same way (OUT_SITES; fp16/bf16 only,
    else the identity); residual(x, site, layer) the residual stream (RESIDUAL_SITES;
    cfg half_residual only, else the identity).

    fault (self-test only): "round-even" (ties to even), "no-subln" (b158 without the
    SubLN norms), "ste-mask" (weight STE passes no gradient to clipped weights),
    "no-act" (activations not quantized), "no-round" (linear outputs and attention
    probabilities not rounded), "no-head-quant" (quant_head: the head's input not
    quantized), "no-head-round" (quant_head, fp16/bf16: the logits not rounded),
    "embed-fp32" (quant_embed: the lookup reads wte, forward()), "no-residual-round"
    (half_residual: the residual stream not rounded), "no-residual3-round" (half_residual:
    only the MLP's residual addition not rounded)."""

    def __init__(self, cfg, fault=None, record=None, replay=None, engine=None,
                 act_check=None):
        self.record, self.replay, self.engine, self.check = record, replay, engine, act_check
        self.prec = cfg.get("precision", "fp32")
        self.group = int(cfg.get("group", 32))
        self.mode = act_mode(cfg)
        self.fault = fault
        self.on = self.prec != "fp32"
        self.subln = self.prec == "b158" and fault != "no-subln"
        self.half_residual = bool(cfg.get("half_residual")) and self.mode in FLOAT_MODES

    def weight(self, w):
        if not self.on:
            return w
        q, clip = fake_weights(w.detach().to(_F32), self.prec, self.group, self.fault)
        return ste(w, q, ~clip if self.fault == "ste-mask" else None)

    def out(self, x, site, layer):
        if self.mode not in FLOAT_MODES:
            return x
        return self.act(x, site, layer, skip=self.fault == "no-round" or
                        (site == "head_out" and self.fault == "no-head-round"))

    def residual(self, x, site, layer):
        """half_residual: the residual stream x rounded to the 16-bit format at site
        (RESIDUAL_SITES), identity STE like the outputs' rounding; else x."""
        if not self.half_residual:
            return x
        return self.act(x, site, layer, skip=self.fault == "no-residual-round" or
                        (site == "residual3" and self.fault == "no-residual3-round"))

    def probs(self, scores, layer):
        """The attention probabilities softmax(scores): rounded at site "att" with the
        RoundedSoftmax backward for fp16/bf16, else as they are."""
        p = scores.softmax(dim=-1)
        if self.mode not in FLOAT_MODES or self.fault == "no-round":
            if self.on and self.record is not None and self.mode in FLOAT_MODES:
                self.record[("att", layer)] = p.detach().to(_F32)
            return p
        return RoundedSoftmax.apply(scores, self._value(p, "att", layer).to(p.dtype))

    def act(self, x, site, layer, skip=None):
        if skip is None:
            skip = self.fault == "no-act" or (site == "head" and self.fault == "no-head-quant")
        if not self.on or self.mode is None or skip:
            if self.on and self.record is not None:   # "no-act"/"no-round": what went in unchanged
                self.record[(site, layer)] = x.detach().to(_F32)
            return x
        return ste(x, self._value(x, site, layer))

    def _value(self, x, site, layer):
        """The quantized value of x at a site (float32): the engine's (checked), the
        twin's, or fake_acts of x; recorded."""
        if self.engine is not None:
            e = self.engine[site] if layer is None else self.engine[site][layer]
            q = torch.as_tensor(e).reshape(x.shape).to(_F32)
            if self.check is not None:
                self.check.verify(x, q, self.mode, self.group, site, layer)
        elif self.replay is not None:
            q = self.replay[(site, layer)]
        else:
            q = fake_acts(x.detach().to(_F32), self.mode, self.group, self.fault)
        if self.record is not None:
            self.record[(site, layer)] = q
        return q


# --------------------------------------------------------------------------------------
# Forward pass
# --------------------------------------------------------------------------------------

def rms_norm(x, w, eps):
    """RMSNorm (Zhang & Sennrich 2019, arXiv:1910.07467; as in Llama):
    x * rsqrt(mean(x^2, -1) + eps) * w."""
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope_cos_sin(T, hd, theta, dtype):
    """cos/sin tables (T, hd/2): angle[t, i] = t * theta^(-2i/hd), i < hd/2
    (RoFormer, Su et al. 2021, arXiv:2104.09864, eq. 15). Computed in float64, then cast."""
    i = torch.arange(hd // 2, dtype=torch.float64)
    inv_freq = theta ** (-2.0 * i / hd)
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv_freq[None, :]
    return ang.cos().to(dtype), ang.sin().to(dtype)


def apply_rope(x, cos, sin, style="half"):
    """Rotates x (B, H, T, hd) by position.

    style="half" is the contract (HF transformers' Llama `rotate_half`): the pairs are
    (i, i + hd/2), x1' = x1 cos - x2 sin, x2' = x2 cos + x1 sin.
    style="interleaved" pairs (2i, 2i+1) (the original RoFormer/GPT-J layout); it exists
    only so the self-test can show that the checker rejects the wrong convention."""
    if style == "half":
        h = x.shape[-1] // 2
        x1, x2 = x[..., :h], x[..., h:]
        return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)
    if style == "interleaved":
        x1, x2 = x[..., 0::2], x[..., 1::2]
        return torch.stack((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1).flatten(-2)
    raise ValueError(f"unknown RoPE style {style!r}")


def forward(p, cfg, idx, rope_style="half", gelu_approx="tanh", qfault=None, decide="f32",
            engine_acts=None, act_check=None, _replay=None, _record=None):
    """Logits (B, T, V) for token ids idx (B, T), T <= max_seq, from the parameter dict p
    (tensors of one floating dtype, shapes as param_shapes(cfg)).

    gpt2 (Radford et al. 2019, "Language Models are Unsupervised Multitask Learners";
    pre-LayerNorm blocks, openai/gpt-2 src/model.py): learned positions, LayerNorm
    (Ba et al. 2016; biased variance, as torch.nn.functional.layer_norm), biases,
    GELU tanh approximation (Hendrycks & Gimpel 2016), head tied to wte.
    llama (Touvron et al. 2023, arXiv:2302.13971): RMSNorm, RoPE, grouped-query attention
    (Ainslie et al. 2023, arXiv:2305.13245), SwiGLU MLP (Shazeer 2020, arXiv:2002.05202),
    no biases, untied lm_head.

    Precision (cfg["precision"], default fp32; precisions/precision.h): the four linears
    of every block (qkvw, attprojw, fcw, fcprojw) compute fake_acts(x) @ fake_weights(W).T
    with the identity STE, W being that layer's (OC, C) slice; embeddings, head, norms,
    biases and the residual stream stay unquantized (but see half_residual below).
    fp16/bf16 (mixed precision) also round the qkv output after RoPE and the MLP's first
    linear output to 16 bits (Quantizer.out, OUT_SITES), identity STE. The quantized inputs
    are the ln1 output, the attention output, the ln2 output and the MLP activation output;
    b158 first passes the latter two through RMSNorm with subln_attw[l] / subln_ffnw[l]
    (SubLN, eps = norm_eps).
    cfg["quant_head"] (engine/config.h) makes the head such a linear too: logits =
    fake_acts(h) @ fake_weights(head).T, head = lm_head or gpt2's tied wte, the whole (V, C)
    matrix one weight (quantized_tables), its input at site "head"; fp16/bf16 then round
    the logits ("head_out"). cfg["quant_embed"] looks the tokens up in fake_weights(wte)
    (wpe stays as it is). Both with the identity STE to the FP32 tensors, so gpt2's wte
    collects the head's and the lookup's gradients either way. cfg["half_residual"]
    (fp16/bf16) rounds the residual stream to 16 bits where the engine does
    (bb_model_round_residual): the embedding sum ("encoded") and the result of each block's
    two residual additions ("residual2", "residual3"; Quantizer.residual, RESIDUAL_SITES),
    identity STE.

    Rounding decisions (decide): a quantizer is a step function of its input, and a
    float64 graph feeds it values that differ from the engine's float32 ones by ~1e-7,
    which now and then puts an element on the other side of a rounding boundary (one
    quantum: 2^-8 relative for bf16; see README). With decide="f32" (default) and a
    non-float32 p, a float32 twin of the forward (float32 copies of p, the same code) runs
    first and its quantized activations — float32 arithmetic like the engine's — are what
    the float64 graph uses; everything between quantizers stays float64. decide="own"
    quantizes the float64 graph's own values (cast to float32). Weights need no twin: their
    quantizer input is the float32 value of the parameter itself either way.
    engine_acts ({site: (L, B, T, dim)}, the engine's quantized linear inputs) replaces
    both: the graph uses the engine's values after act_check (ActCheck) has verified them
    against the graph's own inputs, so no decision can differ (torch_parity.py).

    rope_style / gelu_approx other than the defaults and qfault (Quantizer) are
    deliberate faults for the self-test, not alternatives of the contract."""
    gpt2 = cfg["family"] == "gpt2"
    B, T = idx.shape
    L, C, NH, NKV = cfg["n_layer"], cfg["n_embd"], cfg["n_head"], cfg["n_kv_head"]
    hd, Fh, eps = C // NH, cfg["ffn_hidden"], cfg["norm_eps"]
    if T > cfg["max_seq"]:
        raise ValueError(f"sequence length {T} exceeds max_seq {cfg['max_seq']}")
    dtype = p["wte"].dtype
    if decide not in ("f32", "own"):
        raise ValueError(f"decide must be f32 or own, not {decide!r}")
    if (decide == "f32" and engine_acts is None and _replay is None and act_mode(cfg)
            and dtype != torch.float32 and qfault != "no-act"):
        twin, _replay = {k: v.detach().to(torch.float32) for k, v in p.items()}, {}
        with torch.no_grad():
            forward(twin, cfg, idx, rope_style, gelu_approx, qfault, "own", _record=_replay)
    qz = Quantizer(cfg, qfault, record=_record, replay=_replay, engine=engine_acts,
                   act_check=act_check)

    # quant_embed: the lookup reads fake_weights(wte) through the STE (the scatter of dx
    # reaches wte unchanged); "embed-fp32" is the self-test's fault (the FP32 table read)
    wte = qz.weight(p["wte"]) if cfg.get("quant_embed") and qfault != "embed-fp32" else p["wte"]
    x = wte[idx]                                                  # (B, T, C)
    if gpt2:
        x = x + p["wpe"][:T]
    x = qz.residual(x, "encoded", None)
    if not gpt2:
        cos, sin = rope_cos_sin(T, hd, cfg["rope_theta"], dtype)
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    for l in range(L):
        # --- attention ---
        if gpt2:
            h = F.layer_norm(x, (C,), p["ln1w"][l], p["ln1b"][l], eps)
            qkv = F.linear(qz.act(h, "qkv", l), qz.weight(p["qkvw"][l]), p["qkvb"][l])
        else:
            h = rms_norm(x, p["ln1w"][l], eps)
            qkv = F.linear(qz.act(h, "qkv", l), qz.weight(p["qkvw"][l]))
        q, k, v = qkv.split([NH * hd, NKV * hd, NKV * hd], dim=-1)
        q = q.view(B, T, NH, hd).transpose(1, 2)                  # (B, NH, T, hd)
        k = k.view(B, T, NKV, hd).transpose(1, 2)                 # (B, NKV, T, hd)
        v = v.view(B, T, NKV, hd).transpose(1, 2)
        if not gpt2:
            q = apply_rope(q, cos, sin, rope_style)
            k = apply_rope(k, cos, sin, rope_style)
        if qz.mode in FLOAT_MODES:  # the qkv output after RoPE, rounded (OUT_SITES)
            heads = lambda t: t.transpose(1, 2).reshape(B, T, -1)  # noqa: E731
            qkv = qz.out(torch.cat([heads(q), heads(k), heads(v)], dim=-1), "qkv_out", l)
            q, k, v = qkv.split([NH * hd, NKV * hd, NKV * hd], dim=-1)
            q = q.reshape(B, T, NH, hd).transpose(1, 2)
            k = k.reshape(B, T, NKV, hd).transpose(1, 2)
            v = v.reshape(B, T, NKV, hd).transpose(1, 2)
        if NKV != NH:  # query head h reads kv head h // (NH / NKV)
            k = k.repeat_interleave(NH // NKV, dim=1)
            v = v.repeat_interleave(NH // NKV, dim=1)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))   # (B, NH, T, T)
        att = qz.probs(att.masked_fill(~causal, float("-inf")), l)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)            # merge heads
        if qz.subln:
            y = rms_norm(y, p["subln_attw"][l], eps)
        x = qz.residual(x + F.linear(qz.act(y, "attproj", l), qz.weight(p["attprojw"][l]),
                                     p["attprojb"][l] if gpt2 else None), "residual2", l)
        # --- MLP ---
        if gpt2:
            h2 = F.layer_norm(x, (C,), p["ln2w"][l], p["ln2b"][l], eps)
            u = F.gelu(qz.out(F.linear(qz.act(h2, "fc", l), qz.weight(p["fcw"][l]), p["fcb"][l]),
                              "fc_out", l), approximate=gelu_approx)
        else:
            h2 = rms_norm(x, p["ln2w"][l], eps)
            gu = qz.out(F.linear(qz.act(h2, "fc", l), qz.weight(p["fcw"][l])), "fc_out", l)
            g, u = gu[..., :Fh], gu[..., Fh:]
            u = F.silu(g) * u
        if qz.subln:
            u = rms_norm(u, p["subln_ffnw"][l], eps)
        x = qz.residual(x + F.linear(qz.act(u, "fcproj", l), qz.weight(p["fcprojw"][l]),
                                     p["fcprojb"][l] if gpt2 else None), "residual3", l)
    if gpt2:
        h, head = F.layer_norm(x, (C,), p["lnfw"], p["lnfb"], eps), p["wte"]  # tied head
    else:
        h, head = rms_norm(x, p["lnfw"], eps), p["lm_head"]
    if not cfg.get("quant_head"):
        return F.linear(h, head)
    # quant_head: a quantized linear without bias (layer None: one per forward), its
    # output rounded for fp16/bf16 like the blocks' qkv_out / fc_out
    return qz.out(F.linear(qz.act(h, "head", None), qz.weight(head)), "head_out", None)


def loss_fn(logits, targets):
    """Mean cross-entropy over positions whose target != -1."""
    V = logits.shape[-1]
    return F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), ignore_index=-1)


# --------------------------------------------------------------------------------------
# Training reference: torch.optim.AdamW (Loshchilov & Hutter 2019, arXiv:1711.05101;
# algorithm as in the PyTorch docs of torch.optim.AdamW) with global-norm clipping by
# torch.nn.utils.clip_grad_norm_ (coefficient min(1, max_norm / (norm + 1e-6))).
# --------------------------------------------------------------------------------------

def make_leaves(params_np, dtype):
    """{name: leaf tensor of dtype with requires_grad} from {name: numpy array}."""
    # a copy always: torch.from_numpy(...).to(float32) would share the numpy buffer,
    # which the optimizer then updates in place
    return {k: torch.from_numpy(np.array(v, copy=True)).to(dtype).requires_grad_(True)
            for k, v in params_np.items()}


def make_adamw(params, adamw, lr=0.0):
    """torch.optim.AdamW over {name: leaf}: weight decay on DECAY_NAMES only (norm gains —
    SubLN's included — and biases get 0)."""
    names = list(params)
    decay = [params[n] for n in names if n in DECAY_NAMES]
    other = [params[n] for n in names if n not in DECAY_NAMES]
    groups = [g for g in ({"params": decay, "weight_decay": float(adamw["weight_decay"])},
                          {"params": other, "weight_decay": 0.0}) if g["params"]]
    return torch.optim.AdamW(groups, lr=float(lr),
                             betas=(float(adamw["beta1"]), float(adamw["beta2"])),
                             eps=float(adamw["eps"]), amsgrad=False, foreach=False)


def adamw_step(opt, params, lr, clip):
    """Clipping (if clip > 0) by the global norm of every .grad, then one AdamW step."""
    if clip > 0:
        torch.nn.utils.clip_grad_norm_(list(params.values()), clip)
    for g in opt.param_groups:
        g["lr"] = float(lr)
    opt.step()


def train_reference(params, cfg, idx, targets, lrs, adamw, **fwd_kw):
    """Runs len(lrs) AdamW steps on one batch; returns the loss before each step.
    params: {name: leaf tensor} (updated in place). adamw: dict with beta1, beta2, eps,
    weight_decay, grad_clip. Quantized precisions re-quantize the weights from the
    updated masters at every forward (the engine's bb_model_requantize after each step)."""
    opt = make_adamw(params, adamw, lrs[0] if len(lrs) else 0.0)
    clip = float(adamw.get("grad_clip", 0.0))
    losses = []
    for lr in lrs:
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(forward(params, cfg, idx, **fwd_kw), targets)
        losses.append(loss.item())
        loss.backward()
        adamw_step(opt, params, lr, clip)
    return losses
