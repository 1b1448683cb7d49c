#!/usr/bin/python3
"""torch_parity — checks bitbench's forward, backward and AdamW steps against PyTorch.

Usage: /usr/bin/python3 tests/ref/torch_parity.py MODEL.safetensors IO.safetensors [--no-f32]

MODEL and IO are written by our C engine per the contract in tests/ref/README.md. This
script rebuilds the model in PyTorch from our weights (bitbench_model.forward), runs the
same batch in float64 — the truth — and compares our logits, loss, every gradient and
the losses of S AdamW steps. It also runs the reference in float32 and prints its error
against float64 as a yardstick of what float32 arithmetic achieves (informational only).

Exit status: 0 all within tolerance; 1 any mismatch or a malformed file; 2 usage error;
77 torch (or numpy) cannot be imported and CI is unset or empty (with CI set, that is a
failure: 1).
"""
import argparse
import json
import os
import sys

TOL = 1e-4  # relative error bound for logits, loss, every grad, every train loss


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

    def compare(self, name, ours, ref, ref32=None):
        """ours, ref (float64) and ref32 (float32 reference) as numpy arrays."""
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
        ok = rel <= TOL
        extra = ""
        if ref32 is not None:
            r32 = float(np.abs(np.asarray(ref32, np.float64) - ref).max()) / (maxref + 1e-30)
            extra = f"  (torch f32: rel={r32:.2e})"
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


def forward_backward(params_np, cfg, idx, targets, dtype):
    """Logits, loss and {name: grad} of the reference at dtype."""
    p = bm.make_leaves(params_np, dtype)
    logits = bm.forward(p, cfg, idx)
    loss = bm.loss_fn(logits, targets)
    loss.backward()
    return (logits.detach().numpy(), loss.item(),
            {k: v.grad.numpy() if v.grad is not None else np.zeros(v.shape) for k, v in p.items()})


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="MODEL.safetensors (F32 parameters + config metadata)")
    ap.add_argument("io", help="IO.safetensors (batch, our logits/loss/grads/train losses)")
    ap.add_argument("--no-f32", action="store_true",
                    help="skip the informational float32 reference run")
    args = ap.parse_args(argv)

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
    print(f"torch_parity: family={cfg['family']} L={cfg['n_layer']} C={cfg['n_embd']} "
          f"NH={cfg['n_head']} NKV={cfg['n_kv_head']} F={cfg['ffn_hidden']} V={V} "
          f"max_seq={cfg['max_seq']}; batch B={B} T={T} ({n_valid} targets); "
          f"torch {torch.__version__}; tolerance rel <= {TOL:g}")
    names = ["logits", "loss"] + [f"grad.{n}" for n in shapes] + ["train_losses"]
    rep = Report(max(len(n) for n in names) + 4)

    # ---- forward + backward: float64 truth, float32 yardstick ----
    logits64, loss64, grads64 = forward_backward(params_np, cfg, idx, tgt, torch.float64)
    if args.no_f32:
        logits32, loss32, grads32 = None, None, {}
    else:
        logits32, loss32, grads32 = forward_backward(params_np, cfg, idx, tgt, torch.float32)
    rep.compare("logits", io["logits"], logits64, logits32)
    rep.compare("loss", io["loss"].reshape(-1), np.array([loss64]),
                None if loss32 is None else np.array([loss32]))
    for n in shapes:
        key = f"grad.{n}"
        if key not in io:
            rep.fail_only(key, "missing from IO file")
            continue
        rep.compare(key, io[key], grads64[n], grads32.get(n))

    # ---- AdamW steps on the same batch ----
    if "train_losses" not in io or "train_lrs" not in io or adamw is None:
        rep.fail_only("train_losses", "IO file lacks train_losses, train_lrs or the "
                                      "adamw metadata")
    else:
        ours, lrs = io["train_losses"].reshape(-1), io["train_lrs"].reshape(-1)
        if ours.size != lrs.size or ours.size == 0:
            rep.fail_only("train_losses", f"{ours.size} losses for {lrs.size} learning "
                                          f"rates (need the same S >= 1)")
        else:
            print(f"  AdamW: {ours.size} steps, beta1={adamw['beta1']} "
                  f"beta2={adamw['beta2']} eps={adamw['eps']} "
                  f"weight_decay={adamw['weight_decay']} grad_clip={adamw['grad_clip']}")
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
                if not rel <= TOL:
                    bad.append(i)
                x32 = "" if ref32 is None else \
                    f"  (torch f32: rel={abs(ref32[i] - r) / (abs(r) + 1e-30):.2e})"
                print(f"        step {i:3d}  lr={float(lrs[i]):.4e}  ours={float(o):.9f}  "
                      f"ref={r:.9f}  rel={rel:.2e}{x32}{'  FAIL' if i in bad else ''}")
            rep.n += 1
            ok = not bad
            print(f"  {'OK  ' if ok else 'FAIL'}  {'train_losses':<{rep.width}}  "
                  f"max step rel={worst:.2e} over {ours.size} steps"
                  + ("" if ok else f"; failing steps {bad[:10]}"))
            if not ok:
                rep.failed.append("train_losses")
                print(f"        ours[:5] = {np.array2string(ours[:5].astype(np.float64), precision=8)}")
                print(f"        ref[:5]  = {np.array2string(np.array(ref[:5]), precision=8)}")

    if rep.failed:
        print(f"torch_parity: FAIL: {len(rep.failed)} of {rep.n} comparisons out of "
              f"tolerance ({', '.join(rep.failed[:8])}{', ...' if len(rep.failed) > 8 else ''})")
        return 1
    print(f"torch_parity: PASS: {rep.n} of {rep.n} comparisons within rel {TOL:g} "
          f"({cfg['family']})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
