#!/usr/bin/python3
"""make_fake_io — fabricates what our C engine will write, to self-test torch_parity.py.

Usage: /usr/bin/python3 tests/ref/make_fake_io.py --family gpt2|llama MODEL.safetensors
       IO.safetensors [--precision P [--act-quant block] [--quant-head] [--quant-embed]
       [--half-residual]] [--fault KIND] [sizes ...]

Builds a random model of the family, writes MODEL.safetensors and IO.safetensors exactly
per the contract (tests/ref/README.md), computing logits, loss, gradients and the S
training losses in float32, as the C engine does. The forward pass is the shared
bitbench_model.forward; the optimizer is NOT torch.optim.AdamW but a hand-written AdamW
and clipping that follow the formulas the contract states (what the C side implements),
so a passing self-test also shows that those formulas are torch.optim.AdamW's.

--fault injects one deliberate error, each of which torch_parity.py must reject:
  grad       scale one gradient tensor (--fault-param, default qkvw) by 1 + 1e-3
  grad-elem  add 1e-3 * max|g| to one element of that gradient tensor
  rope       llama only: interleaved RoPE pairs (2i, 2i+1) instead of (i, i + hd/2)
  gelu       gpt2 only: exact erf GELU instead of the tanh approximation
  adam-nobc  AdamW without bias correction
  wd-all     weight decay on every parameter (norm weights and biases too)
  no-clip    skip gradient-norm clipping
and, with a quantized --precision (fp16 bf16 int8 int4 b158; QAT as the C engine's):
  round-even   quantizers round ties to even (torch.round) instead of away from zero
  no-subln     b158 without the SubLN norms
  ste-mask     the weight STE passes no gradient to clipped weights
  no-act       activations not quantized
  wd-subln     weight decay on the SubLN gains too
  no-round     fp16/bf16 without rounding the qkv and MLP-in linear outputs to 16 bits
and with --quant-head / --quant-embed / --half-residual (the config flags of engine/config.h):
  no-head-quant  the LM head's input not quantized (--quant-head)
  no-head-round  fp16/bf16: the logits not rounded to 16 bits (--quant-head)
  embed-fp32     the token lookup reads the FP32 wte, not its fake-quant copy (--quant-embed)
  no-residual-round  the residual stream not rounded to 16 bits (--half-residual; fp16/bf16)
  no-residual3-round  only the MLP's residual addition (residual3) not rounded (--half-residual)
  no-flags       the model is trained with the flags, but MODEL's config does not carry them

A quantized precision also plants exact rounding ties in the quantized weights (as
tests/parity_dump.c does) and writes the trajectory tensors train_params.*, train_grads.*,
train_wq.* and train_qacts.* (README); --trajectory writes the first two for fp32 too.
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bitbench_model as bm  # noqa: E402

FAULTS = ("none", "grad", "grad-elem", "rope", "gelu", "adam-nobc", "wd-all", "no-clip")
QFAULTS = ("round-even", "no-subln", "ste-mask", "no-act", "wd-subln", "no-round",
           "no-head-quant", "no-head-round", "embed-fp32", "no-residual-round",
           "no-residual3-round", "no-flags")


def random_params(cfg, gen):
    """float32 parameters with non-trivial norms/biases so that swapped or ignored
    weights show up in the comparison."""
    out = {}
    for name, shape in bm.param_shapes(cfg).items():
        if name in ("wte", "wpe", "lm_head"):
            t = 0.3 * torch.randn(shape, generator=gen)
        elif name in ("ln1w", "ln2w", "lnfw", "subln_attw", "subln_ffnw"):
            t = 1.0 + 0.1 * torch.randn(shape, generator=gen)
        elif name.endswith("b"):  # biases (gpt2): ln1b, qkvb, attprojb, ln2b, fcb, ...
            t = 0.1 * torch.randn(shape, generator=gen)
        else:  # (L, out, in) matrices
            t = torch.randn(shape, generator=gen) / math.sqrt(shape[-1])
        out[name] = t.to(torch.float32)
    return out


def _quant_inv(prec, x):
    """The scale reciprocal fakequant.c uses for float32 group x (b158: the matrix)."""
    if prec == "b158":
        g = max(np.float32(np.abs(x.astype(np.float64)).sum() / x.size), np.float32(1e-5))
        return np.float32(1.0) / g
    amax = np.float32(np.abs(x).max())
    if prec == "int8":
        s = amax / np.float32(127.0)
        return np.float32(1.0) / s if s > 0 else np.float32(0.0)
    return np.float32(1.0) / max(amax / np.float32(7.5), np.float32(1e-9))


def _exact_tie(t, inv):
    """float32 w next to t / inv with w * inv == t exactly, or None."""
    t, inv = np.float32(t), np.float32(inv)
    w = t / inv
    for _ in range(64):
        if w * inv == t:
            return w
        w = np.nextafter(w, np.float32(np.inf if w * inv < t else -np.inf), dtype=np.float32)
    return None


def plant_ties(params, cfg):
    """Exact rounding ties in every quantized layer matrix, one per row (int4: per group),
    with an even lower neighbour: tests/parity_dump.c's seed_ties, in numpy."""
    prec, L = cfg["precision"], cfg["n_layer"]
    for k, name in enumerate(bm.QUANTIZED_NAMES):
        W = params[name].numpy()                      # shares memory: edited in place
        OC, IC = W.shape[1:]
        G = cfg["group"] if prec == "int4" else IC
        u = W.view(np.uint32)
        for l in range(L):
            for _ in range(20 if prec == "b158" else 1):
                tinv = _quant_inv(prec, W[l]) if prec == "b158" else None
                for r in range(OC):
                    for g0 in range(0, IC, G):
                        x = W[l, r, g0:g0 + G]
                        n, amax = x.size, int(np.abs(x).argmax())
                        col = (7 * r + 3 * l + k) % n
                        col = (col + 1) % n if col == amax else col
                        if prec == "fp16":
                            u[l, r, g0 + col] = (u[l, r, g0 + col] & ~np.uint32(0x3fff)) | 0x1000
                            continue
                        if prec == "bf16":
                            u[l, r, g0 + col] = (u[l, r, g0 + col] & ~np.uint32(0x1ffff)) | 0x8000
                            continue
                        sign = -1.0 if (r + g0 // G + l) % 2 else 1.0
                        top = {"int4": 4, "int8": 3, "b158": 1}[prec]
                        w = _exact_tie(sign * (0.5 + 2.0 * ((r + g0 // G) % top)),
                                       tinv if tinv is not None else _quant_inv(prec, x))
                        if w is not None and abs(w) < abs(x[amax]):
                            x[col] = w


def manual_adamw(p, cfg, idx, tgt, lrs, hp, fault, fwd_kw, traj=None):
    """S steps of AdamW on one batch in float32, written from the formulas (PyTorch docs,
    torch.optim.AdamW; Loshchilov & Hutter 2019):
        g <- g * min(1, clip / (||g||_2 + 1e-6))       (global norm over all grads)
        p <- p * (1 - lr * wd)                           (decay set only)
        m <- b1 m + (1 - b1) g ;  v <- b2 v + (1 - b2) g^2
        p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    Returns the loss before each step. traj (a dict of lists), if given, collects per step
    the parameters before it, the raw gradients, and for a quantized precision the fake-quant
    weights and the quantized linear inputs the forward used."""
    b1, b2, eps = hp["beta1"], hp["beta2"], hp["eps"]
    wd, clip = hp["weight_decay"], hp["grad_clip"]
    names = list(p)
    m = {n: torch.zeros_like(p[n]) for n in names}
    v = {n: torch.zeros_like(p[n]) for n in names}
    losses = []
    for i, lr in enumerate(lrs):
        t = i + 1
        rec = {}
        loss = bm.loss_fn(bm.forward(p, cfg, idx, _record=rec, **fwd_kw), tgt)
        losses.append(loss.item())
        grads = torch.autograd.grad(loss, [p[n] for n in names], allow_unused=True)
        grads = {n: g if g is not None else torch.zeros_like(p[n]) for n, g in zip(names, grads)}
        if traj is not None:
            traj["params"].append({n: p[n].detach().clone() for n in names})
            traj["grads"].append({n: g.detach().clone() for n, g in grads.items()})
            if cfg["precision"] != "fp32":
                qf = fwd_kw.get("qfault")
                wq = {n: torch.stack([bm.fake_weights(
                    p[n][l].detach(), cfg["precision"], cfg["group"], qf)[0]
                    for l in range(cfg["n_layer"])]) for n in bm.QUANTIZED_NAMES}
                # the quantized head / embedding tables (one (V, C) matrix each)
                wq.update({n: bm.fake_weights(p[master].detach(), cfg["precision"],
                                              cfg["group"], qf)[0]
                           for n, master in bm.quantized_tables(cfg).items()})
                traj["wq"].append(wq)
                traj["qacts"].append({s_: torch.stack([rec[(s_, l)] for l in
                                                       range(cfg["n_layer"])])
                                      if bm.site_layers(cfg, s_) else rec[(s_, None)]
                                      for s_ in bm.act_sites(cfg)})
        norm = math.sqrt(sum(float(g.double().pow(2).sum()) for g in grads.values()))
        if clip > 0 and fault != "no-clip":
            coef = min(1.0, clip / (norm + 1e-6))
            grads = {n: g * coef for n, g in grads.items()}
        print(f"  step {i}: loss {loss.item():.6f}  grad norm {norm:.4f}  lr {lr:.4e}"
              + (f"  (clipped x{clip / (norm + 1e-6):.3f})" if clip > 0 and norm > clip else ""))
        with torch.no_grad():
            bc1 = 1.0 - b1 ** t if fault != "adam-nobc" else 1.0
            bc2 = 1.0 - b2 ** t if fault != "adam-nobc" else 1.0
            for n in names:
                g = grads[n]
                if n in bm.DECAY_NAMES or fault == "wd-all" or \
                        (fault == "wd-subln" and n.startswith("subln_")):
                    p[n].mul_(1.0 - lr * wd)
                m[n].mul_(b1).add_((1.0 - b1) * g)
                v[n].mul_(b2).add_((1.0 - b2) * g * g)
                p[n].sub_((lr / bc1) * m[n] / (v[n].sqrt() / math.sqrt(bc2) + eps))
    return losses


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="output MODEL.safetensors")
    ap.add_argument("io", help="output IO.safetensors")
    ap.add_argument("--family", choices=("gpt2", "llama"), required=True)
    ap.add_argument("--fault", choices=FAULTS + QFAULTS, default="none")
    ap.add_argument("--precision", choices=bm.PRECISIONS, default="fp32")
    ap.add_argument("--act-quant", choices=("token", "block"), default="token")
    ap.add_argument("--group", type=int, default=32)
    ap.add_argument("--quant-head", action="store_true", help="config quant_head (QAT only)")
    ap.add_argument("--quant-embed", action="store_true", help="config quant_embed (QAT only)")
    ap.add_argument("--half-residual", action="store_true",
                    help="config half_residual (fp16/bf16 only)")
    ap.add_argument("--trajectory", action="store_true",
                    help="write train_params.* / train_grads.* (always when quantized)")
    ap.add_argument("--fault-param", default="qkvw", help="tensor for --fault grad")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--embd", type=int, default=32)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, help="default: 2 for llama, n_head for gpt2")
    ap.add_argument("--ffn", type=int, help="default: 4C for gpt2, 64 for llama")
    ap.add_argument("--vocab", type=int, default=67)
    ap.add_argument("--max-seq", type=int, default=16)
    ap.add_argument("--seq", type=int, help="batch sequence length T (default max_seq)")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-2, help="peak learning rate")
    ap.add_argument("--grad-clip", type=float, default=1.0, help="0 disables clipping")
    ap.add_argument("--weight-decay", type=float, default=0.1)
    args = ap.parse_args(argv)
    if args.fault == "rope" and args.family != "llama":
        ap.error("--fault rope needs --family llama")
    if args.fault == "gelu" and args.family != "gpt2":
        ap.error("--fault gelu needs --family gpt2")
    if args.fault in QFAULTS and args.precision == "fp32":
        ap.error(f"--fault {args.fault} needs a quantized --precision")
    if args.fault in ("no-head-quant", "no-head-round") and not args.quant_head:
        ap.error(f"--fault {args.fault} needs --quant-head")
    if args.fault == "embed-fp32" and not args.quant_embed:
        ap.error("--fault embed-fp32 needs --quant-embed")
    if args.half_residual and args.precision not in ("fp16", "bf16"):
        ap.error("--half-residual needs --precision fp16 or bf16")
    if args.fault in ("no-residual-round", "no-residual3-round") and not args.half_residual:
        ap.error(f"--fault {args.fault} needs --half-residual")
    if args.fault == "no-flags" and not (args.quant_head or args.quant_embed or
                                         args.half_residual):
        ap.error("--fault no-flags needs --quant-head, --quant-embed or --half-residual")

    gpt2 = args.family == "gpt2"
    cfg = {
        "family": args.family, "n_layer": args.layers, "n_embd": args.embd,
        "n_head": args.heads,
        "n_kv_head": args.kv_heads or (args.heads if gpt2 else 2),
        "vocab_size": args.vocab, "max_seq": args.max_seq,
        "ffn_hidden": args.ffn or (4 * args.embd if gpt2 else 64),
        "norm_eps": 1e-5, "rope_theta": 10000.0,
    }
    if args.precision != "fp32":
        cfg.update(precision=args.precision, group=args.group, act_quant=args.act_quant)
    if args.quant_head:  # written only when on, as bb_config_to_json does
        cfg["quant_head"] = True
    if args.quant_embed:
        cfg["quant_embed"] = True
    if args.half_residual:
        cfg["half_residual"] = True
    cfg = bm.parse_config(json.dumps(cfg))  # same validation as the checker
    B, T = args.batch, args.seq or args.max_seq
    gen = torch.Generator().manual_seed(args.seed)
    params = random_params(cfg, gen)
    if args.precision != "fp32":
        plant_ties(params, cfg)
    if args.fault in ("grad", "grad-elem") and args.fault_param not in params:
        ap.error(f"--fault-param {args.fault_param!r} is not a {args.family} parameter")

    # Batch: next-token targets with some positions ignored (-1), incl. each row's last.
    seq = torch.randint(0, cfg["vocab_size"], (B, T + 1), generator=gen)
    inputs, targets = seq[:, :T].clone(), seq[:, 1:].clone()
    targets[:, -1] = -1
    targets[torch.rand(B, T, generator=gen) < 0.15] = -1

    fwd_kw = {}
    if args.fault == "rope":
        fwd_kw["rope_style"] = "interleaved"
    if args.fault == "gelu":
        fwd_kw["gelu_approx"] = "none"
    if args.fault in ("round-even", "no-subln", "ste-mask", "no-act", "no-round",
                      "no-head-quant", "no-head-round", "embed-fp32", "no-residual-round",
                      "no-residual3-round"):
        fwd_kw["qfault"] = args.fault

    # Forward + backward at the initial parameters, float32.
    p = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    logits = bm.forward(p, cfg, inputs, **fwd_kw)
    loss = bm.loss_fn(logits, targets)
    loss.backward()
    grads = {k: v.grad.detach().clone() if v.grad is not None else torch.zeros_like(v)
             for k, v in p.items()}  # (no-subln: the SubLN gains get no gradient)
    if args.fault == "grad":
        grads[args.fault_param] *= 1.0 + 1e-3
    if args.fault == "grad-elem":  # a middle element, not the largest
        g = grads[args.fault_param].view(-1)
        g[g.numel() // 2] += 1e-3 * float(g.abs().max())

    # Warm-up then cosine learning-rate schedule; AdamW hyper-parameters.
    S, warm = args.steps, 3
    lrs = [args.lr * (i + 1) / warm if i < warm else
           args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (i - warm) / max(1, S - warm))))
           for i in range(S)]
    lrs = [float(np.float32(x)) for x in lrs]  # the C side keeps lr in float
    hp = {"beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "weight_decay": args.weight_decay,
          "grad_clip": args.grad_clip}
    print(f"make_fake_io: {args.family} {json.dumps(cfg)}; B={B} T={T}; fault={args.fault}")
    p = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    traj = {"params": [], "grads": [], "wq": [], "qacts": []} \
        if args.trajectory or args.precision != "fp32" else None
    train_losses = manual_adamw(p, cfg, inputs, targets, lrs, hp, args.fault, fwd_kw, traj)
    if traj is not None:
        traj["params"].append({n: v.detach().clone() for n, v in p.items()})  # after the last

    bm.write_safetensors(args.model, {k: v.numpy() for k, v in params.items()},
                         {"config": json.dumps({k: v for k, v in cfg.items() if not (
                             args.fault == "no-flags" and k in bm.QUANT_FLAGS)})})
    io = {
        "inputs": inputs.to(torch.int32).numpy(),
        "targets": targets.to(torch.int32).numpy(),
        "logits": logits.detach().to(torch.float32).numpy(),
        "loss": np.array([loss.item()], dtype=np.float32),
    }
    io.update({f"grad.{k}": v.numpy() for k, v in grads.items()})
    io["train_losses"] = np.array(train_losses, dtype=np.float32)
    io["train_lrs"] = np.array(lrs, dtype=np.float32)
    if traj is not None:
        for key, what in (("train_params", "params"), ("train_grads", "grads")):
            io.update({f"{key}.{n}": torch.stack([st[n] for st in traj[what]]).numpy()
                       for n in params})
        for key, what in (("train_wq", "wq"), ("train_qacts", "qacts")):
            if traj[what]:
                io.update({f"{key}.{n}": torch.stack([st[n] for st in traj[what]]).numpy()
                           for n in traj[what][0]})
    bm.write_safetensors(args.io, io, {"adamw": json.dumps(hp)})
    print(f"make_fake_io: wrote {args.model} and {args.io}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
