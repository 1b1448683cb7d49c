#!/usr/bin/python3
"""torch_parity — checks bitbench's forward, backward and AdamW steps against PyTorch.

Usage: /usr/bin/python3 tests/ref/torch_parity.py MODEL.safetensors IO.safetensors
       [MODEL IO ...] [--no-f32]

MODEL and IO are written by our C engine per the contract in tests/ref/README.md. This
script rebuilds the model in PyTorch from our weights (bitbench_model.forward), runs the
same batch in float64 — the truth — and compares our logits, loss, every gradient and
the losses of S AdamW steps. It also runs the reference in float32 and prints its error
against float64 as a yardstick of what float32 arithmetic achieves (informational only).

Quantized precisions (config "precision": fp16, bf16, int8, int4, b158) are checked as
quantization-aware training: fake-quant weights and activations with the identity STE,
SubLN for b158 (bitbench_model.forward); with the config flags quant_head / quant_embed
also the LM head (weights, input, fp16/bf16 logits) and the token lookup, with half_residual
(fp16/bf16) the residual stream rounded to 16 bits. When the IO file carries what our
forward quantized (train_wq.*, train_qacts.*) and our trajectory (train_params.*, train_grads.*),
the weights must match bit for bit, the activations must be the quantization of the
reference's own inputs (up to the rounding band, ActCheck), and the reference follows our
trajectory step by step; see README, "Rounding decisions". Tolerances: TOLS below.

Exit status: 0 all within tolerance; 1 any mismatch or a malformed file; 2 usage error;
77 torch (or numpy) cannot be imported and CI is unset or empty (with CI set, that is a
failure: 1).
"""
import argparse
import json
import os
import sys

# Relative error bounds per precision (README, "Tolerances"):
#   fwd     logits, loss and every grad.* at the initial parameters, and the loss and every
#           gradient at our parameters of each step (train_params / train_grads)
#   train   each step of train_losses against a free-running float64 AdamW reference.
#           Quantized training is chaotic: a rounding decision that flips between two
#           float32 implementations (an int4 group's negative maximum sits exactly on the
#           -7.5 tie by construction) moves a weight by a whole quantum, and the two
#           trajectories drift apart. Measured drift (float32 torch vs float64 does the same):
#           fp16 9e-5, bf16 3e-4, int8 5e-4, b158 4e-3, int4 2e-2; the bounds are 3-5x
#           that — a sanity check; the trajectory checks carry the precision.
#   update  each AdamW update recomputed from our gradients at our parameters, relative
#           to the update's size, after one float32 ulp of the parameter (measured < 3e-6)
TOLS = {
    "fp32": {"fwd": 1e-4, "train": 1e-4, "update": 1e-4},
    "fp16": {"fwd": 1e-4, "train": 3e-4, "update": 1e-4},
    "bf16": {"fwd": 1e-4, "train": 1e-3, "update": 1e-4},
    "int8": {"fwd": 1e-4, "train": 2e-3, "update": 1e-4},
    "int4": {"fwd": 1e-4, "train": 1e-1, "update": 1e-4},
    "b158": {"fwd": 1e-4, "train": 2e-2, "update": 1e-4},
}


def _import_or_skip():
    try:
        import numpy  # noqa: F401
        import torch  # noqa: F401
    except ImportError as e:
        if os.environ.get("CI"):
            print(f"torch_parity: FAIL: cannot import torch/numpy ({e}); CI is set, so "
                  f"this is a failure, not a skip (install python3-torch)")
            sys.exit(1)
        print(f"torch_parity: SKIP: cannot import torch/numpy ({e}); "
              f"install python3-torch and run with /usr/bin/python3")
        sys.exit(77)


_import_or_skip()

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bitbench_model as bm  # noqa: E402


