/* memcalc.c — see memcalc.h. Mirrors the engine's tables: parameters, gradients and two
 * Adam moments (4 + 4 + 8 bytes per parameter, model.c), the fake-quant copy and packed
 * format of the quantized linears (precision.h), the activation table of ensure_acts and
 * the per-layer gradient scratch (model.c), the RoPE tables; for KD the teacher's
 * forward-only tables (model.h bb_model_opts, engine/distill.h); for LoRA the frozen
 * layout of bb_model_init_frozen and the adapter tables of lora.c. */
#include "memcalc.h"
#include "../engine/cpu/attention.h"
#include "../engine/model.h"
#include <math.h>
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

/* The fake-quant copies and packed formats of the quantized linears, with the alignment
 * slack and the offset table of model.c; 0 at FP32. *export_bytes: the packed export. */
static double packed_bytes(const bb_config *c, const bb_tensor_spec *s, double *export_bytes) {
    *export_bytes = 0;
    if (c->precision == BB_PREC_FP32) return 0;
    const bb_precision_traits *pt = &bb_precisions[c->precision];
    bb_prec_opts po = bb_config_prec_opts(c);
    int q[] = {BB_P_QKVW, BB_P_ATTPROJW, BB_P_FCW, BB_P_FCPROJW};
    double L = c->n_layer, fake = 0, packed = 0;
    for (int k = 0; k < 4; k++) {
        int OC = (int)s[q[k]].shape[1], Cin = (int)s[q[k]].shape[2];
        fake += 4.0 * (double)s[q[k]].numel;
        packed += L * (double)((pt->packed_size(OC, Cin, &po) + 63) & ~(size_t)63);
        *export_bytes += L * (double)(pt->storage_size ? pt->storage_size(OC, Cin) : pt->packed_size(OC, Cin, &po));
    }
    /* the fake-quant head and embedding (model.c head_q, embed_q; one matrix when a tied head
     * and the embedding are both quantized), packed in the export only */
    bool tied = s[BB_P_LMHEAD].numel == 0;  /* the family's tied head (bb_param_specs) */
    int tables = c->quant_head + (c->quant_embed && !(c->quant_head && tied));
    int V = c->vocab_size, C = c->n_embd;
    fake += 4.0 * V * C * tables;
    *export_bytes += tables * (double)(pt->storage_size ? pt->storage_size(V, C) : pt->packed_size(V, C, &po));
    return fake + packed + 64 + 8.0 * 4 * L;  /* + alignment slack + the offset table */
}

/* Floats of one layer's slot in the activation table (model.c ensure_acts) other than the
 * 16-bit storable (ln1, qkv, atty, ln2, fch, fch_act) and the block output residual3; att:
 * with the attention probabilities (not with selective recomputation, nor in a model that
 * never runs backward), which fp16/bf16 keep in 16 bits (half a float each, att_h). */
static double layer_slot_floats(const bb_config *c, int B, int T, bool att) {
    double C = c->n_embd, NH = c->n_head, F = c->ffn_hidden, BT = (double)B * T;
    double att_floats = (bb_model_att_fmt(c) == BB_ATT_F32 ? 1.0 : 0.5) * B * NH * T * T;
    double slot = 2 * BT /*ln1 mean, rstd*/ + (att ? att_floats : 0) + BT * C /*residual2*/ + 2 * BT;
    if (bb_precisions[c->precision].subln) slot += BT * C + BT + BT * F + BT;
    return slot;
}

/* The activations of one layer that fp16/bf16 keep in 16 bits (model.h bb_acts): the
 * quantized linears' inputs ln1, atty, ln2 (C each) and fch_act (F), and the linear
 * outputs qkv (QKV) and fch (FF1). */
static double qkv_width(const bb_config *c) {
    return ((double)c->n_head + 2.0 * c->n_kv_head) * ((double)c->n_embd / c->n_head);
}
static double ff1_width(const bb_config *c) {  /* SwiGLU: [gate | up] */
    return c->family == BB_FAMILY_LLAMA ? 2.0 * c->ffn_hidden : c->ffn_hidden;
}
static double half_storable_floats(const bb_config *c, int B, int T) {
    return (double)B * T * (3.0 * c->n_embd + c->ffn_hidden + qkv_width(c) + ff1_width(c));
}

static double rope_bytes(const bb_config *c) {
    double hd = (double)c->n_embd / c->n_head;
    return c->family == BB_FAMILY_LLAMA ? 4 * 2.0 * c->max_seq * (hd / 2) : 0;
}

