/* memcalc.c — see memcalc.h. Mirrors the engine's tables: parameters, gradients and two
 * Adam moments (4 + 4 + 8 bytes per parameter, model.c), the fake-quant copy and packed
 * format of the quantized linears (precision.h), the activation table of ensure_acts and
 * the per-layer gradient scratch (model.c), the RoPE tables; for LoRA the frozen layout
 * of bb_model_init_frozen and the adapter tables of lora.c. */
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

static const int quantized[] = {BB_P_QKVW, BB_P_ATTPROJW, BB_P_FCW, BB_P_FCPROJW};

/* The packed formats of every quantized matrix (alloc_packed in model.c): each layer's
 * rounded up to 64 bytes, 64 bytes of slack and the (4, L) offset table. */
static double packed_bytes(const bb_config *c, const bb_tensor_spec *s, double *export_bytes) {
    const bb_precision_traits *pt = &bb_precisions[c->precision];
    bb_prec_opts po = bb_config_prec_opts(c);
    double L = c->n_layer, packed = 0, exportb = 0;
    for (int k = 0; k < 4; k++) {
        int OC = (int)s[quantized[k]].shape[1], Cin = (int)s[quantized[k]].shape[2];
        packed += L * (double)((pt->packed_size(OC, Cin, &po) + 63) & ~(size_t)63);
        exportb += L * (double)(pt->storage_size ? pt->storage_size(OC, Cin) : pt->packed_size(OC, Cin, &po));
    }
    if (export_bytes) *export_bytes = exportb;
    return packed + 64 + 8.0 * 4 * L;
}

/* activations (model.c ensure_acts): per-layer buffers for L layers, or 1 with block
 * checkpointing; block outputs always for L layers; plus the token ids. may_half: the
 * quantized linears' inputs ln1, atty, ln2, fch_act may be kept in 16 bits (fp16, bf16
 * full training: bb_model_half_acts) with one fp32 working slot; a LoRA base keeps them
 * in fp32 (the adapters read them). */
static double activation_bytes(const bb_config *c, int B, int T, bool ckpt, bool may_half) {
    double L = c->n_layer, C = c->n_embd, NH = c->n_head, hd = C / NH, QKV = (NH + 2.0 * c->n_kv_head) * hd;
    double F = c->ffn_hidden, V = c->vocab_size, BT = (double)B * T;
    bool swiglu = c->family == BB_FAMILY_LLAMA, subln = bb_precisions[c->precision].subln;
    double FF1 = swiglu ? 2 * F : F, Lk = ckpt ? 1 : L;
    bool half = may_half && bb_model_half_acts(c) && Lk >= 3;  /* as ensure_acts */
    double lin_in = 3 * BT * C + BT * F, lin_in_bytes = half ? 2 * Lk * lin_in + 4 * lin_in : 4 * Lk * lin_in;
    double per_layer = 2 * BT /*ln1 mean, rstd*/ + BT * QKV + B * NH * T * T + BT * C /*residual2*/ + 2 * BT +
                       BT * FF1;
    if (subln) per_layer += BT * C + BT + BT * F + BT;
    double acts = Lk * per_layer + L * BT * C /*residual3*/ + BT * C /*encoded*/ + BT * C + 2 * BT /*lnf*/ +
                  2 * BT * V /*logits, probs*/ + BT /*losses*/;
    return 4 * acts + lin_in_bytes + 2 * 4 * BT /*inputs, targets*/;
}

/* the backward's per-layer gradient scratch and the RoPE tables */
static double workspace_bytes(const bb_config *c, int B, int T) {
    double C = c->n_embd, NH = c->n_head, hd = C / NH, QKV = (NH + 2.0 * c->n_kv_head) * hd;
    double F = c->ffn_hidden, BT = (double)B * T;
    bool swiglu = c->family == BB_FAMILY_LLAMA, subln = bb_precisions[c->precision].subln;
    double FF1 = swiglu ? 2 * F : F;
    double scratch = 2 * BT * C + BT * QKV + BT * C + BT * FF1 + BT * F + (subln ? BT * (C > F ? C : F) : 0);
    double rope = swiglu ? 2.0 * c->max_seq * (hd / 2) : 0;
    return 4 * (scratch + rope);
}

static void sum_total(bb_memcalc *o) {
    o->total = o->parameters + o->packed + o->gradients + o->optimizer + o->activations + o->workspace + o->frozen +
               o->adapters + o->adapter_grads + o->adapter_optim;
}

void bb_memcalc_full(const bb_config *c, int B, int T, bool ckpt, bb_memcalc *o) {
    memset(o, 0, sizeof *o);
    bb_tensor_spec s[BB_N_PARAMS];
    bb_param_specs(c, s);
    double N = 0;
    for (int i = 0; i < BB_N_PARAMS; i++) N += (double)s[i].numel;
    o->n_params = o->n_trainable = N;
    o->parameters = 4 * N;
    o->gradients = 4 * N;
    o->optimizer = 8 * N;
    if (c->precision != BB_PREC_FP32) {
        double fake = 0;
        for (int k = 0; k < 4; k++) fake += 4.0 * (double)s[quantized[k]].numel;
        o->packed = fake + packed_bytes(c, s, &o->packed_export);
    }
    o->activations = activation_bytes(c, B, T, ckpt, true);
    o->workspace = workspace_bytes(c, B, T);
    sum_total(o);
}

void bb_memcalc_lora(const bb_config *c, const bb_lora_config *lc, int B, int T, bool ckpt, bb_memcalc *o) {
    memset(o, 0, sizeof *o);
    bb_tensor_spec s[BB_N_PARAMS];
    bb_param_specs(c, s);
    double frozen = 0, N = 0, BT = (double)B * T, r = lc->r, Lk = ckpt ? 1 : c->n_layer, L = c->n_layer;
    for (int i = 0; i < BB_N_PARAMS; i++) {
        N += (double)s[i].numel;
        bool q = i == BB_P_QKVW || i == BB_P_ATTPROJW || i == BB_P_FCW || i == BB_P_FCPROJW;
        if (!q) frozen += (double)s[i].numel;
    }
    o->n_params = N;
    o->frozen = 4 * frozen;
    o->packed = packed_bytes(c, s, &o->packed_export);
    /* per adapted linear: A (r, in) + B (out, r); h (N, r) per kept layer; dropout masks
     * (N, in) bytes; scratch N r + (dropout) N max(in) floats (lora.c) */
    double adapters = 0, h = 0, masks = 0, max_in = 0;
    for (int k = 0; k < 4; k++) {
        if (!(lc->targets & (1u << k))) continue;
        double out = (double)s[quantized[k]].shape[1], in = (double)s[quantized[k]].shape[2];
        adapters += L * r * (in + out);
        h += Lk * BT * r;
        masks += lc->dropout > 0 ? Lk * BT * in : 0;
        max_in = in > max_in ? in : max_in;
    }
    o->n_trainable = adapters;
    o->adapters = 4 * adapters;
    o->adapter_grads = 4 * adapters;
    o->adapter_optim = 8 * adapters;
    o->activations = activation_bytes(c, B, T, ckpt, false) + 4 * h + masks;
    o->workspace = workspace_bytes(c, B, T) + 4 * (BT * r + (lc->dropout > 0 ? BT * max_in : 0));
    sum_total(o);
}
