/* staged.c — bb_backend_cuda_staged: the device ops of bb_backend_cuda on HOST buffers,
 * so the engine as it is (model.c holds every tensor in host memory) runs its ops on the
 * GPU. Each op uploads its inputs (and the outputs it accumulates into) to cached device
 * buffers, runs the device op, and downloads what it wrote. Correct but bound by PCIe
 * copies: the correctness path (tests/test_cuda_train.c, `--device cuda`), not the
 * throughput path, which needs the model's tensors resident on the device. */
#include "../cuda_backend.h"
#include <stdint.h>
#include <stdlib.h>

#define SLOTS 8
static void *g_buf[SLOTS];
static size_t g_size[SLOTS];

/* Device copy of host (bytes) in slot, uploaded when upload is set; NULL for NULL. */
static void *dev(int slot, const void *host, size_t bytes, int upload) {
    if (!host) return NULL;
    if (g_size[slot] < bytes) {
        bb_cuda_free(g_buf[slot]);
        g_buf[slot] = bb_cuda_alloc(BB_MEM_WORKSPACE, bytes);
        g_size[slot] = bytes;
    }
    if (upload) bb_cuda_upload(g_buf[slot], host, bytes);
    return g_buf[slot];
}
#define IN(slot, p, bytes) dev(slot, p, bytes, 1)
#define OUT(slot, p, bytes) dev(slot, p, bytes, 0)
static void down(void *host, const void *d, size_t bytes) {
    if (host) bb_cuda_download(host, d, bytes);
}
#define F(n) ((size_t)(n) * sizeof(float))

