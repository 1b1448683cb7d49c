/* memcalc.c — see memcalc.h. Mirrors the engine's tables: parameters, gradients and two
 * Adam moments (4 + 4 + 8 bytes per parameter, model.c), the fake-quant copy and packed
 * format of the quantized linears (precision.h), the activation table of ensure_acts and
 * the per-layer gradient scratch (model.c), the RoPE tables; for LoRA the frozen layout
 * of bb_model_init_frozen and the adapter tables of lora.c. */
#include "memcalc.h"
#include "../engine/model.h"
#include <string.h>

static const int quantized[] = {BB_P_QKVW, BB_P_ATTPROJW, BB_P_FCW, BB_P_FCPROJW};

/* The packed formats of every quantized matrix (alloc_packed in model.c): each layer's
 * rounded up to 64 bytes, 64 bytes of slack and the (4, L) offset table. */
static double packed_bytes(const bb_config *c, const bb_tensor_spec *s, double *export_bytes) {
    const bb_precision_traits *pt = &bb_precisions[c->precision];
    bb_prec_opts po = {.group = c->group, .act = c->act_quant};
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
 * checkpointing; block outputs always for L layers; plus the token ids */
static double activation_bytes(const bb_config *c, int B, int T, bool ckpt) {
    double L = c->n_layer, C = c->n_embd, NH = c->n_head, hd = C / NH, QKV = (NH + 2.0 * c->n_kv_head) * hd;
    double F = c->ffn_hidden, V = c->vocab_size, BT = (double)B * T;
    bool swiglu = c->family == BB_FAMILY_LLAMA, subln = bb_precisions[c->precision].subln;
    double FF1 = swiglu ? 2 * F : F, Lk = ckpt ? 1 : L;
    double per_layer = BT * C /*ln1*/ + 2 * BT /*mean, rstd*/ + BT * QKV + BT * C /*atty*/ + B * NH * T * T +
                       BT * C /*residual2*/ + BT * C /*ln2*/ + 2 * BT + BT * FF1 + BT * F;
    if (subln) per_layer += BT * C + BT + BT * F + BT;
    double acts = Lk * per_layer + L * BT * C /*residual3*/ + BT * C /*encoded*/ + BT * C + 2 * BT /*lnf*/ +
                  2 * BT * V /*logits, probs*/ + BT /*losses*/;
    return 4 * acts + 2 * 4 * BT /*inputs, targets*/;
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
    o->activations = activation_bytes(c, B, T, ckpt);
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
    o->activations = activation_bytes(c, B, T, ckpt) + 4 * h + masks;
    o->workspace = workspace_bytes(c, B, T) + 4 * (BT * r + (lc->dropout > 0 ? BT * max_in : 0));
    sum_total(o);
}
