#!/usr/bin/env python3
"""torch_train.py — the PyTorch side of `bitbench bench train-vs-torch`.

Trains the same model (same config, same initial weights, same batches, same AdamW
settings) that bitbench trains, written the way a PyTorch user would write it
(nanoGPT style: nn.Linear, fused QKV, F.layer_norm, F.gelu(approximate="tanh"),
masked softmax attention; for llama RMSNorm, RoPE (rotate_half), GQA by
repeat_interleave and SwiGLU), and prints one JSON object with the timings.

Input files come from bitbench (safetensors, read with tests/ref/bitbench_model.py):
  --model   parameters + metadata "config" (tests/ref/README.md contract)
  --batches "inputs", "targets" I32 (steps, B, T)
Thread count and OMP_WAIT_POLICY are set by the caller; this script only calls
torch.set_num_threads(--threads).
"""
import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))
import bitbench_model as bm  # noqa: E402  (safetensors reader, config parser)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, NH, NKV, Fh = cfg["n_embd"], cfg["n_head"], cfg["n_kv_head"], cfg["ffn_hidden"]
        self.cfg, self.hd = cfg, C // NH
        self.gpt2 = cfg["family"] == "gpt2"
        bias = self.gpt2
        self.qkv = nn.Linear(C, (NH + 2 * NKV) * self.hd, bias=bias)
        self.proj = nn.Linear(C, C, bias=bias)
        self.fc = nn.Linear(C, Fh if self.gpt2 else 2 * Fh, bias=bias)
        self.fcproj = nn.Linear(Fh, C, bias=bias)
        self.ln1w = nn.Parameter(torch.ones(C))
        self.ln2w = nn.Parameter(torch.ones(C))
        if self.gpt2:
            self.ln1b = nn.Parameter(torch.zeros(C))
            self.ln2b = nn.Parameter(torch.zeros(C))

    def norm(self, x, w, b):
        eps = self.cfg["norm_eps"]
        if self.gpt2:
            return F.layer_norm(x, (x.shape[-1],), w, b, eps)
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w

    def forward(self, x, mask, cos, sin):
        B, T, C = x.shape
        NH, NKV, hd = self.cfg["n_head"], self.cfg["n_kv_head"], self.hd
        h = self.norm(x, self.ln1w, self.ln1b if self.gpt2 else None)
        q, k, v = self.qkv(h).split([NH * hd, NKV * hd, NKV * hd], dim=-1)
        q = q.view(B, T, NH, hd).transpose(1, 2)
        k = k.view(B, T, NKV, hd).transpose(1, 2)
        v = v.view(B, T, NKV, hd).transpose(1, 2)
        if not self.gpt2:
            q, k = rope(q, cos, sin), rope(k, cos, sin)
            if NKV != NH:
                k = k.repeat_interleave(NH // NKV, dim=1)
                v = v.repeat_interleave(NH // NKV, dim=1)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
        att = att.masked_fill(mask[:T, :T], float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        x = x + self.proj(y)
        h = self.norm(x, self.ln2w, self.ln2b if self.gpt2 else None)
        u = self.fc(h)
        if self.gpt2:
            a = F.gelu(u, approximate="tanh")
        else:
            g, up = u.chunk(2, dim=-1)
            a = F.silu(g) * up
        return x + self.fcproj(a)


def rope(x, cos, sin):
    T, half = x.shape[-2], x.shape[-1] // 2
    c, s = cos[:T], sin[:T]
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s], dim=-1)


class Model(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        C, V, T = cfg["n_embd"], cfg["vocab_size"], cfg["max_seq"]
        self.wte = nn.Embedding(V, C)
        self.gpt2 = cfg["family"] == "gpt2"
        if self.gpt2:
            self.wpe = nn.Embedding(T, C)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg["n_layer"]))
        self.lnfw = nn.Parameter(torch.ones(C))
        if self.gpt2:
            self.lnfb = nn.Parameter(torch.zeros(C))
        else:
            self.lm_head = nn.Linear(C, V, bias=False)
        self.register_buffer("mask", torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1), persistent=False)
        hd = C // cfg["n_head"]
        inv = cfg["rope_theta"] ** (-torch.arange(0, hd // 2, dtype=torch.float64) * 2 / hd)
        ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
        self.register_buffer("cos", ang.cos().float(), persistent=False)
        self.register_buffer("sin", ang.sin().float(), persistent=False)

    def forward(self, idx):
        B, T = idx.shape
        x = self.wte(idx)
        if self.gpt2:
            x = x + self.wpe(torch.arange(T))
        for blk in self.blocks:
            x = blk(x, self.mask, self.cos, self.sin)
        eps = self.cfg["norm_eps"]
        if self.gpt2:
            x = F.layer_norm(x, (x.shape[-1],), self.lnfw, self.lnfb, eps)
            return x @ self.wte.weight.t()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * self.lnfw
        return self.lm_head(x)

    def load_bitbench(self, p):
        """Copies bitbench's stacked parameter tensors into the modules."""
        t = lambda a: torch.from_numpy(a)  # noqa: E731
        with torch.no_grad():
            self.wte.weight.copy_(t(p["wte"]))
            self.lnfw.copy_(t(p["lnfw"]))
            if self.gpt2:
                self.wpe.weight.copy_(t(p["wpe"]))
                self.lnfb.copy_(t(p["lnfb"]))
            else:
                self.lm_head.weight.copy_(t(p["lm_head"]))
            for l, blk in enumerate(self.blocks):
                blk.ln1w.copy_(t(p["ln1w"][l])); blk.ln2w.copy_(t(p["ln2w"][l]))
                blk.qkv.weight.copy_(t(p["qkvw"][l])); blk.proj.weight.copy_(t(p["attprojw"][l]))
                blk.fc.weight.copy_(t(p["fcw"][l])); blk.fcproj.weight.copy_(t(p["fcprojw"][l]))
                if self.gpt2:
                    blk.ln1b.copy_(t(p["ln1b"][l])); blk.ln2b.copy_(t(p["ln2b"][l]))
                    blk.qkv.bias.copy_(t(p["qkvb"][l])); blk.proj.bias.copy_(t(p["attprojb"][l]))
                    blk.fc.bias.copy_(t(p["fcb"][l])); blk.fcproj.bias.copy_(t(p["fcprojb"][l]))

    def param_groups(self, wd):
        """Weight decay on matrices and embeddings only, as bitbench (model.h)."""
        decay = [p for n, p in self.named_parameters() if p.dim() >= 2]
        rest = [p for n, p in self.named_parameters() if p.dim() < 2]
        return [{"params": decay, "weight_decay": wd}, {"params": rest, "weight_decay": 0.0}]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--batches", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--clip", type=float, default=1.0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    params, meta = bm.read_safetensors(a.model)
    cfg = json.loads(meta["config"])
    batches, _ = bm.read_safetensors(a.batches)
    inputs = torch.from_numpy(batches["inputs"].astype("int64"))
    targets = torch.from_numpy(batches["targets"].astype("int64"))
    model = Model(cfg)
    model.load_bitbench(params)
    opt = torch.optim.AdamW(model.param_groups(a.wd), lr=a.lr, betas=(0.9, 0.95), eps=1e-8)
    times, losses = [], []
    for s in range(inputs.shape[0]):
        t0 = time.perf_counter()
        logits = model(inputs[s])
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), targets[s].view(-1), ignore_index=-1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if a.clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip)
        opt.step()
        times.append(time.perf_counter() - t0)
        losses.append(loss.item())
    timed = times[a.warmup:] or times
    B, T = inputs.shape[1], inputs.shape[2]
    print(json.dumps({
        "torch_version": torch.__version__, "threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
        "steps_timed": len(timed), "seconds": sum(timed),
        "tokens_per_s": B * T * len(timed) / sum(timed), "losses": losses, "step_times": times,
    }))


if __name__ == "__main__":
    main()
