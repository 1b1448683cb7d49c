/* ops_ref.c — scalar reference implementation of every backend op (backend.h). Plain
 * loops, no BLAS, no threads: the ground truth the fast CPU ops and the CUDA ops are
 * tested against. Formulas follow llm.c (train_gpt2.c) and the papers cited in
 * backend.h. Never delete or "optimise" these.
 *
 * The file is compiled twice: in float (the bb_backend_ref table) and, with
 * BB_REF_F64, in double with an _f64 suffix (ops_ref_f64.h) so gradient checks can
 * take finite differences of the same code in double precision. <tgmath.h> picks
 * expf/exp etc. from the argument type. */
#include "../backend.h"
#include "../../precisions/precision.h"
#include <string.h>
#include <tgmath.h>

#ifdef BB_REF_F64
typedef double real;
#define NAME(f) f##_f64
#define LINKAGE
#include "ops_ref_f64.h"
#else
typedef float real;
#define NAME(f) f
#define LINKAGE static
#endif

LINKAGE void NAME(matmul_forward_ref)(real *out, const real *inp, const real *weight, const real *bias, int N, int C,
                               int OC, int accumulate) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            real acc = bias ? bias[o] : (real)0.0;
            for (int c = 0; c < C; c++) acc += inp[(size_t)n * C + c] * weight[(size_t)o * C + c];
            out[(size_t)n * OC + o] = accumulate ? out[(size_t)n * OC + o] + acc : acc;
        }
}

LINKAGE void NAME(matmul_backward_ref)(real *dinp, real *dweight, real *dbias, const real *dout, const real *inp,
                                const real *weight, int N, int C, int OC) {
    if (dinp)
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++) {
                real acc = (real)0.0;
                for (int o = 0; o < OC; o++) acc += dout[(size_t)n * OC + o] * weight[(size_t)o * C + c];
                dinp[(size_t)n * C + c] += acc;
            }
    for (int o = 0; o < OC; o++) {
        for (int c = 0; dweight && c < C; c++) {
            real acc = (real)0.0;
            for (int n = 0; n < N; n++) acc += dout[(size_t)n * OC + o] * inp[(size_t)n * C + c];
            dweight[(size_t)o * C + c] += acc;
        }
        if (dbias) {
            real acc = (real)0.0;
            for (int n = 0; n < N; n++) acc += dout[(size_t)n * OC + o];
            dbias[o] += acc;
        }
    }
}

LINKAGE void NAME(layernorm_forward_ref)(real *out, real *mean, real *rstd, const real *inp, const real *weight,
                                  const real *bias, int N, int C, real eps) {
    for (int n = 0; n < N; n++) {
        const real *x = inp + (size_t)n * C;
        real m = (real)0.0, v = (real)0.0;
        for (int c = 0; c < C; c++) m += x[c];
        m /= (real)C;
        for (int c = 0; c < C; c++) v += (x[c] - m) * (x[c] - m);
        v /= (real)C;
        real s = (real)1.0 / sqrt(v + eps);
        for (int c = 0; c < C; c++) out[(size_t)n * C + c] = (x[c] - m) * s * weight[c] + bias[c];
        mean[n] = m;
        rstd[n] = s;
    }
}

LINKAGE void NAME(layernorm_backward_ref)(real *dinp, real *dweight, real *dbias, const real *dout, const real *inp,
                                   const real *weight, const real *mean, const real *rstd, int N, int C) {
    for (int n = 0; n < N; n++) {
        const real *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
        real dnorm_mean = (real)0.0, dnorm_norm_mean = (real)0.0;
        for (int c = 0; c < C; c++) {
            real norm = (x[c] - mean[n]) * rstd[n], dnorm = weight[c] * dy[c];
            dnorm_mean += dnorm;
            dnorm_norm_mean += dnorm * norm;
        }
        dnorm_mean /= (real)C;
        dnorm_norm_mean /= (real)C;
        for (int c = 0; c < C; c++) {
            real norm = (x[c] - mean[n]) * rstd[n], dnorm = weight[c] * dy[c];
            if (dweight) { /* NULL: a frozen norm */
                dbias[c] += dy[c];
                dweight[c] += norm * dy[c];
            }
            dinp[(size_t)n * C + c] += (dnorm - dnorm_mean - norm * dnorm_norm_mean) * rstd[n];
        }
    }
}

