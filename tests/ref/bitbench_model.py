"""bitbench_model — the PyTorch reference for bitbench's two model families.

Shared by torch_parity.py (which checks our C engine against it) and make_fake_io.py
(which fabricates engine output to self-test the checker). The file contract is in
tests/ref/README.md; this module is its executable form:

  * a minimal safetensors reader/writer (no `safetensors` package needed);
  * the parameter table (names, shapes) for a config;
  * forward() for "gpt2" and "llama" from a plain dict of tensors;
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

# AdamW weight decay applies to these matrices/embeddings only; norms and biases get 0.
DECAY_NAMES = frozenset({"wte", "wpe", "qkvw", "attprojw", "fcw", "fcprojw", "lm_head"})


def parse_config(text):
    """Parses the "config" metadata string; checks keys, family and divisibility."""
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
    if cfg["family"] not in ("gpt2", "llama"):
        raise FormatError(f"config family {cfg['family']!r} is neither gpt2 nor llama")
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
        return {
            "wte": (V, C), "wpe": (T, C),
            "ln1w": (L, C), "ln1b": (L, C),
            "qkvw": (L, 3 * C, C), "qkvb": (L, 3 * C),
            "attprojw": (L, C, C), "attprojb": (L, C),
            "ln2w": (L, C), "ln2b": (L, C),
            "fcw": (L, Fh, C), "fcb": (L, Fh),
            "fcprojw": (L, C, Fh), "fcprojb": (L, C),
            "lnfw": (C,), "lnfb": (C,),
        }
    qkv_out = (cfg["n_head"] + 2 * cfg["n_kv_head"]) * hd
    return {
        "wte": (V, C),
        "ln1w": (L, C),
        "qkvw": (L, qkv_out, C),
        "attprojw": (L, C, C),
        "ln2w": (L, C),
        "fcw": (L, 2 * Fh, C),
        "fcprojw": (L, C, Fh),
        "lnfw": (C,),
        "lm_head": (V, C),
    }


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


def forward(p, cfg, idx, rope_style="half", gelu_approx="tanh"):
    """Logits (B, T, V) for token ids idx (B, T), T <= max_seq, from the parameter dict p
    (tensors of one floating dtype, shapes as param_shapes(cfg)).

    gpt2 (Radford et al. 2019, "Language Models are Unsupervised Multitask Learners";
    pre-LayerNorm blocks, openai/gpt-2 src/model.py): learned positions, LayerNorm
    (Ba et al. 2016; biased variance, as torch.nn.functional.layer_norm), biases,
    GELU tanh approximation (Hendrycks & Gimpel 2016), head tied to wte.
    llama (Touvron et al. 2023, arXiv:2302.13971): RMSNorm, RoPE, grouped-query attention
    (Ainslie et al. 2023, arXiv:2305.13245), SwiGLU MLP (Shazeer 2020, arXiv:2002.05202),
    no biases, untied lm_head.

    rope_style / gelu_approx other than the defaults are deliberate faults for the
    self-test, not alternatives of the contract."""
    gpt2 = cfg["family"] == "gpt2"
    B, T = idx.shape
    L, C, NH, NKV = cfg["n_layer"], cfg["n_embd"], cfg["n_head"], cfg["n_kv_head"]
    hd, Fh, eps = C // NH, cfg["ffn_hidden"], cfg["norm_eps"]
    if T > cfg["max_seq"]:
        raise ValueError(f"sequence length {T} exceeds max_seq {cfg['max_seq']}")
    dtype = p["wte"].dtype

    x = p["wte"][idx]                                             # (B, T, C)
    if gpt2:
        x = x + p["wpe"][:T]
    else:
        cos, sin = rope_cos_sin(T, hd, cfg["rope_theta"], dtype)
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    for l in range(L):
        # --- attention ---
        if gpt2:
            h = F.layer_norm(x, (C,), p["ln1w"][l], p["ln1b"][l], eps)
            qkv = F.linear(h, p["qkvw"][l], p["qkvb"][l])         # h @ W.T + b
        else:
            h = rms_norm(x, p["ln1w"][l], eps)
            qkv = F.linear(h, p["qkvw"][l])
        q, k, v = qkv.split([NH * hd, NKV * hd, NKV * hd], dim=-1)
        q = q.view(B, T, NH, hd).transpose(1, 2)                  # (B, NH, T, hd)
        k = k.view(B, T, NKV, hd).transpose(1, 2)                 # (B, NKV, T, hd)
        v = v.view(B, T, NKV, hd).transpose(1, 2)
        if not gpt2:
            q = apply_rope(q, cos, sin, rope_style)
            k = apply_rope(k, cos, sin, rope_style)
        if NKV != NH:  # query head h reads kv head h // (NH / NKV)
            k = k.repeat_interleave(NH // NKV, dim=1)
            v = v.repeat_interleave(NH // NKV, dim=1)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))   # (B, NH, T, T)
        att = att.masked_fill(~causal, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)            # merge heads
        x = x + F.linear(y, p["attprojw"][l], p["attprojb"][l] if gpt2 else None)
        # --- MLP ---
        if gpt2:
            h2 = F.layer_norm(x, (C,), p["ln2w"][l], p["ln2b"][l], eps)
            u = F.gelu(F.linear(h2, p["fcw"][l], p["fcb"][l]), approximate=gelu_approx)
            x = x + F.linear(u, p["fcprojw"][l], p["fcprojb"][l])
        else:
            h2 = rms_norm(x, p["ln2w"][l], eps)
            gu = F.linear(h2, p["fcw"][l])
            g, u = gu[..., :Fh], gu[..., Fh:]
            x = x + F.linear(F.silu(g) * u, p["fcprojw"][l])
    if gpt2:
        h = F.layer_norm(x, (C,), p["lnfw"], p["lnfb"], eps)
        return F.linear(h, p["wte"])                              # tied head
    return F.linear(rms_norm(x, p["lnfw"], eps), p["lm_head"])


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
    return {k: torch.from_numpy(np.asarray(v)).to(dtype).requires_grad_(True)
            for k, v in params_np.items()}


def train_reference(params, cfg, idx, targets, lrs, adamw, **fwd_kw):
    """Runs len(lrs) AdamW steps on one batch; returns the loss before each step.
    params: {name: leaf tensor} (updated in place). adamw: dict with beta1, beta2, eps,
    weight_decay, grad_clip."""
    names = list(params)
    decay = [params[n] for n in names if n in DECAY_NAMES]
    other = [params[n] for n in names if n not in DECAY_NAMES]
    groups = [g for g in ({"params": decay, "weight_decay": float(adamw["weight_decay"])},
                          {"params": other, "weight_decay": 0.0}) if g["params"]]
    opt = torch.optim.AdamW(groups, lr=float(lrs[0]) if len(lrs) else 0.0,
                            betas=(float(adamw["beta1"]), float(adamw["beta2"])),
                            eps=float(adamw["eps"]), amsgrad=False, foreach=False)
    clip = float(adamw.get("grad_clip", 0.0))
    losses = []
    for lr in lrs:
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(forward(params, cfg, idx, **fwd_kw), targets)
        losses.append(loss.item())
        loss.backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_([params[n] for n in names], clip)
        for g in opt.param_groups:
            g["lr"] = float(lr)
        opt.step()
    return losses