/* The backward's per-layer gradient scratch (model.c ensure_acts gs). */
static double scratch_floats(const bb_config *c, int B, int T) {
    double C = c->n_embd, NH = c->n_head, hd = C / NH, QKV = (NH + 2.0 * c->n_kv_head) * hd;
    double F = c->ffn_hidden, BT = (double)B * T, FF1 = c->family == BB_FAMILY_LLAMA ? 2 * F : F;
    bool subln = bb_precisions[c->precision].subln;
    return 2 * BT * C + BT * QKV + BT * C + BT * FF1 + BT * F + (subln ? BT * (C > F ? C : F) : 0);
}

static double n_params(const bb_config *c, bb_tensor_spec s[BB_N_PARAMS]) {
    bb_param_specs(c, s);
    double N = 0;
    for (int i = 0; i < BB_N_PARAMS; i++) N += (double)s[i].numel;
    return N;
}

/* The CPU attention backward's transient row blocks per thread (engine/cpu/attention.h). */
static double att_scratch_bytes(const bb_config *c, int T, bb_ckpt_mode ckpt) {
    bool half = bb_model_att_fmt(c) != BB_ATT_F32;
    return 4.0 * (double)bb_attention_cpu_scratch_floats(T, true, ckpt == BB_CKPT_SELECTIVE, half);
}

void bb_memcalc_full(const bb_config *c, int B, int T, bb_ckpt_mode ckpt, bb_memcalc *o) {
    memset(o, 0, sizeof *o);
    bb_tensor_spec s[BB_N_PARAMS];
    double N = n_params(c, s);
    o->n_params = N;
    o->parameters = 4 * N;
    o->gradients = 4 * N;
    o->optimizer = 8 * N;
    o->packed = packed_bytes(c, s, &o->packed_export);
    double L = c->n_layer, C = c->n_embd, V = c->vocab_size, BT = (double)B * T;
    /* activations (model.c ensure_acts): per-layer buffers for L layers, or 1 with
     * block checkpointing; block outputs always for L layers; the attention
     * probabilities in every kept layer but with selective recomputation */
    double Lk = ckpt == BB_CKPT_BLOCK ? 1 : L;
    bool att = ckpt != BB_CKPT_SELECTIVE;
    /* ln1, qkv, atty, ln2, fch, fch_act: fp32 per kept layer, or (fp16, bf16:
     * bb_model_half_acts) 16 bits per kept layer plus two fp32 working buffers, one as
     * wide as max(C, F), one as max(QKV, FF1), where that takes fewer bytes; the working
     * buffers are the gradient scratch's dfch_act and dfch when F >= C, FF1 >= QKV and
     * dqkv holds a row of fch, B T QKV >= FF1 (ensure_acts: borrow) */
    double lin_in = half_storable_floats(c, B, T), lin_in_bytes = 4 * Lk * lin_in;
    double working = 4 * BT * (fmax(C, c->ffn_hidden) + fmax(qkv_width(c), ff1_width(c)));
    bool borrow = c->ffn_hidden >= C && ff1_width(c) >= qkv_width(c) && BT * qkv_width(c) >= ff1_width(c);
    bool half = bb_model_half_acts(c) && 2 * Lk * lin_in + working < lin_in_bytes;  /* as ensure_acts */
    if (half) lin_in_bytes = 2 * Lk * lin_in + (borrow ? 0 : working);
    double acts = Lk * layer_slot_floats(c, B, T, att) + L * BT * C /*residual3*/ + BT * C /*encoded*/ + BT * C +
                  2 * BT /*lnf*/ + BT * V /*logits, the probabilities over them (logits_in_place)*/ + BT /*losses*/;
    /* half_residual with borrowed working buffers: residual2 and residual3 in 16 bits (not
     * with block checkpointing) */
    double residual16 = half && borrow && c->half_residual && ckpt != BB_CKPT_BLOCK ? (Lk + L) * BT * C : 0;
    o->activations = 4 * (acts - residual16) + 2 * residual16 + lin_in_bytes + 2 * 4 * BT /*inputs, targets*/;
    /* of them in 16 bits (model.c acts_half_mem): the six per layer, the probabilities
     * (fp16/bf16 keep them in 16 bits whenever they keep them) and the residual stream */
    double att16 = att && bb_model_att_fmt(c) != BB_ATT_F32 ? Lk * B * (double)c->n_head * T * T : 0;
    o->activations_16bit = 2 * ((half ? Lk * lin_in : 0) + att16 + residual16);
    o->workspace = 4 * scratch_floats(c, B, T) + rope_bytes(c);
    o->att_scratch_per_thread = att_scratch_bytes(c, T, ckpt);
    o->total = o->parameters + o->packed + o->gradients + o->optimizer + o->activations + o->workspace;
}