LINKAGE void NAME(rmsnorm_forward_ref)(real *out, real *rstd, const real *inp, const real *weight, int N, int C,
                                real eps) {
    for (int n = 0; n < N; n++) {
        const real *x = inp + (size_t)n * C;
        real ss = (real)0.0;
        for (int c = 0; c < C; c++) ss += x[c] * x[c];
        real r = (real)1.0 / sqrt(ss / (real)C + eps);
        for (int c = 0; c < C; c++) out[(size_t)n * C + c] = x[c] * r * weight[c];
        rstd[n] = r;
    }
}

/* y = x r w, r = (mean(x^2) + eps)^-1/2  =>  dx = r (w dy) - x r^3 / C * sum(x w dy). */
LINKAGE void NAME(rmsnorm_backward_ref)(real *dinp, real *dweight, const real *dout, const real *inp,
                                 const real *weight, const real *rstd, int N, int C) {
    for (int n = 0; n < N; n++) {
        const real *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
        real r = rstd[n], dot = (real)0.0;
        for (int c = 0; c < C; c++) dot += x[c] * weight[c] * dy[c];
        for (int c = 0; c < C; c++) {
            if (dweight) dweight[c] += x[c] * r * dy[c];
            dinp[(size_t)n * C + c] += r * weight[c] * dy[c] - x[c] * r * r * r * dot / (real)C;
        }
    }
}

#define GELU_K (real)0.7978845608028654 /* sqrt(2/pi) */

LINKAGE void NAME(gelu_forward_ref)(real *out, const real *inp, int N, int F) {
    for (size_t i = 0; i < (size_t)N * F; i++) {
        real x = inp[i];
        out[i] = (real)0.5 * x * ((real)1.0 + tanh(GELU_K * (x + (real)0.044715 * x * x * x)));
    }
}

LINKAGE void NAME(gelu_backward_ref)(real *dinp, const real *inp, const real *dout, int N, int F) {
    for (size_t i = 0; i < (size_t)N * F; i++) {
        real x = inp[i], u = GELU_K * (x + (real)0.044715 * x * x * x), t = tanh(u);
        real sech2 = (real)1.0 - t * t;
        real grad = (real)0.5 * ((real)1.0 + t) + (real)0.5 * x * sech2 * GELU_K * ((real)1.0 + (real)3.0 * (real)0.044715 * x * x);
        dinp[i] += grad * dout[i];
    }
}

LINKAGE void NAME(swiglu_forward_ref)(real *out, const real *inp, int N, int F) {
    for (int n = 0; n < N; n++)
        for (int f = 0; f < F; f++) {
            real g = inp[(size_t)n * 2 * F + f], u = inp[(size_t)n * 2 * F + F + f];
            out[(size_t)n * F + f] = g / ((real)1.0 + exp(-g)) * u;
        }
}

LINKAGE void NAME(swiglu_backward_ref)(real *dinp, const real *inp, const real *dout, int N, int F) {
    for (int n = 0; n < N; n++)
        for (int f = 0; f < F; f++) {
            real g = inp[(size_t)n * 2 * F + f], u = inp[(size_t)n * 2 * F + F + f];
            real s = (real)1.0 / ((real)1.0 + exp(-g)), dy = dout[(size_t)n * F + f];
            dinp[(size_t)n * 2 * F + f] += dy * u * s * ((real)1.0 + g * ((real)1.0 - s));
            dinp[(size_t)n * 2 * F + F + f] += dy * g * s;
        }
}