class Report:
    """Collects one line per comparison and the verdict."""

    def __init__(self, width):
        self.width = width
        self.n = 0
        self.failed = []

    def fail_only(self, name, why):
        self.n += 1
        self.failed.append(name)
        print(f"  FAIL  {name:<{self.width}}  {why}")

    def compare(self, name, ours, ref, ref32=None, tol=1e-4, own=None):
        """ours, ref (float64) and ref32 (float32 reference) as numpy arrays; own: the
        float64 reference with its own rounding decisions (quantized precisions)."""
        self.n += 1
        ours = np.asarray(ours, dtype=np.float64)
        ref = np.asarray(ref, dtype=np.float64)
        if ours.shape != ref.shape:
            self.fail_only(name, f"shape {list(ours.shape)}, expected {list(ref.shape)}")
            return False
        diff = np.abs(ours - ref)
        maxdiff = float(diff.max()) if diff.size else 0.0
        if not np.all(np.isfinite(ours)):
            maxdiff = float("inf")
        maxref = float(np.abs(ref).max()) if ref.size else 0.0
        rel = maxdiff / (maxref + 1e-30)
        ok = rel <= tol
        extra = ""
        if ref32 is not None:
            r32 = float(np.abs(np.asarray(ref32, np.float64) - ref).max()) / (maxref + 1e-30)
            extra = f"  (torch f32: rel={r32:.2e})"
        if own is not None:
            ro = float(np.abs(ours - np.asarray(own, np.float64)).max()) / (maxref + 1e-30)
            extra += f"  (f64 decisions: rel={ro:.2e})"
        print(f"  {'OK  ' if ok else 'FAIL'}  {name:<{self.width}}  max|diff|={maxdiff:.3e}  "
              f"max|ref|={maxref:.3e}  rel={rel:.2e}{extra}")
        if not ok:
            self.failed.append(name)
            if diff.size and np.isfinite(maxdiff):
                worst = np.unravel_index(int(diff.argmax()), diff.shape)
                print(f"        worst at index {tuple(int(i) for i in worst)}: "
                      f"ours={ours[worst]:.9g} ref={ref[worst]:.9g}")
            print(f"        ours[:5] = {np.array2string(ours.ravel()[:5], precision=8)}")
            print(f"        ref[:5]  = {np.array2string(ref.ravel()[:5], precision=8)}")
        return ok

    def finish(self, cfg):
        """Prints the summary line; returns the exit status."""
        what = f"{cfg['family']}, {cfg['precision']}" + (
            " act_quant=block" if cfg["precision"] == "int4" and cfg["act_quant"] == "block"
            else "") + "".join(f" {k}" for k in bm.QUANT_FLAGS if cfg.get(k))
        if self.failed:
            print(f"torch_parity: FAIL: {len(self.failed)} of {self.n} comparisons out of "
                  f"tolerance ({', '.join(self.failed[:8])}"
                  f"{', ...' if len(self.failed) > 8 else ''}) ({what})")
            return 1
        print(f"torch_parity: PASS: {self.n} of {self.n} comparisons within tolerance ({what})")
        return 0


