/* backend.h — the backend ops table (DESIGN.md table 2). The engine calls only these
 * function pointers; the CPU backend (engine/cpu/ops.c: OpenBLAS sgemm + OpenMP) and the
 * scalar reference (engine/cpu/ops_ref.c) fill it, CUDA will later. Tests compare every
 * op of every backend with the reference.
 *
 * Conventions: row-major; N = number of rows (B*T); weights are (OC, C) as in
 * torch.nn.Linear, so out = inp @ weight^T + bias. Backward ops ACCUMULATE (+=) into
 * every gradient they write (llm.c convention), so gradient accumulation and shared
 * tensors (tied embeddings, grouped KV heads) need no special cases. qkv rows are
 * [q: NH*hd | k: NKV*hd | v: NKV*hd]. */
#pragma once
#include "../precisions/precision.h"
#include <stddef.h>

/* How the attention keeps its probabilities (attention_forward below). */
typedef enum { BB_ATT_F32, BB_ATT_F16, BB_ATT_BF16 } bb_att_fmt;

typedef struct {
    const char *name;
    /* out (N,OC) = inp (N,C) @ weight(OC,C)^T + bias (OC) [bias may be NULL]. With
     * accumulate, out += instead of = (used to add a projection onto the residual). */
    void (*matmul_forward)(float *out, const float *inp, const float *weight, const float *bias, int N, int C,
                           int OC, int accumulate);
    /* dinp (N,C) += dout @ weight; dweight (OC,C) += dout^T @ inp; dbias (OC) += colsum(dout).
     * dinp or dbias may be NULL; dweight NULL (a frozen weight, LoRA) only on the backends
     * that run LoRA: the CPU and reference ones. */
    void (*matmul_backward)(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                            const float *weight, int N, int C, int OC);
    void (*layernorm_forward)(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                              const float *bias, int N, int C, float eps);
    /* Norm backwards: dweight (and dbias) NULL for a frozen norm (LoRA; CPU and reference
     * backends): only dinp. */
    void (*layernorm_backward)(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                               const float *weight, const float *mean, const float *rstd, int N, int C);
    void (*rmsnorm_forward)(float *out, float *rstd, const float *inp, const float *weight, int N, int C, float eps);
    void (*rmsnorm_backward)(float *dinp, float *dweight, const float *dout, const float *inp, const float *weight,
                             const float *rstd, int N, int C);
    /* GELU, tanh approximation (Hendrycks & Gimpel 2016; GPT-2). inp/out (N, F). */
    void (*gelu_forward)(float *out, const float *inp, int N, int F);
    void (*gelu_backward)(float *dinp, const float *inp, const float *dout, int N, int F);
    /* SwiGLU (Shazeer 2020): inp (N, 2F) = [gate | up], out (N, F) = silu(gate) * up. */
    void (*swiglu_forward)(float *out, const float *inp, int N, int F);
    void (*swiglu_backward)(float *dinp, const float *inp, const float *dout, int N, int F);
    /* RoPE (Su et al. 2021, HF rotate_half pairing (i, i + hd/2)) in place on the q and k
     * parts of qkv (B,T,QKV). cos/sin are (T, hd/2). Backward applies the inverse
     * rotation to dqkv in place. */
    void (*rope_forward)(float *qkv, const float *cos, const float *sin, int B, int T, int NH, int NKV, int hd);
    void (*rope_backward)(float *dqkv, const float *cos, const float *sin, int B, int T, int NH, int NKV, int hd);
    /* Causal softmax attention, scale 1/sqrt(hd), query head h reads kv head h/(NH/NKV).
     * out (B,T,NH*hd); att (B,NH,T,T) keeps the probabilities for backward, or is NULL:
     * forward keeps none and backward (att == NULL) recomputes them from qkv, selective
     * activation recomputation (Korthikanti et al. 2022, arXiv:2205.05198, §4.2; model.h
     * bb_ckpt_mode). Every backend must recompute with the code that computed the kept
     * probabilities, so a backward gives the same result with att kept or NULL (bit for
     * bit where its backward is deterministic: CPU and reference).
     * fmt (mixed precision, model.h): BB_ATT_F32 keeps the probabilities as computed, in
     * float; BB_ATT_F16 / BB_ATT_BF16 round them to that format (round to nearest even)
     * before P V, as a half-precision matmul reads them, keep them in att as 16-bit values
     * (uint16_t), and backward uses the rounded P throughout (dV = P^T dY and the softmax
     * backward dS = P (dP - rowsum(P dP))). */
    void (*attention_forward)(float *out, void *att, const float *qkv, int B, int T, int NH, int NKV, int hd,
                              bb_att_fmt fmt);
    void (*attention_backward)(float *dqkv, const float *dout, const float *qkv, const void *att, int B, int T,
                               int NH, int NKV, int hd, bb_att_fmt fmt);
    /* out = x + broadcast(bias) [bias may be NULL]: starts a residual branch before an
     * accumulating matmul. */
    void (*residual_bias_forward)(float *out, const float *x, const float *bias, int N, int C);
    /* probs = softmax(logits) per row; losses[i] = -log probs[i][targets[i]], 0 where
     * targets[i] < 0 (ignored). probs may alias logits (bb_model logits_in_place). */
    void (*crossentropy_forward)(float *losses, float *probs, const float *logits, const int *targets, int N, int V);
    /* dlogits = (probs - onehot(target)) * scale for kept rows, 0 for ignored rows.
     * dlogits may alias probs. */
    void (*crossentropy_backward)(float *dlogits, const float *probs, const int *targets, float scale, int N, int V);
    /* Knowledge distillation (Hinton et al. 2015; spec evaluation.md §5.3, torchdistill
     * KDLoss with beta = 1 - alpha): per row, with T = temp, P_T = softmax(tlogits / T)
     * (teacher), Q_T = softmax(logits / T) (student),
     *   losses[i] = alpha CE(logits_i, target_i) + (1 - alpha) T^2 KL(P_T || Q_T),
     * KL = sum_v P_T (log P_T - log Q_T); 0 where targets[i] < 0 (neither term counts).
     * alpha weights the hard CE (torchdistill's convention; others name the weights the
     * other way round). T^2 is always applied (torchdistill drops it when alpha is 0).
     * probs = softmax(logits) as in crossentropy_forward, for the backward. */
    void (*kd_forward)(float *losses, float *probs, const float *logits, const float *tlogits, const int *targets,
                       float alpha, float temp, int N, int V);
    /* dlogits = scale [alpha (probs - onehot(target)) + (1 - alpha) T (Q_T - P_T)] for kept
     * rows, 0 for ignored ones: d CE / d z = p - y, and d KL(P_T || Q_T) / d z = (Q_T - P_T) / T
     * (the softmax's Jacobian at z / T), times T^2 (Hinton et al. 2015, section 2.1). P_T and
     * Q_T are recomputed from the logits; dlogits may alias probs. */
    void (*kd_backward)(float *dlogits, const float *probs, const float *logits, const float *tlogits,
                        const int *targets, float alpha, float temp, float scale, int N, int V);
    /* out (B,T,C) = wte[tokens] + wpe[t] (wpe may be NULL). */
    void (*encoder_forward)(float *out, const int *tokens, const float *wte, const float *wpe, int B, int T, int C);
    void (*encoder_backward)(float *dwte, float *dwpe, const float *dout, const int *tokens, int B, int T, int C);
    /* One AdamW step (Loshchilov & Hutter 2019; torch.optim.AdamW): decoupled decay
     * p -= lr*wd*p, then p -= lr * mhat / (sqrt(vhat) + eps); t counts from 1. */
    void (*adamw_update)(float *params, const float *grads, float *m, float *v, size_t n, float lr, float beta1,
                         float beta2, float eps, float wd, int t);
    /* sum of squares in double, in fixed-size blocks summed in order (deterministic for
     * any thread count). */
    double (*sum_squares)(const float *x, size_t n);
    void (*scale)(float *x, float s, size_t n);
    /* Optional (NULL: the precision's own CPU kernel, bb_precision_traits.forward): the
     * packed forward of a quantized linear on this backend, same contract as that forward
     * (packed in the CPU layout of blocks.h). */
    void (*packed_forward)(bb_precision p, float *out, const float *x, const void *packed, int N, int C, int OC,
                           const bb_prec_opts *o, int accumulate);
} bb_backend;

extern const bb_backend bb_backend_cpu;
extern const bb_backend bb_backend_ref;