/* Rotates the q heads and k heads of every token by (cos, sin); sign = -1 rotates back. */
LINKAGE void NAME(rope_apply_ref)(real *qkv, const real *cos, const real *sin, int B, int T, int NH, int NKV, int hd,
                           real sign) {
    int QKV = (NH + 2 * NKV) * hd, half = hd / 2;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < NH + NKV; h++) {  /* q heads, then k heads: contiguous */
                real *x = qkv + ((size_t)b * T + t) * QKV + (size_t)h * hd;
                for (int i = 0; i < half; i++) {
                    real c = cos[t * half + i], s = sign * sin[t * half + i];
                    real x1 = x[i], x2 = x[i + half];
                    x[i] = x1 * c - x2 * s;
                    x[i + half] = x2 * c + x1 * s;
                }
            }
}

LINKAGE void NAME(rope_forward_ref)(real *qkv, const real *cos, const real *sin, int B, int T, int NH, int NKV, int hd) {
    NAME(rope_apply_ref)(qkv, cos, sin, B, T, NH, NKV, hd, (real)1.0);
}

LINKAGE void NAME(rope_backward_ref)(real *dqkv, const real *cos, const real *sin, int B, int T, int NH, int NKV,
                              int hd) {
    NAME(rope_apply_ref)(dqkv, cos, sin, B, T, NH, NKV, hd, -(real)1.0);
}

/* Row t of head h's causal softmax probabilities into p (T entries, zeros above the
 * diagonal). Forward (kept or not) and backward's recomputation (att == NULL, selective
 * recomputation) both call it, so recomputed rows are the kept ones bit for bit. */
static void NAME(attention_row_ref)(real *p, const real *qkv, int b, int h, int t, int T, int NH, int NKV, int hd) {
    int QKV = (NH + 2 * NKV) * hd, C = NH * hd, kvh = h / (NH / NKV);
    real scale = (real)1.0 / sqrt((real)hd);
    const real *q = qkv + ((size_t)b * T + t) * QKV + (size_t)h * hd;
    real maxv = -INFINITY;
    for (int s = 0; s <= t; s++) {
        const real *k = qkv + ((size_t)b * T + s) * QKV + C + (size_t)kvh * hd;
        real dot = (real)0.0;
        for (int i = 0; i < hd; i++) dot += q[i] * k[i];
        p[s] = dot * scale;
        if (p[s] > maxv) maxv = p[s];
    }
    real sum = (real)0.0;
    for (int s = 0; s <= t; s++) { p[s] = exp(p[s] - maxv); sum += p[s]; }
    for (int s = 0; s <= t; s++) p[s] /= sum;
    for (int s = t + 1; s < T; s++) p[s] = (real)0.0;
}

/* Mixed precision (backend.h bb_att_fmt): a row of probabilities rounded to the 16-bit
 * format (round to nearest even, precisions/fakequant.c), in place. */
static void NAME(attention_round_row_ref)(real *p, int T, bb_att_fmt fmt) {
    for (int s = 0; fmt != BB_ATT_F32 && s < T; s++)
        p[s] = fmt == BB_ATT_F16 ? (real)bb_fp16_to_fp32(bb_fp32_to_fp16((float)p[s]))
                                 : (real)bb_bf16_to_fp32(bb_fp32_to_bf16((float)p[s]));
}

/* Row t of head h's probabilities as forward used them: from att (real, or 16-bit with a
 * 16-bit fmt) when kept, else recomputed (and rounded) into row. */
static const real *NAME(attention_p_ref)(real *row, const void *att, const real *qkv, int b, int h, int t, int T,
                                          int NH, int NKV, int hd, bb_att_fmt fmt) {
    size_t off = (((size_t)b * NH + h) * T + t) * T;
    if (att && fmt == BB_ATT_F32) return (const real *)att + off;
    if (att) {
        const uint16_t *a = (const uint16_t *)att + off;
        for (int s = 0; s < T; s++) row[s] = (real)(fmt == BB_ATT_F16 ? bb_fp16_to_fp32(a[s]) : bb_bf16_to_fp32(a[s]));
        return row;
    }
    NAME(attention_row_ref)(row, qkv, b, h, t, T, NH, NKV, hd);
    NAME(attention_round_row_ref)(row, T, fmt);
    return row;
}