def forward_backward(params_np, cfg, idx, targets, dtype, decide="f32", engine_acts=None,
                     act_check=None):
    """Logits, loss and {name: grad} of the reference at dtype."""
    p = bm.make_leaves(params_np, dtype)
    logits = bm.forward(p, cfg, idx, decide=decide, engine_acts=engine_acts,
                        act_check=act_check)
    loss = bm.loss_fn(logits, targets)
    loss.backward()
    return (logits.detach().numpy(), loss.item(),
            {k: v.grad.numpy() if v.grad is not None else np.zeros(v.shape) for k, v in p.items()})


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="MODEL.safetensors (F32 parameters + config metadata)")
    ap.add_argument("io", help="IO.safetensors (batch, our logits/loss/grads/train losses)")
    ap.add_argument("more", nargs="*", metavar="MODEL IO",
                    help="more pairs, checked one after the other (one torch start-up)")
    ap.add_argument("--no-f32", action="store_true",
                    help="skip the informational float32 reference run")
    args = ap.parse_args(argv)
    if len(args.more) % 2:
        ap.error("MODEL and IO files come in pairs")
    pairs = [(args.model, args.io)] + list(zip(args.more[0::2], args.more[1::2]))
    failed = []
    for k, (model, io) in enumerate(pairs):
        if k:
            print()
        if check_pair(argparse.Namespace(model=model, io=io, no_f32=args.no_f32)) != 0:
            failed.append(io)
    if len(pairs) > 1:
        print(f"\ntorch_parity: {len(pairs) - len(failed)} of {len(pairs)} pairs pass"
              + (f"; failing: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def check_pair(args):
    """Checks one MODEL/IO pair (args.model, args.io, args.no_f32); returns 0 or 1."""

    # ---- load and validate both files ----
    try:
        params_np, mmeta = bm.read_safetensors(args.model)
        io, iometa = bm.read_safetensors(args.io)
        if "config" not in mmeta:
            raise bm.FormatError(f"{args.model}: no \"config\" metadata")
        cfg = bm.parse_config(mmeta["config"])
        shapes = bm.param_shapes(cfg)
        for name, shape in shapes.items():
            if name not in params_np:
                raise bm.FormatError(f"{args.model}: missing parameter {name!r}")
            if tuple(params_np[name].shape) != shape:
                raise bm.FormatError(f"{args.model}: {name} has shape "
                                     f"{list(params_np[name].shape)}, expected {list(shape)}")
            if params_np[name].dtype != np.float32:
                raise bm.FormatError(f"{args.model}: {name} is {params_np[name].dtype}, "
                                     f"expected F32")
        extra = sorted(set(params_np) - set(shapes))
        if extra:
            raise bm.FormatError(f"{args.model}: unexpected tensors {', '.join(extra)}")
        for name in ("inputs", "targets", "logits", "loss"):
            if name not in io:
                raise bm.FormatError(f"{args.io}: missing tensor {name!r}")
        inputs, targets = io["inputs"], io["targets"]
        if inputs.ndim != 2 or targets.shape != inputs.shape:
            raise bm.FormatError(f"{args.io}: inputs {list(inputs.shape)} and targets "
                                 f"{list(targets.shape)} must both be (B, T)")
        if not np.issubdtype(inputs.dtype, np.integer) or \
                not np.issubdtype(targets.dtype, np.integer):
            raise bm.FormatError(f"{args.io}: inputs and targets must be integer (I32)")
        B, T = inputs.shape
        V = cfg["vocab_size"]
        if T > cfg["max_seq"]:
            raise bm.FormatError(f"{args.io}: T={T} exceeds max_seq={cfg['max_seq']}")
        if inputs.min() < 0 or inputs.max() >= V:
            raise bm.FormatError(f"{args.io}: input ids outside [0, {V})")
        t_ok = targets[targets != -1]
        if t_ok.size == 0 or t_ok.min() < 0 or t_ok.max() >= V:
            raise bm.FormatError(f"{args.io}: targets must be -1 or in [0, {V}), with at "
                                 f"least one not -1")
        adamw = None
        if "adamw" in iometa:
            adamw = json.loads(iometa["adamw"])
            for k in ("beta1", "beta2", "eps", "weight_decay", "grad_clip"):
                if k not in adamw:
                    raise bm.FormatError(f"{args.io}: adamw metadata lacks {k!r}")
    except (OSError, bm.FormatError, json.JSONDecodeError) as e:
        print(f"torch_parity: FAIL: {e}")
        return 1

    idx = torch.from_numpy(inputs.astype(np.int64))
    tgt = torch.from_numpy(targets.astype(np.int64))
    n_valid = int((targets != -1).sum())
    prec = cfg["precision"]
    tol = TOLS[prec]
    quant = prec != "fp32"
    qdesc = prec
    if prec == "int4":
        qdesc += f" group={cfg['group']} act_quant={cfg['act_quant']}"
    qdesc += "".join(f" {k}" for k in bm.QUANT_FLAGS if cfg[k])
    print(f"torch_parity: family={cfg['family']} L={cfg['n_layer']} C={cfg['n_embd']} "
          f"NH={cfg['n_head']} NKV={cfg['n_kv_head']} F={cfg['ffn_hidden']} V={V} "
          f"max_seq={cfg['max_seq']}; batch B={B} T={T} ({n_valid} targets); "
          f"precision {qdesc}; torch {torch.__version__}")
    print(f"torch_parity: tolerance rel <= {tol['fwd']:g} (logits, loss, grads"
          + (", our trajectory's losses and grads" if quant else "")
          + f"), {tol['train']:g} (train_losses)"
          + (f", {tol['update']:g} (AdamW updates, rel to the update)" if quant else ""))
    names = ["logits", "loss"] + [f"grad.{n}" for n in shapes] + ["train_losses",
                                                                   "quantized(step 0)"]
    rep = Report(max(len(n) for n in names) + 2)

    # ---- what the engine quantized (optional; quantized parity files carry it) ----
    S_io = int(io["train_lrs"].size) if "train_lrs" in io else 0
    sites, tables = bm.act_sites(cfg), bm.quantized_tables(cfg)
    qacts = {s_: io.get(f"train_qacts.{s_}") for s_ in sites}
    wq = {n: io.get(f"train_wq.{n}") for n in bm.QUANTIZED_NAMES + tuple(tables)}
    # a table or site the config does not quantize (say train_wq.head without quant_head in
    # the config) means the file and the config disagree about the model
    stray = sorted(k for k in io if (k.startswith("train_qacts.") and k[12:] not in sites) or
                   (k.startswith("train_wq.") and k[9:] not in wq))
    if stray:
        rep.fail_only("quantized", f"IO file has {', '.join(stray)}, which the config "
                                   f"({qdesc}) does not quantize")
        return rep.finish(cfg)
    if quant and all(v is not None for v in list(qacts.values()) + list(wq.values())):
        for s_, a in qacts.items():
            want = (S_io,) + bm.site_layers(cfg, s_) + bm.site_shape(cfg, s_, B, T)
            if tuple(a.shape) != want or a.dtype != np.float32:
                rep.fail_only("quantized", f"train_qacts.{s_}: {a.dtype} {list(a.shape)}, "
                                           f"expected F32 {list(want)}")
                return rep.finish(cfg)
        for n, a in wq.items():
            want = (S_io,) + shapes[tables.get(n, n)]
            if tuple(a.shape) != want or a.dtype != np.float32:
                rep.fail_only("quantized", f"train_wq.{n}: {a.dtype} {list(a.shape)}, "
                                           f"expected F32 {list(want)}")
                return rep.finish(cfg)
        engine = lambda i: {s_: torch.from_numpy(a[i]) for s_, a in qacts.items()}  # noqa
    else:
        if quant and any(v is not None for v in list(qacts.values()) + list(wq.values())):
            rep.fail_only("quantized", "IO file has some train_qacts.* / train_wq.* but not "
                                       f"all {len(qacts) + len(wq)}")
            return rep.finish(cfg)
        engine, wq = None, None
        if quant:
            print("  note: no train_qacts.* / train_wq.*: the reference takes its rounding "
                  "decisions from a float32 twin (bitbench_model.forward, decide='f32')")

    # ---- forward + backward: float64 truth, float32 yardstick ----
    check0 = bm.ActCheck() if engine else None
    eng0 = engine(0) if engine else None
    logits64, loss64, grads64 = forward_backward(params_np, cfg, idx, tgt, torch.float64,
                                                 engine_acts=eng0, act_check=check0)
    if engine:
        report_quantized(rep, "quantized(step 0)", check0, check_weights(params_np, wq, 0, cfg))
    if args.no_f32:
        logits32, loss32, grads32 = None, None, {}
    else:
        logits32, loss32, grads32 = forward_backward(params_np, cfg, idx, tgt, torch.float32,
                                                     engine_acts=eng0)
    if quant:  # informational: the float64 graph's own rounding decisions
        logits_o, loss_o, grads_o = forward_backward(params_np, cfg, idx, tgt, torch.float64,
                                                     decide="own")
    else:
        logits_o, loss_o, grads_o = None, None, {}
    rep.compare("logits", io["logits"], logits64, logits32, tol["fwd"], logits_o)
    rep.compare("loss", io["loss"].reshape(-1), np.array([loss64]),
                None if loss32 is None else np.array([loss32]), tol["fwd"],
                None if loss_o is None else np.array([loss_o]))
    for n in shapes:
        key = f"grad.{n}"
        if key not in io:
            rep.fail_only(key, "missing from IO file")
            continue
        rep.compare(key, io[key], grads64[n], grads32.get(n), tol["fwd"], grads_o.get(n))

    # ---- AdamW steps on the same batch ----
    if "train_losses" not in io or "train_lrs" not in io or adamw is None:
        rep.fail_only("train_losses", "IO file lacks train_losses, train_lrs or the "
                                      "adamw metadata")
        return rep.finish(cfg)
    ours, lrs = io["train_losses"].reshape(-1), io["train_lrs"].reshape(-1)
    if ours.size != lrs.size or ours.size == 0:
        rep.fail_only("train_losses", f"{ours.size} losses for {lrs.size} learning "
                                      f"rates (need the same S >= 1)")
        return rep.finish(cfg)
    print(f"  AdamW: {ours.size} steps, beta1={adamw['beta1']} "
          f"beta2={adamw['beta2']} eps={adamw['eps']} "
          f"weight_decay={adamw['weight_decay']} grad_clip={adamw['grad_clip']}")
    tp = {n: io.get(f"train_params.{n}") for n in shapes}
    tg = {n: io.get(f"train_grads.{n}") for n in shapes}
    have_traj = any(v is not None for v in list(tp.values()) + list(tg.values()))
    # Quantized training is chaotic (see TOLS): with our trajectory in the file, the
    # free-running comparison is printed for information and the trajectory is checked.
    info_only = quant and have_traj
    ref = bm.train_reference(bm.make_leaves(params_np, torch.float64), cfg, idx,
                             tgt, lrs.astype(np.float64), adamw)
    ref32 = None if args.no_f32 else bm.train_reference(
        bm.make_leaves(params_np, torch.float32), cfg, idx, tgt,
        lrs.astype(np.float64), adamw)
    worst, bad = 0.0, []
    for i, (o, r) in enumerate(zip(ours, ref)):
        rel = abs(float(o) - r) / (abs(r) + 1e-30)
        if not np.isfinite(o):
            rel = float("inf")
        worst = max(worst, rel)
        if not rel <= tol["train"] and not info_only:
            bad.append(i)
        x32 = "" if ref32 is None else \
            f"  (torch f32: rel={abs(ref32[i] - r) / (abs(r) + 1e-30):.2e})"
        print(f"        step {i:3d}  lr={float(lrs[i]):.4e}  ours={float(o):.9f}  "
              f"ref={r:.9f}  rel={rel:.2e}{x32}{'  FAIL' if i in bad else ''}")
    rep.n += 0 if info_only else 1
    ok = not bad
    print(f"  {'INFO' if info_only else 'OK  ' if ok else 'FAIL'}  {'train_losses':<{rep.width}}  "
          f"max step rel={worst:.2e} over {ours.size} steps (free-running reference"
          + (f"; {tol['train']:g} is the bound without a trajectory)" if info_only else ")")
          + ("" if ok else f"; failing steps {bad[:10]}"))
    if not ok:
        rep.failed.append("train_losses")
        print(f"        ours[:5] = {np.array2string(ours[:5].astype(np.float64), precision=8)}")
        print(f"        ref[:5]  = {np.array2string(np.array(ref[:5]), precision=8)}")

    # ---- our own trajectory (optional tensors; quantized parity files carry them) ----
    if have_traj:
        check_trajectory(params_np, rep, tp, tg, shapes, cfg, idx, tgt, ours, lrs, adamw, tol,
                         engine, wq)
    elif quant:
        print("  note: no train_params.* / train_grads.* in the IO file: the quantized "
              "training is checked only against the free-running reference")
    return rep.finish(cfg)


def check_weights(params, wq, i, cfg):
    """Mismatches of the engine's fake-quant weights of step i (train_wq.*[i]) against
    fake_weights of the parameters, per layer matrix of the four linears, and per table
    for the quantized head / embedding (train_wq.head, .embed: fake_weights of the whole
    (V, C) master, bm.quantized_tables); must be bit-exact (same float32 operations on the
    same float32 inputs). Returns (n elements, n mismatched, first)."""
    n = bad = 0
    first = None
    tables = bm.quantized_tables(cfg)
    for name, arr in wq.items():
        if name in tables:  # (label, master, ours)
            mats = [(f"{name} (of {tables[name]})", params[tables[name]], arr[i])]
        else:
            mats = [(f"{name}[layer {l}]", params[name][l], arr[i][l])
                    for l in range(cfg["n_layer"])]
        for label, master, ours in mats:
            ref, _ = bm.fake_weights(torch.from_numpy(np.array(master, np.float32)),
                                     cfg["precision"], cfg["group"])
            ref = ref.numpy()
            diff = ours != ref
            n += diff.size
            bad += int(diff.sum())
            if diff.any() and first is None:
                j = tuple(int(v) for v in np.argwhere(diff)[0])
                first = (label, j, float(ours[j]), float(ref[j]), float(master[j]))
    return n, bad, first


def report_quantized(rep, name, check, wres):
    """One comparison line for the engine's quantized weights and activations."""
    rep.n += 1
    n_w, bad_w, first = wres
    ok = bad_w == 0 and check.bad == 0
    print(f"  {'OK  ' if ok else 'FAIL'}  {name:<{rep.width}}  weights {bad_w} of {n_w} differ "
          f"(bit-exact); activations {check.bad} of {check.n} outside the rounding band, "
          f"{check.other} inside it rounded the other way (max {check.max_dist:.1e} of the "
          f"row max from the boundary)")
    if first:
        print(f"        first weight mismatch: {first[0]}{list(first[1])}: "
              f"ours={first[2]:.9g} ref={first[3]:.9g} (master {first[4]:.9g})")
    if check.worst:
        site, layer, i, o, r = check.worst
        print(f"        first activation outside the band: site {site}"
              + ("" if layer is None else f" [layer {layer}]")
              + f"{list(i)}: ours={o:.9g} ref={r:.9g}")
    if not ok:
        rep.failed.append(name)


def check_trajectory(params_np, rep, tp, tg, shapes, cfg, idx, tgt, ours, lrs, adamw, tol,
                     engine=None, wq=None):
    """Follows our trajectory: at our parameters of every step i the reference loss and
    gradients (float64, tolerance fwd) must match train_losses[i] and train_grads.*[i],
    and torch.optim.AdamW (float64, with the clipping) fed with OUR gradients must turn
    train_params.*[i] into train_params.*[i+1]: max(|ours - ref| - ulp(ref)) /
    max|ref - params[i]| per tensor (an error relative to the update, not to the weights;
    one float32 ulp of the parameter is the rounding our float32 update must make)."""
    S = lrs.size
    for n, shape in shapes.items():
        for what, arr, steps in (("train_params", tp[n], S + 1), ("train_grads", tg[n], S)):
            if arr is None or tuple(arr.shape) != (steps,) + tuple(shape):
                rep.fail_only("trajectory", f"{what}.{n}: "
                              + ("missing" if arr is None else f"shape {list(arr.shape)}")
                              + f", expected {[steps] + list(shape)}")
                return
    start = [n for n in shapes if not np.array_equal(tp[n][0], params_np[n])]
    if start:
        rep.fail_only("trajectory", f"train_params.*[0] is not MODEL's parameters "
                      f"({', '.join(start)})")
        return
    print(f"  our trajectory: the reference at train_params.*[i] (train_params.*[0] = MODEL's "
          f"parameters, bit for bit) for each of {S} steps")
    leaves = {n: torch.zeros(shape, dtype=torch.float64, requires_grad=True)
              for n, shape in shapes.items()}
    opt = bm.make_adamw(leaves, adamw, lrs[0])
    worst = {"loss": (0.0, ""), "grads": (0.0, ""), "updates": (0.0, "")}
    qcheck = bm.ActCheck() if engine else None
    wtot = [0, 0, None]
    bad = {k: [] for k in worst}
    for i in range(S):
        pi = {n: tp[n][i] for n in shapes}
        lr_ = float(lrs[i])
        p = bm.make_leaves(pi, torch.float64)
        loss = bm.loss_fn(bm.forward(p, cfg, idx, engine_acts=engine(i) if engine else None,
                                     act_check=qcheck), tgt)
        if wq:
            nw, bw, first = check_weights(pi, wq, i, cfg)
            wtot[0] += nw
            wtot[1] += bw
            wtot[2] = wtot[2] or first
        loss.backward()
        r_loss = abs(float(ours[i]) - loss.item()) / (abs(loss.item()) + 1e-30)
        r_grad, w_grad = 0.0, ""
        for n in shapes:
            g = p[n].grad.numpy() if p[n].grad is not None else np.zeros(shapes[n])
            r = float(np.abs(tg[n][i].astype(np.float64) - g).max()) / (np.abs(g).max() + 1e-30)
            if not np.all(np.isfinite(tg[n][i])):
                r = float("inf")
            if not r <= r_grad:
                r_grad, w_grad = r, n
        # AdamW from our gradients, starting at our parameters of step i
        with torch.no_grad():
            for n in shapes:
                leaves[n].copy_(torch.from_numpy(pi[n]).to(torch.float64))
                leaves[n].grad = torch.from_numpy(tg[n][i]).to(torch.float64)
        bm.adamw_step(opt, leaves, lr_, float(adamw["grad_clip"]))
        r_upd, w_upd = 0.0, ""
        for n in shapes:
            new = leaves[n].detach().numpy()
            step = float(np.abs(new - pi[n].astype(np.float64)).max())
            # our parameters are float32: one ulp of the new value is rounding, not error
            ulp = np.spacing(np.abs(new).astype(np.float32)).astype(np.float64)
            err = np.maximum(np.abs(tp[n][i + 1].astype(np.float64) - new) - ulp, 0.0)
            r = float(err.max()) / (step + 1e-30)
            if not np.all(np.isfinite(tp[n][i + 1])):
                r = float("inf")
            if not r <= r_upd:
                r_upd, w_upd = r, n
        flags = []
        for key, r, w, t in (("loss", r_loss, "", tol["fwd"]),
                             ("grads", r_grad, w_grad, tol["fwd"]),
                             ("updates", r_upd, w_upd, tol["update"])):
            if r > worst[key][0] or not np.isfinite(r):
                worst[key] = (r, w)
            if not r <= t:
                bad[key].append(i)
                flags.append(key)
        print(f"        step {i:3d}  loss rel={r_loss:.2e}  grads rel={r_grad:.2e} ({w_grad})  "
              f"update rel={r_upd:.2e} ({w_upd})" + (f"  FAIL {','.join(flags)}" if flags else ""))
    for key, t in (("loss", tol["fwd"]), ("grads", tol["fwd"]), ("updates", tol["update"])):
        name = f"trajectory.{key}"
        rep.n += 1
        ok = not bad[key]
        r, w = worst[key]
        print(f"  {'OK  ' if ok else 'FAIL'}  {name:<{rep.width}}  max rel={r:.2e}"
              + (f" ({w})" if w else "") + f" over {S} steps"
              + ("" if ok else f"; failing steps {bad[key][:10]}"))
        if not ok:
            rep.failed.append(name)
    if engine:
        report_quantized(rep, "trajectory.quantized", qcheck, tuple(wtot))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