static void matmul_forward(float *out, const float *inp, const float *weight, const float *bias, int N, int C, int OC,
                           int accumulate) {
    float *o = dev(0, out, F((size_t)N * OC), accumulate);
    bb_backend_cuda.matmul_forward(o, IN(1, inp, F((size_t)N * C)), IN(2, weight, F((size_t)OC * C)),
                                   IN(3, bias, F(OC)), N, C, OC, accumulate);
    down(out, o, F((size_t)N * OC));
}
static void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                            const float *weight, int N, int C, int OC) {
    float *di = IN(0, dinp, F((size_t)N * C)), *dw = IN(1, dweight, F((size_t)OC * C)), *db = IN(2, dbias, F(OC));
    bb_backend_cuda.matmul_backward(di, dw, db, IN(3, dout, F((size_t)N * OC)), IN(4, inp, F((size_t)N * C)),
                                    IN(5, weight, F((size_t)OC * C)), N, C, OC);
    down(dinp, di, F((size_t)N * C));
    down(dweight, dw, F((size_t)OC * C));
    down(dbias, db, F(OC));
}
static void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                              const float *bias, int N, int C, float eps) {
    float *o = OUT(0, out, F((size_t)N * C)), *m = OUT(1, mean, F(N)), *r = OUT(2, rstd, F(N));
    bb_backend_cuda.layernorm_forward(o, m, r, IN(3, inp, F((size_t)N * C)), IN(4, weight, F(C)), IN(5, bias, F(C)), N,
                                      C, eps);
    down(out, o, F((size_t)N * C));
    down(mean, m, F(N));
    down(rstd, r, F(N));
}
static void layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                               const float *weight, const float *mean, const float *rstd, int N, int C) {
    float *di = IN(0, dinp, F((size_t)N * C)), *dw = IN(1, dweight, F(C)), *db = IN(2, dbias, F(C));
    bb_backend_cuda.layernorm_backward(di, dw, db, IN(3, dout, F((size_t)N * C)), IN(4, inp, F((size_t)N * C)),
                                       IN(5, weight, F(C)), IN(6, mean, F(N)), IN(7, rstd, F(N)), N, C);
    down(dinp, di, F((size_t)N * C));
    down(dweight, dw, F(C));
    down(dbias, db, F(C));
}
static void rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, int N, int C, float eps) {
    float *o = OUT(0, out, F((size_t)N * C)), *r = OUT(1, rstd, F(N));
    bb_backend_cuda.rmsnorm_forward(o, r, IN(2, inp, F((size_t)N * C)), IN(3, weight, F(C)), N, C, eps);
    down(out, o, F((size_t)N * C));
    down(rstd, r, F(N));
}
static void rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp, const float *weight,
                             const float *rstd, int N, int C) {
    float *di = IN(0, dinp, F((size_t)N * C)), *dw = IN(1, dweight, F(C));
    bb_backend_cuda.rmsnorm_backward(di, dw, IN(2, dout, F((size_t)N * C)), IN(3, inp, F((size_t)N * C)),
                                     IN(4, weight, F(C)), IN(5, rstd, F(N)), N, C);
    down(dinp, di, F((size_t)N * C));
    down(dweight, dw, F(C));
}
static void gelu_forward(float *out, const float *inp, int N, int F_) {
    float *o = OUT(0, out, F((size_t)N * F_));
    bb_backend_cuda.gelu_forward(o, IN(1, inp, F((size_t)N * F_)), N, F_);
    down(out, o, F((size_t)N * F_));
}
static void gelu_backward(float *dinp, const float *inp, const float *dout, int N, int F_) {
    float *di = IN(0, dinp, F((size_t)N * F_));
    bb_backend_cuda.gelu_backward(di, IN(1, inp, F((size_t)N * F_)), IN(2, dout, F((size_t)N * F_)), N, F_);
    down(dinp, di, F((size_t)N * F_));
}
static void swiglu_forward(float *out, const float *inp, int N, int F_) {
    float *o = OUT(0, out, F((size_t)N * F_));
    bb_backend_cuda.swiglu_forward(o, IN(1, inp, F((size_t)N * 2 * F_)), N, F_);
    down(out, o, F((size_t)N * F_));
}
static void swiglu_backward(float *dinp, const float *inp, const float *dout, int N, int F_) {
    float *di = IN(0, dinp, F((size_t)N * 2 * F_));
    bb_backend_cuda.swiglu_backward(di, IN(1, inp, F((size_t)N * 2 * F_)), IN(2, dout, F((size_t)N * F_)), N, F_);
    down(dinp, di, F((size_t)N * 2 * F_));
}
static void rope(float *qkv, const float *cos, const float *sin, int B, int T, int NH, int NKV, int hd, int backward) {
    size_t n = F((size_t)B * T * (NH + 2 * NKV) * hd), cs = F((size_t)T * (hd / 2));
    float *q = IN(0, qkv, n);
    (backward ? bb_backend_cuda.rope_backward : bb_backend_cuda.rope_forward)(q, IN(1, cos, cs), IN(2, sin, cs), B, T,
                                                                               NH, NKV, hd);
    down(qkv, q, n);
}
static void rope_forward(float *qkv, const float *cos, const float *sin, int B, int T, int NH, int NKV, int hd) {
    rope(qkv, cos, sin, B, T, NH, NKV, hd, 0);
}
static void rope_backward(float *dqkv, const float *cos, const float *sin, int B, int T, int NH, int NKV, int hd) {
    rope(dqkv, cos, sin, B, T, NH, NKV, hd, 1);
}
/* att NULL (selective recomputation, backend.h) stays NULL on the device: dev() maps NULL to NULL. */
/* att holds floats, or 16-bit values with a 16-bit fmt (backend.h). */
static size_t att_bytes(int B, int T, int NH, bb_att_fmt fmt) {
    return (size_t)B * NH * T * T * (fmt == BB_ATT_F32 ? sizeof(float) : sizeof(uint16_t));
}
static void attention_forward(float *out, void *att, const float *qkv, int B, int T, int NH, int NKV, int hd,
                              bb_att_fmt fmt) {
    size_t no = F((size_t)B * T * NH * hd), na = att_bytes(B, T, NH, fmt), nq = F((size_t)B * T * (NH + 2 * NKV) * hd);
    float *o = OUT(0, out, no);
    void *a = OUT(1, att, na);
    bb_backend_cuda.attention_forward(o, a, IN(2, qkv, nq), B, T, NH, NKV, hd, fmt);
    down(out, o, no);
    down(att, a, na);
}
static void attention_backward(float *dqkv, const float *dout, const float *qkv, const void *att, int B, int T,
                               int NH, int NKV, int hd, bb_att_fmt fmt) {
    size_t no = F((size_t)B * T * NH * hd), na = att_bytes(B, T, NH, fmt), nq = F((size_t)B * T * (NH + 2 * NKV) * hd);
    float *d = IN(0, dqkv, nq);
    bb_backend_cuda.attention_backward(d, IN(1, dout, no), IN(2, qkv, nq), IN(3, att, na), B, T, NH, NKV, hd, fmt);
    down(dqkv, d, nq);
}
static void residual_bias_forward(float *out, const float *x, const float *bias, int N, int C) {
    size_t n = F((size_t)N * C);
    float *o = OUT(0, out, n);
    bb_backend_cuda.residual_bias_forward(o, IN(1, x, n), IN(2, bias, F(C)), N, C);
    down(out, o, n);
}
static void crossentropy_forward(float *losses, float *probs, const float *logits, const int *targets, int N, int V) {
    size_t n = F((size_t)N * V);
    float *l = OUT(0, losses, F(N)), *p = OUT(1, probs, n);
    bb_backend_cuda.crossentropy_forward(l, p, IN(2, logits, n), IN(3, targets, (size_t)N * sizeof(int)), N, V);
    down(losses, l, F(N));
    down(probs, p, n);
}
static void crossentropy_backward(float *dlogits, const float *probs, const int *targets, float scale, int N, int V) {
    size_t n = F((size_t)N * V);
    float *p = IN(1, probs, n), *d = dlogits == probs ? p : OUT(0, dlogits, n); /* dlogits may alias probs */
    bb_backend_cuda.crossentropy_backward(d, p, IN(2, targets, (size_t)N * sizeof(int)), scale, N, V);
    down(dlogits, d, n);
}
static void encoder_forward(float *out, const int *tokens, const float *wte, const float *wpe, int B, int T, int C) {
    size_t n = F((size_t)B * T * C);
    int maxtok = 0;
    for (int i = 0; i < B * T; i++) maxtok = tokens[i] > maxtok ? tokens[i] : maxtok;
    float *o = OUT(0, out, n);
    /* only the rows of wte up to the largest token are read */
    bb_backend_cuda.encoder_forward(o, IN(1, tokens, (size_t)B * T * sizeof(int)), IN(2, wte, F((size_t)(maxtok + 1) * C)),
                                    IN(3, wpe, F((size_t)T * C)), B, T, C);
    down(out, o, n);
}
static void encoder_backward(float *dwte, float *dwpe, const float *dout, const int *tokens, int B, int T, int C) {
    int maxtok = 0;
    for (int i = 0; i < B * T; i++) maxtok = tokens[i] > maxtok ? tokens[i] : maxtok;
    size_t nw = F((size_t)(maxtok + 1) * C);
    float *dw = IN(0, dwte, nw), *dp = IN(1, dwpe, F((size_t)T * C));
    bb_backend_cuda.encoder_backward(dw, dp, IN(2, dout, F((size_t)B * T * C)), IN(3, tokens, (size_t)B * T * sizeof(int)),
                                     B, T, C);
    down(dwte, dw, nw);
    down(dwpe, dp, F((size_t)T * C));
}
static void adamw_update(float *params, const float *grads, float *m, float *v, size_t n, float lr, float beta1,
                         float beta2, float eps, float wd, int t) {
    float *p = IN(0, params, F(n)), *dm = IN(2, m, F(n)), *dv = IN(3, v, F(n));
    bb_backend_cuda.adamw_update(p, IN(1, grads, F(n)), dm, dv, n, lr, beta1, beta2, eps, wd, t);
    down(params, p, F(n));
    down(m, dm, F(n));
    down(v, dv, F(n));
}
static double sum_squares(const float *x, size_t n) { return bb_backend_cuda.sum_squares(IN(0, x, F(n)), n); }
static void scale(float *x, float s, size_t n) {
    float *d = IN(0, x, F(n));
    bb_backend_cuda.scale(d, s, n);
    down(x, d, F(n));
}