/* att (B,NH,T,T) keeps the probabilities (real, or uint16_t with a 16-bit fmt); NULL keeps
 * none (a row buffer instead). */
LINKAGE void NAME(attention_forward_ref)(real *out, void *att, const real *qkv, int B, int T, int NH, int NKV, int hd,
                                         bb_att_fmt fmt) {
    int QKV = (NH + 2 * NKV) * hd, C = NH * hd, group = NH / NKV;
    real row[T > 0 ? T : 1];
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            int kvh = h / group;
            for (int t = 0; t < T; t++) {
                size_t off = (((size_t)b * NH + h) * T + t) * T;
                real *p = att && fmt == BB_ATT_F32 ? (real *)att + off : row;
                NAME(attention_row_ref)(p, qkv, b, h, t, T, NH, NKV, hd);
                NAME(attention_round_row_ref)(p, T, fmt);
                for (int s = 0; att && fmt != BB_ATT_F32 && s < T; s++)
                    ((uint16_t *)att)[off + s] = fmt == BB_ATT_F16 ? bb_fp32_to_fp16((float)p[s])
                                                                   : bb_fp32_to_bf16((float)p[s]);
                real *y = out + ((size_t)b * T + t) * C + (size_t)h * hd;
                for (int i = 0; i < hd; i++) y[i] = (real)0.0;
                for (int s = 0; s <= t; s++) {
                    const real *v = qkv + ((size_t)b * T + s) * QKV + C + (size_t)(NKV + kvh) * hd;
                    for (int i = 0; i < hd; i++) y[i] += p[s] * v[i];
                }
            }
        }
}

/* With P = softmax(S), S = scale * q.k: dP = dy.v, dS = P (dP - sum_s P dP),
 * dq += scale dS k, dk += scale dS q, dv += P dy. att == NULL: each row of P is
 * recomputed from qkv. With a 16-bit fmt, P is the rounded probabilities throughout. */
LINKAGE void NAME(attention_backward_ref)(real *dqkv, const real *dout, const real *qkv, const void *att, int B, int T,
                                   int NH, int NKV, int hd, bb_att_fmt fmt) {
    int QKV = (NH + 2 * NKV) * hd, C = NH * hd, group = NH / NKV;
    real scale = (real)1.0 / sqrt((real)hd);
    real row[T > 0 ? T : 1];
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            int kvh = h / group;
            for (int t = 0; t < T; t++) {
                const real *p = NAME(attention_p_ref)(row, att, qkv, b, h, t, T, NH, NKV, hd, fmt);
                const real *dy = dout + ((size_t)b * T + t) * C + (size_t)h * hd;
                const real *q = qkv + ((size_t)b * T + t) * QKV + (size_t)h * hd;
                real *dq = dqkv + ((size_t)b * T + t) * QKV + (size_t)h * hd;
                real dp[T > 0 ? T : 1], rowdot = (real)0.0;
                for (int s = 0; s <= t; s++) {
                    const real *v = qkv + ((size_t)b * T + s) * QKV + C + (size_t)(NKV + kvh) * hd;
                    real *dv = dqkv + ((size_t)b * T + s) * QKV + C + (size_t)(NKV + kvh) * hd;
                    dp[s] = (real)0.0;
                    for (int i = 0; i < hd; i++) { dp[s] += dy[i] * v[i]; dv[i] += p[s] * dy[i]; }
                    rowdot += p[s] * dp[s];
                }
                for (int s = 0; s <= t; s++) {
                    real ds = p[s] * (dp[s] - rowdot) * scale;
                    const real *k = qkv + ((size_t)b * T + s) * QKV + C + (size_t)kvh * hd;
                    real *dk = dqkv + ((size_t)b * T + s) * QKV + C + (size_t)kvh * hd;
                    for (int i = 0; i < hd; i++) { dq[i] += ds * k[i]; dk[i] += ds * q[i]; }
                }
            }
        }
}

