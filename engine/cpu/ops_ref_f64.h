/* ops_ref_f64.h — the scalar reference ops compiled in double (see ops_ref.c), for
 * finite-difference gradient checks. Same arguments as backend.h with double for float. */
#pragma once
#include "../backend.h"
#include <stddef.h>

void matmul_forward_ref_f64(double *out, const double *inp, const double *weight, const double *bias, int N, int C, int OC, int accumulate);
void matmul_backward_ref_f64(double *dinp, double *dweight, double *dbias, const double *dout, const double *inp, const double *weight, int N, int C, int OC);
void layernorm_forward_ref_f64(double *out, double *mean, double *rstd, const double *inp, const double *weight, const double *bias, int N, int C, double eps);
void layernorm_backward_ref_f64(double *dinp, double *dweight, double *dbias, const double *dout, const double *inp, const double *weight, const double *mean, const double *rstd, int N, int C);
void rmsnorm_forward_ref_f64(double *out, double *rstd, const double *inp, const double *weight, int N, int C, double eps);
void rmsnorm_backward_ref_f64(double *dinp, double *dweight, const double *dout, const double *inp, const double *weight, const double *rstd, int N, int C);
void gelu_forward_ref_f64(double *out, const double *inp, int N, int F);
void gelu_backward_ref_f64(double *dinp, const double *inp, const double *dout, int N, int F);
void swiglu_forward_ref_f64(double *out, const double *inp, int N, int F);
void swiglu_backward_ref_f64(double *dinp, const double *inp, const double *dout, int N, int F);
void rope_apply_ref_f64(double *qkv, const double *cos, const double *sin, int B, int T, int NH, int NKV, int hd, double sign);
void rope_forward_ref_f64(double *qkv, const double *cos, const double *sin, int B, int T, int NH, int NKV, int hd);
void rope_backward_ref_f64(double *dqkv, const double *cos, const double *sin, int B, int T, int NH, int NKV, int hd);
void attention_forward_ref_f64(double *out, void *att, const double *qkv, int B, int T, int NH, int NKV, int hd,
                               bb_att_fmt fmt);
void attention_backward_ref_f64(double *dqkv, const double *dout, const double *qkv, const void *att, int B, int T,
                                int NH, int NKV, int hd, bb_att_fmt fmt);
void residual_bias_forward_ref_f64(double *out, const double *x, const double *bias, int N, int C);
void crossentropy_forward_ref_f64(double *losses, double *probs, const double *logits, const int *targets, int N, int V);
void crossentropy_backward_ref_f64(double *dlogits, const double *probs, const int *targets, double scale, int N, int V);
void kd_forward_ref_f64(double *losses, double *probs, const double *logits, const double *tlogits, const int *targets, double alpha, double temp, int N, int V);
void kd_backward_ref_f64(double *dlogits, const double *probs, const double *logits, const double *tlogits, const int *targets, double alpha, double temp, double scale, int N, int V);
void encoder_forward_ref_f64(double *out, const int *tokens, const double *wte, const double *wpe, int B, int T, int C);
void encoder_backward_ref_f64(double *dwte, double *dwpe, const double *dout, const int *tokens, int B, int T, int C);
void adamw_update_ref_f64(double *params, const double *grads, double *m, double *v, size_t n, double lr, double beta1, double beta2, double eps, double wd, int t);
double sum_squares_ref_f64(const double *x, size_t n);
void scale_ref_f64(double *x, double s, size_t n);