static void packed_forward(bb_precision p, float *out, const float *x, const void *packed, int N, int C, int OC,
                           const bb_prec_opts *o, int accumulate) {
    if (!bb_cuda_has_packed(p)) { /* no GPU kernel yet (nf4): the CPU one, on these host buffers */
        bb_precision_get(p)->forward(out, x, packed, N, C, OC, o, accumulate);
        return;
    }
    size_t bytes = bb_precision_get(p)->packed_size(OC, C, o);
    float *d = dev(0, out, F((size_t)N * OC), accumulate);
    bb_cuda_packed_forward(p, d, IN(1, x, F((size_t)N * C)), IN(2, packed, bytes), N, C, OC, o, accumulate);
    down(out, d, F((size_t)N * OC));
}

/* The KD loss has no CUDA kernel yet: it runs on the host, where the staged backend's
 * buffers live, with the CPU backend's op (bit-identical to a CPU run). */
static void kd_forward(float *losses, float *probs, const float *logits, const float *tlogits, const int *targets,
                       float alpha, float temp, int N, int V) {
    bb_backend_cpu.kd_forward(losses, probs, logits, tlogits, targets, alpha, temp, N, V);
}
static void kd_backward(float *dlogits, const float *probs, const float *logits, const float *tlogits,
                        const int *targets, float alpha, float temp, float scale, int N, int V) {
    bb_backend_cpu.kd_backward(dlogits, probs, logits, tlogits, targets, alpha, temp, scale, N, V);
}

const bb_backend bb_backend_cuda_staged = {
    .name = "cuda-staged",
    .matmul_forward = matmul_forward,
    .matmul_backward = matmul_backward,
    .layernorm_forward = layernorm_forward,
    .layernorm_backward = layernorm_backward,
    .rmsnorm_forward = rmsnorm_forward,
    .rmsnorm_backward = rmsnorm_backward,
    .gelu_forward = gelu_forward,
    .gelu_backward = gelu_backward,
    .swiglu_forward = swiglu_forward,
    .swiglu_backward = swiglu_backward,
    .rope_forward = rope_forward,
    .rope_backward = rope_backward,
    .attention_forward = attention_forward,
    .attention_backward = attention_backward,
    .residual_bias_forward = residual_bias_forward,
    .crossentropy_forward = crossentropy_forward,
    .crossentropy_backward = crossentropy_backward,
    .kd_forward = kd_forward,
    .kd_backward = kd_backward,
    .encoder_forward = encoder_forward,
    .encoder_backward = encoder_backward,
    .adamw_update = adamw_update,
    .sum_squares = sum_squares,
    .scale = scale,
    .packed_forward = packed_forward,
};