LINKAGE void NAME(residual_bias_forward_ref)(real *out, const real *x, const real *bias, int N, int C) {
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) out[(size_t)n * C + c] = x[(size_t)n * C + c] + (bias ? bias[c] : (real)0.0);
}

LINKAGE void NAME(crossentropy_forward_ref)(real *losses, real *probs, const real *logits, const int *targets, int N,
                                     int V) {
    for (int n = 0; n < N; n++) {
        const real *z = logits + (size_t)n * V;
        real *p = probs + (size_t)n * V, maxv = -INFINITY, sum = (real)0.0;
        real zt = targets[n] < 0 ? (real)0.0 : z[targets[n]];  /* before p (which may be z) is written */
        for (int v = 0; v < V; v++) if (z[v] > maxv) maxv = z[v];
        for (int v = 0; v < V; v++) { p[v] = exp(z[v] - maxv); sum += p[v]; }
        for (int v = 0; v < V; v++) p[v] /= sum;
        /* -log p[target] from the log-sum-exp, not log of a rounded probability */
        losses[n] = targets[n] < 0 ? (real)0.0 : log(sum) + maxv - zt;
    }
}

LINKAGE void NAME(crossentropy_backward_ref)(real *dlogits, const real *probs, const int *targets, real scale, int N,
                                      int V) {
    for (int n = 0; n < N; n++)
        for (int v = 0; v < V; v++) {
            size_t i = (size_t)n * V + v;
            dlogits[i] = targets[n] < 0 ? (real)0.0 : (probs[i] - (v == targets[n] ? (real)1.0 : (real)0.0)) * scale;
        }
}

/* log sum_v exp(z[v] / temp), shifted by the maximum. */
static real NAME(logsumexp_temp_ref)(const real *z, real temp, int V) {
    real maxv = -INFINITY, sum = (real)0.0;
    for (int v = 0; v < V; v++) if (z[v] / temp > maxv) maxv = z[v] / temp;
    for (int v = 0; v < V; v++) sum += exp(z[v] / temp - maxv);
    return maxv + log(sum);
}

/* Knowledge distillation, backend.h: the CE of crossentropy_forward, then per kept row
 * KL(P_T || Q_T) = sum_v P_T (log P_T - log Q_T) from log-softmaxes (log P_T = z_t/T -
 * lse(z_t/T)), so a teacher probability that underflows to 0 adds 0 (torch's kl_div). */
LINKAGE void NAME(kd_forward_ref)(real *losses, real *probs, const real *logits, const real *tlogits,
                                  const int *targets, real alpha, real temp, int N, int V) {
    NAME(crossentropy_forward_ref)(losses, probs, logits, targets, N, V);
    for (int n = 0; n < N; n++) {
        if (targets[n] < 0) continue;  /* losses[n] is 0 already */
        const real *zs = logits + (size_t)n * V, *zt = tlogits + (size_t)n * V;
        real lse_s = NAME(logsumexp_temp_ref)(zs, temp, V), lse_t = NAME(logsumexp_temp_ref)(zt, temp, V);
        real kl = (real)0.0;
        for (int v = 0; v < V; v++) {
            real log_pt = zt[v] / temp - lse_t, log_qs = zs[v] / temp - lse_s;
            kl += exp(log_pt) * (log_pt - log_qs);
        }
        losses[n] = alpha * losses[n] + ((real)1.0 - alpha) * temp * temp * kl;
    }
}