double bb_memcalc_teacher(const bb_config *t, int B, int T) {
    bb_tensor_spec s[BB_N_PARAMS];
    double N = n_params(t, s), export_bytes, BT = (double)B * T, C = t->n_embd, V = t->vocab_size;
    /* forward-only tables: one layer slot (fp32: 16-bit storage pays from 2 kept
     * layers), one block output, the logits; no attention probabilities, probs or losses */
    double acts = layer_slot_floats(t, B, T, false) + half_storable_floats(t, B, T) + BT * C /*residual3*/ +
                  BT * C /*encoded*/ + BT * C + 2 * BT /*lnf*/ + BT * V /*logits*/;
    return 4 * N + packed_bytes(t, s, &export_bytes) + 4 * acts + 2 * 4 * BT /*inputs, targets*/ + rope_bytes(t);
}

void bb_memcalc_kd(const bb_config *student, const bb_config *teacher, int B, int T, bb_ckpt_mode ckpt,
                   bb_memcalc *out) {
    bb_memcalc_full(student, B, T, ckpt, out);
    /* the distillation loss's backward reads the logits and the probabilities: both kept */
    double probs = 4.0 * B * T * student->vocab_size;
    out->activations += probs;
    out->total += probs;
    out->teacher = bb_memcalc_teacher(teacher, B, T);
    out->total += out->teacher;
}

void bb_memcalc_lora(const bb_config *c, const bb_lora_config *lc, int B, int T, bb_ckpt_mode ckpt, bb_memcalc *o) {
    memset(o, 0, sizeof *o);
    bb_tensor_spec s[BB_N_PARAMS];
    double N = n_params(c, s), frozen = N, L = c->n_layer, C = c->n_embd, V = c->vocab_size, BT = (double)B * T;
    double Lk = ckpt == BB_CKPT_BLOCK ? 1 : L, r = lc->r;
    o->n_params = N;
    /* the base: every quantized linear in its packed format only (fp32's is W itself),
     * rounded up to 64 bytes a matrix, + slack and the offset table (model.c alloc_packed) */
    const bb_precision_traits *pt = &bb_precisions[c->precision];
    bb_prec_opts po = bb_config_prec_opts(c);
    const int q[] = {BB_P_QKVW, BB_P_ATTPROJW, BB_P_FCW, BB_P_FCPROJW};
    for (int k = 0; k < 4; k++) {
        int OC = (int)s[q[k]].shape[1], Cin = (int)s[q[k]].shape[2];
        o->packed += L * (double)((pt->packed_size(OC, Cin, &po) + 63) & ~(size_t)63);
        o->packed_export += L * (double)(pt->storage_size ? pt->storage_size(OC, Cin) : pt->packed_size(OC, Cin, &po));
        frozen -= (double)s[q[k]].numel;
    }
    o->packed += 64 + 8.0 * 4 * L;
    o->frozen = 4 * frozen;
    /* per adapted linear: A (r, in) + B (out, r); h (N, r) per kept layer; dropout masks
     * (N, in) bytes; scratch N r + (dropout) N max(in) floats (lora.c) */
    double adapters = 0, h = 0, masks = 0, max_in = 0;
    for (int k = 0; k < 4; k++) {
        if (!(lc->targets & (1u << k))) continue;
        double out = (double)s[q[k]].shape[1], in = (double)s[q[k]].shape[2];
        adapters += L * r * (in + out);
        h += Lk * BT * r;
        masks += lc->dropout > 0 ? Lk * BT * in : 0;
        max_in = in > max_in ? in : max_in;
    }
    o->n_trainable = adapters;
    o->adapters = 4 * adapters;
    o->adapter_grads = 4 * adapters;
    o->adapter_optim = 8 * adapters;
    /* the full method's table with the 16-bit storable in fp32 for every kept layer (fp32_acts) */
    bool att = ckpt != BB_CKPT_SELECTIVE;
    double acts = Lk * (layer_slot_floats(c, B, T, att) + half_storable_floats(c, B, T)) + L * BT * C /*residual3*/ +
                  BT * C /*encoded*/ + BT * C + 2 * BT /*lnf*/ + BT * V /*logits = probs (logits_in_place)*/ +
                  BT /*losses*/;
    o->activations = 4 * acts + 2 * 4 * BT /*inputs, targets*/ + 4 * h + masks;
    o->workspace = 4 * scratch_floats(c, B, T) + rope_bytes(c) + 4 * (BT * r + (lc->dropout > 0 ? BT * max_in : 0));
    o->att_scratch_per_thread = att_scratch_bytes(c, T, ckpt);
    o->total = o->packed + o->frozen + o->adapters + o->adapter_grads + o->adapter_optim + o->activations + o->workspace;
}
