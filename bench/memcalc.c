/* memcalc.c — see memcalc.h. Mirrors the engine's tables: parameters, gradients and two
 * Adam moments (4 + 4 + 8 bytes per parameter, model.c), the fake-quant copy and packed
 * format of the quantized linears (precision.h), the activation table of ensure_acts and
 * the per-layer gradient scratch (model.c), the RoPE tables. */
#include "memcalc.h"
#include "../engine/model.h"
#include <string.h>

void bb_memcalc_weights_of(const bb_config *c, bb_memcalc_weights *o) {
    memset(o, 0, sizeof *o);
    bb_tensor_spec s[BB_N_PARAMS];
    bb_param_specs(c, s);
    const int q[] = {BB_P_QKVW, BB_P_ATTPROJW, BB_P_FCW, BB_P_FCPROJW};
    const bb_precision_traits *pt = &bb_precisions[c->precision];
    bb_prec_opts po = bb_config_prec_opts(c);
    double all = 0;
    for (int i = 0; i < BB_N_PARAMS; i++) all += (double)s[i].numel;
    for (int k = 0; k < 4; k++) {
        int OC = (int)s[q[k]].shape[1], Cin = (int)s[q[k]].shape[2];
        o->linear_params += (double)s[q[k]].numel;
        o->linear_bytes += (double)c->n_layer * (double)pt->packed_size(OC, Cin, &po);
    }
    o->other_params = all - o->linear_params;
    o->bits_per_weight = 8 * o->linear_bytes / o->linear_params;
    o->engine_bytes = o->linear_bytes + 4 * o->other_params;
    o->all_at_bits_bytes = all * o->bits_per_weight / 8;
}

void bb_memcalc_full(const bb_config *c, int B, int T, bool ckpt, bb_memcalc *o) {
    memset(o, 0, sizeof *o);
    bb_tensor_spec s[BB_N_PARAMS];
    bb_param_specs(c, s);
    double N = 0;
    for (int i = 0; i < BB_N_PARAMS; i++) N += (double)s[i].numel;
    o->n_params = N;
    o->parameters = 4 * N;
    o->gradients = 4 * N;
    o->optimizer = 8 * N;
    double L = c->n_layer, C = c->n_embd, NH = c->n_head, hd = C / NH, QKV = (NH + 2.0 * c->n_kv_head) * hd;
    double F = c->ffn_hidden, V = c->vocab_size, BT = (double)B * T;
    bool swiglu = c->family == BB_FAMILY_LLAMA, subln = bb_precisions[c->precision].subln;
    double FF1 = swiglu ? 2 * F : F;
    if (c->precision != BB_PREC_FP32) {
        const bb_precision_traits *pt = &bb_precisions[c->precision];
        bb_prec_opts po = bb_config_prec_opts(c);
        int q[] = {BB_P_QKVW, BB_P_ATTPROJW, BB_P_FCW, BB_P_FCPROJW};
        double fake = 0, packed = 0, exportb = 0;
        for (int k = 0; k < 4; k++) {
            int OC = (int)s[q[k]].shape[1], Cin = (int)s[q[k]].shape[2];
            fake += 4.0 * (double)s[q[k]].numel;
            packed += L * (double)((pt->packed_size(OC, Cin, &po) + 63) & ~(size_t)63);
            exportb += L * (double)(pt->storage_size ? pt->storage_size(OC, Cin) : pt->packed_size(OC, Cin, &po));
        }
        o->packed = fake + packed + 64 + 8.0 * 4 * L;  /* + alignment slack + the offset table */
        o->packed_export = exportb;
    }
    /* activations (model.c ensure_acts): per-layer buffers for L layers, or 1 with
     * block checkpointing; block outputs always for L layers */
    double Lk = ckpt ? 1 : L;
    /* the quantized linears' inputs ln1, atty, ln2, fch_act: fp32 per kept layer, or (fp16,
     * bf16: bb_model_half_acts) 16 bits per kept layer plus one fp32 working slot */
    bool half = bb_model_half_acts(c) && Lk >= 3;  /* as ensure_acts */
    double lin_in = 3 * BT * C + BT * F, lin_in_bytes = half ? 2 * Lk * lin_in + 4 * lin_in : 4 * Lk * lin_in;
    double per_layer = 2 * BT /*ln1 mean, rstd*/ + BT * QKV + B * NH * T * T + BT * C /*residual2*/ + 2 * BT +
                       BT * FF1;
    if (subln) per_layer += BT * C + BT + BT * F + BT;
    double acts = Lk * per_layer + L * BT * C /*residual3*/ + BT * C /*encoded*/ + BT * C + 2 * BT /*lnf*/ +
                  2 * BT * V /*logits, probs*/ + BT /*losses*/;
    o->activations = 4 * acts + lin_in_bytes + 2 * 4 * BT /*inputs, targets*/;
    double scratch = 2 * BT * C + BT * QKV + BT * C + BT * FF1 + BT * F + (subln ? BT * (C > F ? C : F) : 0);
    double rope = swiglu ? 2.0 * c->max_seq * (hd / 2) : 0;
    o->workspace = 4 * (scratch + rope);
    o->total = o->parameters + o->packed + o->gradients + o->optimizer + o->activations + o->workspace;
}