LINKAGE void NAME(kd_backward_ref)(real *dlogits, const real *probs, const real *logits, const real *tlogits,
                                   const int *targets, real alpha, real temp, real scale, int N, int V) {
    for (int n = 0; n < N; n++) {
        const real *zs = logits + (size_t)n * V, *zt = tlogits + (size_t)n * V;
        real lse_s = (real)0.0, lse_t = (real)0.0;
        if (targets[n] >= 0) {
            lse_s = NAME(logsumexp_temp_ref)(zs, temp, V);
            lse_t = NAME(logsumexp_temp_ref)(zt, temp, V);
        }
        for (int v = 0; v < V; v++) {
            size_t i = (size_t)n * V + v;
            if (targets[n] < 0) { dlogits[i] = (real)0.0; continue; }
            real hard = probs[i] - (v == targets[n] ? (real)1.0 : (real)0.0);
            real soft = exp(zs[v] / temp - lse_s) - exp(zt[v] / temp - lse_t);  /* Q_T - P_T */
            dlogits[i] = (alpha * hard + ((real)1.0 - alpha) * temp * soft) * scale;
        }
    }
}

LINKAGE void NAME(encoder_forward_ref)(real *out, const int *tokens, const real *wte, const real *wpe, int B, int T,
                                int C) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int c = 0; c < C; c++)
                out[((size_t)b * T + t) * C + c] =
                    wte[(size_t)tokens[b * T + t] * C + c] + (wpe ? wpe[(size_t)t * C + c] : (real)0.0);
}

LINKAGE void NAME(encoder_backward_ref)(real *dwte, real *dwpe, const real *dout, const int *tokens, int B, int T,
                                 int C) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int c = 0; c < C; c++) {
                real d = dout[((size_t)b * T + t) * C + c];
                dwte[(size_t)tokens[b * T + t] * C + c] += d;
                if (dwpe) dwpe[(size_t)t * C + c] += d;
            }
}

LINKAGE void NAME(adamw_update_ref)(real *params, const real *grads, real *m, real *v, size_t n, real lr, real beta1,
                             real beta2, real eps, real wd, int t) {
    real bc1 = (real)1.0 - pow(beta1, (real)t), bc2 = (real)1.0 - pow(beta2, (real)t);
    for (size_t i = 0; i < n; i++) {
        real g = grads[i];
        m[i] = beta1 * m[i] + ((real)1.0 - beta1) * g;
        v[i] = beta2 * v[i] + ((real)1.0 - beta2) * g * g;
        real p = params[i] * ((real)1.0 - lr * wd);
        params[i] = p - lr * (m[i] / bc1) / (sqrt(v[i] / bc2) + eps);
    }
}

LINKAGE double NAME(sum_squares_ref)(const real *x, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return s;
}

LINKAGE void NAME(scale_ref)(real *x, real s, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] *= s;
}

#ifndef BB_REF_F64
const bb_backend bb_backend_ref = {
    .name = "ref",
    .matmul_forward = matmul_forward_ref,
    .matmul_backward = matmul_backward_ref,
    .layernorm_forward = layernorm_forward_ref,
    .layernorm_backward = layernorm_backward_ref,
    .rmsnorm_forward = rmsnorm_forward_ref,
    .rmsnorm_backward = rmsnorm_backward_ref,
    .gelu_forward = gelu_forward_ref,
    .gelu_backward = gelu_backward_ref,
    .swiglu_forward = swiglu_forward_ref,
    .swiglu_backward = swiglu_backward_ref,
    .rope_forward = rope_forward_ref,
    .rope_backward = rope_backward_ref,
    .attention_forward = attention_forward_ref,
    .attention_backward = attention_backward_ref,
    .residual_bias_forward = residual_bias_forward_ref,
    .crossentropy_forward = crossentropy_forward_ref,
    .crossentropy_backward = crossentropy_backward_ref,
    .kd_forward = kd_forward_ref,
    .kd_backward = kd_backward_ref,
    .encoder_forward = encoder_forward_ref,
    .encoder_backward = encoder_backward_ref,
    .adamw_update = adamw_update_ref,
    .sum_squares = sum_squares_ref,
    .scale = scale_ref,
};
#endif
