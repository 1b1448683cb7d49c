/* model.c — parameter/activation tables and the shared block code path (model.h).
 * The family table below is the only place the two families differ. */
#include "../common/parallel.h"
#include "model.h"
#include "../common/check.h"
#include "alloc.h"
#include "cpu/isa.h"
#include "lora.h"
#include "model_internal.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

const bb_family_traits_t bb_family_traits[BB_FAMILY_COUNT] = {
    [BB_FAMILY_GPT2] = {.biases = true, .layernorm = true, .learned_pos = true, .swiglu = false, .tied_head = true},
    [BB_FAMILY_LLAMA] = {.biases = false, .layernorm = false, .learned_pos = false, .swiglu = true, .tied_head = false},
};

const char *const bb_ckpt_names[BB_CKPT_COUNT] = {
    [BB_CKPT_NONE] = "none", [BB_CKPT_SELECTIVE] = "selective", [BB_CKPT_BLOCK] = "block"};

int bb_ckpt_parse(const char *s) {
    for (int i = 0; i < BB_CKPT_COUNT; i++)
        if (strcmp(s, bb_ckpt_names[i]) == 0) return i;
    return -1;
}

static void spec(bb_tensor_spec *s, const char *name, bool present, bool decay, int ndim, size_t d0, size_t d1,
                 size_t d2) {
    s->name = name;
    s->ndim = ndim;
    s->shape[0] = d0; s->shape[1] = d1; s->shape[2] = d2;
    s->numel = present ? d0 * (ndim > 1 ? d1 : 1) * (ndim > 2 ? d2 : 1) : 0;
    s->weight_decay = decay;
}

void bb_param_specs(const bb_config *c, bb_tensor_spec s[BB_N_PARAMS]) {
    const bb_family_traits_t *f = &bb_family_traits[c->family];
    size_t L = (size_t)c->n_layer, C = (size_t)c->n_embd, V = (size_t)c->vocab_size, T = (size_t)c->max_seq;
    size_t hd = C / (size_t)c->n_head, QKV = ((size_t)c->n_head + 2 * (size_t)c->n_kv_head) * hd;
    size_t F = (size_t)c->ffn_hidden, FF1 = f->swiglu ? 2 * F : F;
    bool b = f->biases;
    spec(&s[BB_P_WTE], "wte", true, true, 2, V, C, 0);
    spec(&s[BB_P_WPE], "wpe", f->learned_pos, true, 2, T, C, 0);
    spec(&s[BB_P_LN1W], "ln1w", true, false, 2, L, C, 0);
    spec(&s[BB_P_LN1B], "ln1b", b, false, 2, L, C, 0);
    spec(&s[BB_P_QKVW], "qkvw", true, true, 3, L, QKV, C);
    spec(&s[BB_P_QKVB], "qkvb", b, false, 2, L, QKV, 0);
    spec(&s[BB_P_ATTPROJW], "attprojw", true, true, 3, L, C, C);
    spec(&s[BB_P_ATTPROJB], "attprojb", b, false, 2, L, C, 0);
    spec(&s[BB_P_LN2W], "ln2w", true, false, 2, L, C, 0);
    spec(&s[BB_P_LN2B], "ln2b", b, false, 2, L, C, 0);
    spec(&s[BB_P_FCW], "fcw", true, true, 3, L, FF1, C);
    spec(&s[BB_P_FCB], "fcb", b, false, 2, L, FF1, 0);
    spec(&s[BB_P_FCPROJW], "fcprojw", true, true, 3, L, C, F);
    spec(&s[BB_P_FCPROJB], "fcprojb", b, false, 2, L, C, 0);
    spec(&s[BB_P_LNFW], "lnfw", true, false, 1, C, 0, 0);
    spec(&s[BB_P_LNFB], "lnfb", b, false, 1, C, 0, 0);
    spec(&s[BB_P_LMHEAD], "lm_head", !f->tied_head, true, 2, V, C, 0);
    bool subln = bb_precisions[c->precision].subln;
    spec(&s[BB_P_SUBLN_ATTW], "subln_attw", subln, false, 2, L, C, 0);
    spec(&s[BB_P_SUBLN_FFNW], "subln_ffnw", subln, false, 2, L, F, 0);
}

/* The quantized linears of a block (precision.h). */
const int bb_quantized_params[BB_N_QUANTIZED] = {BB_P_QKVW, BB_P_ATTPROJW, BB_P_FCW, BB_P_FCPROJW};
#define quantized_params bb_quantized_params
#define N_QUANTIZED BB_N_QUANTIZED

static bool is_quantized(int i) {
    for (int k = 0; k < N_QUANTIZED; k++)
        if (quantized_params[k] == i) return true;
    return false;
}

/* Carves one block into the pointer table; absent tensors get NULL. */
static void carve(bb_param_ptrs *p, float *mem, const bb_tensor_spec *s) {
    for (int i = 0; i < BB_N_PARAMS; i++) {
        p->t[i] = s[i].numel ? mem : NULL;
        mem += s[i].numel;
    }
}

/* The category a table of this model is charged to (bb_model_opts.mem_charge). */
static bb_mem_category charge(const bb_model *m, bb_mem_category cat) {
    return m->mem_charge == BB_MEM_COUNT ? cat : m->mem_charge;
}
static void init_rope(bb_model *m);
static void alloc_packed(bb_model *m);

int bb_model_init(bb_model *m, const bb_config *cfg, const bb_backend *be, bool training, char *err, size_t err_len) {
    bb_model_opts o = {.training = training, .forward_only = false, .mem_charge = BB_MEM_COUNT};
    return bb_model_init_opts(m, cfg, be, &o, err, err_len);
}

int bb_model_init_opts(bb_model *m, const bb_config *cfg, const bb_backend *be, const bb_model_opts *opts, char *err,
                       size_t err_len) {
    memset(m, 0, sizeof *m);
    if (bb_config_validate(cfg, err, err_len) != 0) return -1;
    BB_CHECK(!(opts->training && opts->forward_only) && opts->mem_charge >= 0 && opts->mem_charge <= BB_MEM_COUNT);
    m->cfg = *cfg;
    m->be = be;
    m->mean_loss = NAN;
    m->forward_only = opts->forward_only;
    m->mem_charge = opts->mem_charge;
    bb_param_specs(cfg, m->specs);
    for (int i = 0; i < BB_N_PARAMS; i++) m->n_params += m->specs[i].numel;
    m->params_mem = bb_alloc(charge(m, BB_MEM_PARAMS), m->n_params * sizeof(float));
    carve(&m->params, m->params_mem, m->specs);
    if (opts->training) {
        m->grads_mem = bb_alloc(charge(m, BB_MEM_GRADS), m->n_params * sizeof(float));
        m->m_mem = bb_alloc(charge(m, BB_MEM_OPTIM), m->n_params * sizeof(float));
        m->v_mem = bb_alloc(charge(m, BB_MEM_OPTIM), m->n_params * sizeof(float));
        carve(&m->grads, m->grads_mem, m->specs);
        carve(&m->m, m->m_mem, m->specs);
        carve(&m->v, m->v_mem, m->specs);
    }
    m->quant_lambda = 1.0f;
    if (cfg->precision != BB_PREC_FP32) {
        bb_tensor_spec qs[BB_N_PARAMS];
        size_t nq = 0;
        for (int i = 0; i < BB_N_PARAMS; i++) qs[i] = m->specs[i], qs[i].numel = 0;
        for (int k = 0; k < N_QUANTIZED; k++) {
            qs[quantized_params[k]].numel = m->specs[quantized_params[k]].numel;
            nq += qs[quantized_params[k]].numel;
        }
        m->wq_mem = bb_alloc(charge(m, BB_MEM_PACKED), nq * sizeof(float));
        carve(&m->wq, m->wq_mem, qs);
        alloc_packed(m);
    }
    /* filled by bb_model_requantize or a packed file's loader */
    size_t vc = (size_t)cfg->vocab_size * cfg->n_embd * sizeof(float);
    if (cfg->quant_head) m->head_q = bb_alloc(charge(m, BB_MEM_PACKED), vc);
    if (cfg->quant_embed)
        m->embed_q = cfg->quant_head && bb_family_traits[cfg->family].tied_head ? m->head_q
                                                                                : bb_alloc(charge(m, BB_MEM_PACKED), vc);
    init_rope(m);
    return 0;
}

static void init_rope(bb_model *m) {
    const bb_config *cfg = &m->cfg;
    if (!bb_family_traits[cfg->family].learned_pos) {
        /* RoPE tables: inv_freq_i = theta^(-2i/hd) (Su et al. 2021, eq. 15). */
        int hd = cfg->n_embd / cfg->n_head, half = hd / 2;
        m->rope_cos = bb_alloc(charge(m, BB_MEM_WORKSPACE), (size_t)cfg->max_seq * half * sizeof(float));
        m->rope_sin = bb_alloc(charge(m, BB_MEM_WORKSPACE), (size_t)cfg->max_seq * half * sizeof(float));
        for (int t = 0; t < cfg->max_seq; t++)
            for (int i = 0; i < half; i++) {
                double inv_freq = pow((double)cfg->rope_theta, -2.0 * i / hd), a = t * inv_freq;
                m->rope_cos[t * half + i] = (float)cos(a);
                m->rope_sin[t * half + i] = (float)sin(a);
            }
    }
}

/* The packed compute format of every quantized matrix, one per layer. */
static void alloc_packed(bb_model *m) {
    const bb_config *cfg = &m->cfg;
    const bb_precision_traits *pt = &bb_precisions[cfg->precision];
    bb_prec_opts o = bb_config_prec_opts(cfg);
    int L = cfg->n_layer;
    m->packed_off = bb_alloc(charge(m, BB_MEM_PACKED), (size_t)N_QUANTIZED * L * sizeof(size_t));
    size_t total = 0;
    for (int k = 0; k < N_QUANTIZED; k++) {
        const bb_tensor_spec *s = &m->specs[quantized_params[k]];
        size_t bytes = (pt->packed_size((int)s->shape[1], (int)s->shape[2], &o) + 63) & ~(size_t)63;
        for (int l = 0; l < L; l++, total += bytes) m->packed_off[k * L + l] = total;
    }
    m->packed_mem = bb_alloc(charge(m, BB_MEM_PACKED), total + 64);
    m->use_kernels = true;
}

int bb_model_init_frozen(bb_model *m, const bb_config *cfg, const bb_backend *be, char *err, size_t err_len) {
    memset(m, 0, sizeof *m);
    if (bb_config_validate(cfg, err, err_len) != 0) return -1;
    m->cfg = *cfg;
    m->be = be;
    m->mean_loss = NAN;
    m->quant_lambda = 1.0f;
    m->mem_charge = BB_MEM_COUNT;  /* each table in its own category */
    if (cfg->quant_head || cfg->quant_embed) {
        snprintf(err, err_len, "a LoRA base with a quantized %s is not supported: it stays FP32",
                 cfg->quant_head ? "LM head (quant_head)" : "embedding (quant_embed)");
        return -1;
    }
    m->frozen_base = true;
    m->frozen_quant = true;  /* nothing to requantize: there are no masters */
    m->fp32_acts = true;     /* the adapters read the linears' inputs: no 16-bit copies (bb_model_half_acts) */
    bb_param_specs(cfg, m->specs);
    bb_tensor_spec fs[BB_N_PARAMS];  /* the FP32 frozen tensors: all but the quantized linears */
    for (int i = 0; i < BB_N_PARAMS; i++) {
        fs[i] = m->specs[i];
        if (is_quantized(i)) fs[i].numel = 0;
        m->n_params += fs[i].numel;
    }
    m->params_mem = bb_alloc(charge(m, BB_MEM_FROZEN), m->n_params * sizeof(float));
    carve(&m->params, m->params_mem, fs);
    alloc_packed(m);
    init_rope(m);
    return 0;
}

uint8_t *bb_model_packed_at(const bb_model *m, int k, int l) {
    return m->packed_mem + m->packed_off[k * m->cfg.n_layer + l];
}

void bb_model_pack_base(bb_model *m, int k, int l, const float *w) {
    BB_CHECK(m->frozen_base);
    const bb_tensor_spec *s = &m->specs[quantized_params[k]];
    bb_prec_opts o = bb_config_prec_opts(&m->cfg);
    bb_precisions[m->cfg.precision].pack(bb_model_packed_at(m, k, l), w, (int)s->shape[1], (int)s->shape[2], &o);
}

static void free_acts(bb_model *m) {
    bb_free(m->acts_mem); bb_free(m->scratch_mem); bb_free(m->inputs); bb_free(m->targets);
    bb_free(m->acts_half_mem);
    m->acts_half_mem = NULL;
    m->acts_half_cap = 0;
    m->acts_mem = m->scratch_mem = NULL;
    m->inputs = m->targets = NULL;
    m->B = m->T = 0;
    m->acts_cap = m->scratch_cap = m->io_cap = 0;
}

void bb_model_free(bb_model *m) {
    free_acts(m);
    if (m->lora) bb_lora_free(m->lora);
    bb_free(m->params_mem); bb_free(m->grads_mem); bb_free(m->m_mem); bb_free(m->v_mem); bb_free(m->wq_mem);
    if (m->embed_q != m->head_q) bb_free(m->embed_q);
    bb_free(m->head_q);
    bb_free(m->packed_mem); bb_free(m->packed_off);
    bb_free(m->rope_cos); bb_free(m->rope_sin);
    memset(m, 0, sizeof *m);
}

/* ---- initialisation --------------------------------------------------------------- */

typedef struct { uint64_t s; } rng;

static uint64_t rng_u64(rng *r) {  /* splitmix64 */
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float rng_normal(rng *r) {  /* Box-Muller */
    double u1 = ((rng_u64(r) >> 11) + 1.0) * 0x1.0p-53, u2 = (rng_u64(r) >> 11) * 0x1.0p-53;
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

void bb_model_init_weights(bb_model *m, uint64_t seed) {
    float residual_std = 0.02f / sqrtf(2.0f * (float)m->cfg.n_layer);
    for (int i = 0; i < BB_N_PARAMS; i++) {
        const bb_tensor_spec *s = &m->specs[i];
        float *p = m->params.t[i];
        if (!s->numel || !p) continue;  /* a frozen base holds no masters of its quantized linears */
        rng r = {seed * 0x100000001b3ull + (uint64_t)i * 0x9e3779b97f4a7c15ull};
        bool gain = i == BB_P_LN1W || i == BB_P_LN2W || i == BB_P_LNFW || i == BB_P_SUBLN_ATTW || i == BB_P_SUBLN_FFNW;
        bool bias = i == BB_P_LN1B || i == BB_P_LN2B || i == BB_P_LNFB || i == BB_P_QKVB || i == BB_P_ATTPROJB ||
                    i == BB_P_FCB || i == BB_P_FCPROJB;
        float std = (i == BB_P_ATTPROJW || i == BB_P_FCPROJW) ? residual_std : 0.02f;
        for (size_t k = 0; k < s->numel; k++) p[k] = gain ? 1.0f : bias ? 0.0f : std * rng_normal(&r);
    }
    bb_model_requantize(m);
}

/* The fake-quant LM head (cfg.quant_head) and token embedding (cfg.quant_embed): the
 * precision's weight quantizer over the (V, C) matrix, one output channel per vocabulary
 * row, as for any quantized linear; blended like the linears under the BitNet warm-up. */
static void requantize_table(const bb_model *m, float *wq, const float *w) {
    const bb_config *c = &m->cfg;
    bb_prec_opts o = bb_config_prec_opts(c);
    size_t n = (size_t)c->vocab_size * c->n_embd;
    bb_fake_weights_fast(c->precision, wq, w, c->vocab_size, c->n_embd, &o);
    float lambda = m->quant_lambda;
    if (lambda < 1.0f)
        for (size_t e = 0; e < n; e++) wq[e] = w[e] + lambda * (wq[e] - w[e]);
}

static void requantize_head_embed(bb_model *m) {
    bool tied = bb_family_traits[m->cfg.family].tied_head;
    if (m->head_q) requantize_table(m, m->head_q, tied ? m->params.wte : m->params.lm_head);
    if (m->embed_q && m->embed_q != m->head_q) requantize_table(m, m->embed_q, m->params.wte);
}

void bb_model_requantize(bb_model *m) {
    if (!m->wq_mem || m->frozen_quant) return;
    const bb_config *c = &m->cfg;
    bb_prec_opts o = bb_config_prec_opts(c);
    int L = c->n_layer;
    requantize_head_embed(m);
    if (m->quant_lambda >= 1.0f) {
        /* pack the masters, and unpack for the fake-quant weights of backward: the two are
         * the same numbers (precision.h contract: unpack(pack(W)) == fake_weights(W)) */
        const bb_precision_traits *pt = &bb_precisions[c->precision];
        /* one matrix per thread: per-tensor scales (b158's absmean) are sequential sums,
         * so splitting the rows of one matrix would leave a core idle during them */
        size_t total = 0;
        for (int k = 0; k < N_QUANTIZED; k++) total += m->specs[quantized_params[k]].numel;
#pragma omp parallel for schedule(dynamic, 1) if (total >= BB_PAR_MIN_WORK)
        for (int j = 0; j < N_QUANTIZED * L; j++) {
            int k = j / L, l = j % L, i = quantized_params[k];
            const bb_tensor_spec *s = &m->specs[i];
            int OC = (int)s->shape[1], C = (int)s->shape[2];
            size_t per = s->numel / (size_t)L;
            uint8_t *packed = m->packed_mem + m->packed_off[k * L + l];
            pt->pack(packed, m->params.t[i] + per * l, OC, C, &o);
            pt->unpack(m->wq.t[i] + per * l, packed, OC, C, &o);
        }
        return;
    }
    for (int k = 0; k < N_QUANTIZED; k++) {
        int i = quantized_params[k];
        const bb_tensor_spec *s = &m->specs[i];
        int OC = (int)s->shape[1], C = (int)s->shape[2];
        size_t per = s->numel / (size_t)L;
        float lambda = m->quant_lambda;
#pragma omp parallel for schedule(static) if (s->numel >= BB_PAR_MIN_WORK)
        for (int l = 0; l < L; l++) {
            const float *w = m->params.t[i] + per * l;
            float *wq = m->wq.t[i] + per * l;
            bb_fake_weights_fast(c->precision, wq, w, OC, C, &o);  /* per-tensor scales are per layer matrix */
            if (lambda < 1.0f)
                for (size_t e = 0; e < per; e++) wq[e] = w[e] + lambda * (wq[e] - w[e]);
        }
    }
}

/* ---- activations ------------------------------------------------------------------ */

/* Carves the activation tables for (B, T). The blocks only grow: a smaller batch or a
 * shorter sequence (evaluation tails, length-bucketed MT batches, decoding) re-carves the
 * block it already has instead of reallocating. A forward-only model keeps one slot for
 * every per-layer buffer, the block outputs included (a block reads its input residual
 * before it writes its output, layer_forward), and no probabilities or losses. */
static void ensure_acts(bb_model *m, int B, int T, bool probs_apart) {
    if (m->B == B && m->T == T && m->probs_apart == probs_apart) return;
    BB_CHECK(T <= m->cfg.max_seq);
    const bb_config *c = &m->cfg;
    size_t L = (size_t)c->n_layer, C = (size_t)c->n_embd, NH = (size_t)c->n_head, V = (size_t)c->vocab_size;
    size_t hd = C / NH, QKV = (NH + 2 * (size_t)c->n_kv_head) * hd, F = (size_t)c->ffn_hidden;
    size_t FF1 = bb_family_traits[c->family].swiglu ? 2 * F : F, BT = (size_t)B * T;
    size_t sub = bb_precisions[c->precision].subln ? 1 : 0;
    bool block = m->ckpt_mode == BB_CKPT_BLOCK;
    size_t Lk = block || m->forward_only ? 1 : L, Lo = m->forward_only ? 1 : L;  /* kept layers, outputs */
    size_t loss = m->forward_only ? 0 : 1;
    /* the probabilities (which become dlogits) apart from the logits, or over them (logits_in_place) */
    size_t apart = loss && probs_apart ? 1 : 0;
    /* the attention probabilities, only for a backward that reads them: selective
     * recomputation and models that never run backward pass att = NULL (backend.h) */
    bool backward = !m->forward_only && (m->grads_mem || m->lora);
    size_t La = backward && m->ckpt_mode != BB_CKPT_SELECTIVE ? Lk : 0;
    size_t att16 = bb_model_att_fmt(c) != BB_ATT_F32 ? 1 : 0;  /* kept in 16 bits (att_h), not as floats */
    /* ln1, qkv, atty, ln2, fch, fch_act: every kept layer in fp32, or with 16-bit storage
     * two fp32 working buffers that the layer's six take turns in (layer_forward): A holds
     * ln1, atty, ln2, fch_act (C or F wide), B holds qkv, fch (QKV or FF1). Used where it
     * takes fewer bytes: from 2 kept layers (with block checkpointing only for odd shapes) */
    size_t wideA = C > F ? C : F, wideB = QKV > FF1 ? QKV : FF1, storable = 3 * C + F + QKV + FF1;
    bool half = bb_model_half_acts(c) && !m->fp32_acts && 2 * Lk * storable + 4 * (wideA + wideB) < 4 * Lk * storable;
    /* Training borrows the two working buffers from the gradient scratch, which the
     * forward never touches: A is dfch_act (F wide), B is dfch (FF1 wide); the backward
     * reloads each kept activation into a gradient buffer that is dead at that point
     * (bb_model_backward). So the forward's transients cost no activation bytes, as in
     * torch.autocast, which frees them. LoRA keeps fp32 (fp32_acts). The backward reloads
     * fch in row blocks as wide as dqkv (mlp_act_backward), so dqkv must hold one fch row
     * (BT QKV >= FF1: not so for a batch of a few tokens). With block checkpointing the
     * byte test above fails for the usual shapes, but not for all (llama with GQA and F
     * near C): there the backward's re-run of a block writes A and B, dead at that point. */
    bool borrow = half && m->grads_mem && !m->lora && F >= C && FF1 >= QKV && BT * QKV >= FF1;
    /* half_residual: the residual stream is on the 16-bit grid, so training keeps it in 16
     * bits as well, with residual2 and residual3 working in datty and dresidual. Not with
     * block checkpointing: its backward re-runs each block, whose residual3 would land in
     * dresidual, the gradient it is propagating. */
    bool res16 = borrow && c->half_residual && !block;
    size_t nA = half ? (borrow ? 0 : BT * wideA) : Lk * BT * C, nB = half ? (borrow ? 0 : BT * wideB) : Lk * BT * QKV;
    size_t own = half ? 0 : Lk;
    size_t r32 = res16 ? 0 : 1;  /* residual2, residual3 as floats per layer */
    size_t sizes[] = {BT * C,     nA,          Lk * BT, Lk * BT,     nB,            own * BT * C, (1 - att16) * La * B * NH * T * T,
                      r32 * Lk * BT * C, own * BT * C, Lk * BT, Lk * BT, own * BT * FF1, own * BT * F, r32 * Lo * BT * C,
                      BT * C,     BT,         BT,     BT * V,     apart * BT * V, loss * BT,
                      sub * Lk * BT * C, sub * Lk * BT, sub * Lk * BT * F, sub * Lk * BT};
    float **ptrs[] = {&m->acts.encoded, &m->acts.ln1, &m->acts.ln1_mean, &m->acts.ln1_rstd, &m->acts.qkv,
                      &m->acts.atty, &m->acts.att, &m->acts.residual2, &m->acts.ln2, &m->acts.ln2_mean,
                      &m->acts.ln2_rstd, &m->acts.fch, &m->acts.fch_act, &m->acts.residual3, &m->acts.lnf,
                      &m->acts.lnf_mean, &m->acts.lnf_rstd, &m->acts.logits, &m->acts.probs, &m->acts.losses,
                      &m->acts.atty_n, &m->acts.atty_rstd, &m->acts.fch_n, &m->acts.fch_rstd};
    size_t n = sizeof sizes / sizeof sizes[0], total = 0;
    for (size_t i = 0; i < n; i++) total += sizes[i];
    if (total > m->acts_cap) {
        bb_free(m->acts_mem);
        m->acts_mem = bb_alloc(charge(m, BB_MEM_ACTS), total * sizeof(float));
        m->acts_cap = total;
    }
    float *p = m->acts_mem;
    for (size_t i = 0; i < n; i++) { *ptrs[i] = sizes[i] ? p : NULL; p += sizes[i]; }
    if (loss && !apart) m->acts.probs = m->acts.logits;
    size_t hs = half ? 1 : 0;
    size_t r16 = res16 ? 1 : 0;
    size_t hsizes[] = {hs * Lk * BT * C, hs * Lk * BT * QKV, hs * Lk * BT * C,  hs * Lk * BT * C,
                       hs * Lk * BT * FF1, hs * Lk * BT * F, att16 * La * B * NH * T * T, r16 * Lk * BT * C,
                       r16 * Lo * BT * C}, htotal = 0;
    uint16_t **hptrs[] = {&m->acts.ln1_h, &m->acts.qkv_h, &m->acts.atty_h, &m->acts.ln2_h, &m->acts.fch_h,
                          &m->acts.fch_act_h, &m->acts.att_h, &m->acts.residual2_h, &m->acts.residual3_h};
    size_t nh = sizeof hsizes / sizeof hsizes[0];
    for (size_t i = 0; i < nh; i++) htotal += hsizes[i];
    if (htotal > m->acts_half_cap) {
        bb_free(m->acts_half_mem);
        m->acts_half_mem = bb_alloc(BB_MEM_ACTS, htotal * sizeof(uint16_t));
        m->acts_half_cap = htotal;
    }
    uint16_t *h = m->acts_half_mem;
    for (size_t i = 0; i < nh; i++) { *hptrs[i] = hsizes[i] ? h : NULL; h += hsizes[i]; }
    if (m->grads_mem || m->lora) {  /* training: the backward scratch */
        size_t gsizes[] = {BT * C, BT * C, BT * QKV, BT * C, BT * FF1, BT * F, sub * BT * (C > F ? C : F)};
        float **gptrs[] = {&m->gs.dresidual, &m->gs.dnorm, &m->gs.dqkv, &m->gs.datty, &m->gs.dfch, &m->gs.dfch_act,
                           &m->gs.dsub};
        size_t gtotal = 0;
        for (size_t i = 0; i < 7; i++) gtotal += gsizes[i];
        if (gtotal > m->scratch_cap) {
            bb_free(m->scratch_mem);
            m->scratch_mem = bb_alloc(charge(m, BB_MEM_WORKSPACE), gtotal * sizeof(float));
            m->scratch_cap = gtotal;
        }
        p = m->scratch_mem;
        for (size_t i = 0; i < 7; i++) { *gptrs[i] = gsizes[i] ? p : NULL; p += gsizes[i]; }
    }
    if (borrow) {
        m->acts.ln1 = m->gs.dfch_act;
        m->acts.qkv = m->gs.dfch;
    }
    if (res16) {
        m->acts.residual2 = m->gs.datty;
        m->acts.residual3 = m->gs.dresidual;
    }
    m->acts_borrowed = borrow;
    if (half) {  /* the working buffers' tenants */
        m->acts.atty = m->acts.ln2 = m->acts.fch_act = m->acts.ln1;
        m->acts.fch = m->acts.qkv;
    }
    if (m->lora) bb_lora_ensure_acts(m, B, T);
    if (BT > m->io_cap) {
        bb_free(m->inputs);
        bb_free(m->targets);
        m->inputs = bb_alloc(charge(m, BB_MEM_ACTS), BT * sizeof(int));
        m->targets = bb_alloc(charge(m, BB_MEM_ACTS), BT * sizeof(int));
        m->io_cap = BT;
    }
    m->B = B;
    m->T = T;
    m->probs_apart = probs_apart;
}

typedef struct {
    float *ln1, *ln1_mean, *ln1_rstd, *qkv, *atty, *att, *residual2, *ln2, *ln2_mean, *ln2_rstd, *fch, *fch_act,
        *residual3, *atty_n, *atty_rstd, *fch_n, *fch_rstd;
    uint16_t *ln1_h, *qkv_h, *atty_h, *ln2_h, *fch_h, *fch_act_h;  /* NULL unless bb_model_half_acts */
    uint16_t *att_h;  /* the probabilities in 16 bits (bb_model_att_fmt), NULL where not kept so */
    uint16_t *residual2_h, *residual3_h;  /* NULL unless 16-bit residual storage (half_residual) */
} layer_acts;

static uint16_t *bb_at16(uint16_t *base, size_t stride, size_t l) { return base ? base + stride * l : NULL; }

/* The attention's probabilities as layer_forward passes them to the backend: float, 16-bit,
 * or NULL (not kept). */
static void *att_of(const layer_acts *a) { return a->att_h ? (void *)a->att_h : (void *)a->att; }

bb_att_fmt bb_model_att_fmt(const bb_config *c) {
    return c->act_quant == BB_ACTQ_FP16 ? BB_ATT_F16 : c->act_quant == BB_ACTQ_BF16 ? BB_ATT_BF16 : BB_ATT_F32;
}

bool bb_model_half_acts(const bb_config *c) {
    return (c->act_quant == BB_ACTQ_FP16 || c->act_quant == BB_ACTQ_BF16) && !bb_precisions[c->precision].subln;
}

/* With block checkpointing every layer's buffers share slot 0 except residual3 (the
 * block outputs, kept per layer); backward recomputes a block before differentiating it.
 * A forward-only model shares slot 0 for residual3 too (ensure_acts). att is NULL where
 * ensure_acts keeps no probabilities. */
static layer_acts layer_acts_at(const bb_model *m, int layer) {
    const bb_config *c = &m->cfg;
    int l = m->ckpt_mode == BB_CKPT_BLOCK || m->forward_only ? 0 : layer;
    size_t BT = (size_t)m->B * m->T, C = (size_t)c->n_embd, NH = (size_t)c->n_head, hd = C / NH;
    size_t QKV = (NH + 2 * (size_t)c->n_kv_head) * hd, F = (size_t)c->ffn_hidden;
    size_t FF1 = bb_family_traits[c->family].swiglu ? 2 * F : F;
    const bb_acts *a = &m->acts;
    size_t lf = a->ln1_h ? 0 : (size_t)l;  /* with 16-bit storage: the two fp32 working buffers (ensure_acts) */
    size_t lr = a->residual3_h ? 0 : (size_t)l, lo = a->residual3_h || m->forward_only ? 0 : (size_t)layer;
    return (layer_acts){a->ln1 + lf * BT * C,      a->ln1_mean + l * BT, a->ln1_rstd + l * BT,
                        a->qkv + lf * BT * QKV,    a->atty + lf * BT * C,
                        bb_at(a->att, (size_t)m->B * NH * m->T * m->T, l),
                        a->residual2 + lr * BT * C, a->ln2 + lf * BT * C, a->ln2_mean + l * BT,
                        a->ln2_rstd + l * BT,      a->fch + lf * BT * FF1, a->fch_act + lf * BT * F,
                        a->residual3 + lo * BT * C, bb_at(a->atty_n, BT * C, l),
                        bb_at(a->atty_rstd, BT, l),
                        bb_at(a->fch_n, BT * F, l),   bb_at(a->fch_rstd, BT, l),
                        a->ln1_h ? a->ln1_h + l * BT * C : NULL, a->ln1_h ? a->qkv_h + l * BT * QKV : NULL,
                        a->ln1_h ? a->atty_h + l * BT * C : NULL, a->ln1_h ? a->ln2_h + l * BT * C : NULL,
                        a->ln1_h ? a->fch_h + l * BT * FF1 : NULL, a->ln1_h ? a->fch_act_h + l * BT * F : NULL,
                        a->att_h ? a->att_h + l * (size_t)m->B * NH * m->T * m->T : NULL,
                        bb_at16(a->residual2_h, BT * C, l), bb_at16(a->residual3_h, BT * C, l)};
}

/* Moves one of the layer's six 16-bit storable activations (n floats) between its fp32
 * working buffer and its 16-bit storage: to_half once the forward is done with it (the
 * buffer's next tenant overwrites it), back just before the backward reads it. A no-op
 * without 16-bit storage (h NULL). Exact: the forward rounded every value to 16 bits. */
typedef enum { HALF_STORE, HALF_LOAD, HALF_ROUND } half_op;

/* One 16-bit operation over n values of the active ISA's kernels, in fixed chunks split
 * over the threads: store f into h, load h into f, or round f in place (bf16 or fp16). */
static void half_chunks(half_op op, bool bf16, float *f, uint16_t *h, size_t n) {
    const bb_eltwise_kernels *k = bb_eltwise();
    size_t chunks = (n + 16383) / 16384;
#pragma omp parallel for schedule(static) if (n >= 2 * BB_PAR_MIN_WORK)
    for (size_t j = 0; j < chunks; j++) {
        size_t lo = j * 16384, len = n - lo < 16384 ? n - lo : 16384;
        switch (op) {
        case HALF_STORE: k->to_half(h + lo, f + lo, len, bf16); break;
        case HALF_LOAD: k->from_half(f + lo, h + lo, len, bf16); break;
        case HALF_ROUND: (bf16 ? k->fake_bf16 : k->fake_fp16)(f + lo, len); break;
        }
    }
}

static void half_move(const bb_model *m, float *f, uint16_t *h, size_t n, bool to_half) {
    if (h) half_chunks(to_half ? HALF_STORE : HALF_LOAD, m->cfg.act_quant == BB_ACTQ_BF16, f, h, n);
}
#define KEEP16(a, name, n) half_move(m, (a).name, (a).name##_h, (n), true)
#define LOAD16(a, name, n) half_move(m, (a).name, (a).name##_h, (n), false)

void bb_model_round_output(const bb_model *m, float *x, size_t n) {
    int mode = m->cfg.act_quant;
    if (mode == BB_ACTQ_FP16 || mode == BB_ACTQ_BF16) half_chunks(HALF_ROUND, mode == BB_ACTQ_BF16, x, NULL, n);
}

void bb_model_round_residual(const bb_model *m, float *x, size_t n) {
    if (m->cfg.half_residual) bb_model_round_output(m, x, n);  /* config validation: fp16 or bf16 */
}

void bb_model_norm_forward(const bb_model *m, float *out, float *mean, float *rstd, const float *x, const float *w,
                         const float *b, int N) {
    const bb_config *c = &m->cfg;
    if (bb_family_traits[c->family].layernorm) m->be->layernorm_forward(out, mean, rstd, x, w, b, N, c->n_embd, c->norm_eps);
    else m->be->rmsnorm_forward(out, rstd, x, w, N, c->n_embd, c->norm_eps);
}

static void norm_backward(const bb_model *m, float *dx, float *dw, float *db, const float *dy, const float *x,
                          const float *w, const float *mean, const float *rstd, int N) {
    if (bb_family_traits[m->cfg.family].layernorm) m->be->layernorm_backward(dx, dw, db, dy, x, w, mean, rstd, N, m->cfg.n_embd);
    else m->be->rmsnorm_backward(dx, dw, dy, x, w, rstd, N, m->cfg.n_embd);
}

/* ---- quantized linears (precision.h) ------------------------------------------------ */

const float *bb_model_head(const bb_model *m) {
    if (m->head_q) return m->head_q;
    return bb_family_traits[m->cfg.family].tied_head ? m->params.wte : m->params.lm_head;
}

const float *bb_model_embed(const bb_model *m) { return m->embed_q ? m->embed_q : m->params.wte; }

void bb_model_head_forward(bb_model *m, float *logits, float *x, int N) {
    const bb_config *c = &m->cfg;
    if (m->head_q) bb_model_quantize_input(m, x, N, c->n_embd);
    m->be->matmul_forward(logits, x, bb_model_head(m), NULL, N, c->n_embd, c->vocab_size, 0);
    if (m->head_q) bb_model_round_output(m, logits, (size_t)N * c->vocab_size);
}

/* Fake-quantizes a quantized linear's input in place, rows in parallel; with the BitNet
 * warm-up lambda < 1 the input becomes x + lambda (q(x) - x). */
void bb_model_quantize_input(const bb_model *m, float *x, int N, int C) {
    const bb_config *c = &m->cfg;
    if (c->precision == BB_PREC_FP32 || c->act_quant == BB_ACTQ_NONE) return;
    float lambda = m->quant_lambda;
    const bb_eltwise_kernels *k = bb_eltwise();
    int block = c->act_quant == BB_ACTQ_INT8_BLOCK ? c->group : C;
#pragma omp parallel if ((size_t)N * C >= 32768)
    {
        float *tmp = lambda < 1.0f ? bb_alloc(charge(m, BB_MEM_WORKSPACE), (size_t)C * sizeof(float)) : NULL;
#pragma omp for schedule(static)
        for (int r = 0; r < N; r++) {
            float *row = x + (size_t)r * C, *q = tmp ? tmp : row;
            if (tmp) memcpy(tmp, row, (size_t)C * sizeof(float));
            switch (c->act_quant) {  /* the vectorized twins of bb_fake_acts (bit-exact, tests/test_ops.c) */
            case BB_ACTQ_FP16: k->fake_fp16(q, (size_t)C); break;
            case BB_ACTQ_BF16: k->fake_bf16(q, (size_t)C); break;
            case BB_ACTQ_INT8_TOKEN:
            case BB_ACTQ_INT8_BLOCK: k->fake_int8(q, C, block); break;
            case BB_ACTQ_NONE: break;
            }
            if (tmp)
                for (int i = 0; i < C; i++) row[i] += lambda * (tmp[i] - row[i]);
        }
        bb_free(tmp);
    }
}


/* A quantized linear of layer l (k: 0 qkv, 1 attention projection, 2 MLP in, 3 MLP out):
 * out (N,OC) [+]= x (N,C) W^T + bias. Quantized models run the packed integer/half kernel
 * of their precision on x, then fake-quantize x in place: the kernel quantized exactly
 * those values, and the weight gradient needs them. FP32, the BitNet warm-up (lambda < 1)
 * and use_kernels = false run sgemm on the fake-quant values instead.
 * A frozen base has no weight gradient, so x stays as it is: the LoRA adapter reads the
 * unquantized input (y = base(x) + scaling B A dropout(x), engine/lora.h). */
void bb_model_linear_forward(bb_model *m, int k, int l, float *out, float *x, const float *bias, int N, int C, int OC,
                             int accumulate) {
    const bb_config *c = &m->cfg;
    int L = c->n_layer;
    if (c->precision != BB_PREC_FP32 && m->use_kernels && m->quant_lambda >= 1.0f) {
        const bb_precision_traits *pt = &bb_precisions[c->precision];
        bb_prec_opts o = bb_config_prec_opts(c);
        if (bias && accumulate) m->be->residual_bias_forward(out, out, bias, N, OC);
        else if (bias)
            for (int n = 0; n < N; n++) memcpy(out + (size_t)n * OC, bias, (size_t)OC * sizeof(float));
        const void *packed = m->packed_mem + m->packed_off[k * L + l];
        if (m->be->packed_forward) m->be->packed_forward(c->precision, out, x, packed, N, C, OC, &o, accumulate || bias != NULL);
        else pt->forward(out, x, packed, N, C, OC, &o, accumulate || bias != NULL);
        if (m->lora) bb_lora_forward(m, k, l, out, x, N, C, OC);
        else if (!m->frozen_base) bb_model_quantize_input(m, x, N, C);
        return;
    }
    int i = quantized_params[k];
    size_t per = m->specs[i].numel / (size_t)L;
    /* a frozen FP32 base: the packed form of fp32 is W itself (precisions/fp32.c); a frozen
     * quantized base always takes the kernel path above */
    BB_CHECK(!m->frozen_base || c->precision == BB_PREC_FP32);
    const float *w = m->frozen_base ? (const float *)bb_model_packed_at(m, k, l)
                                    : (m->wq.t[i] ? m->wq.t[i] : m->params.t[i]) + per * (size_t)l;
    bb_model_quantize_input(m, x, N, C);
    m->be->matmul_forward(out, x, w, bias, N, C, OC, accumulate);
    if (m->lora) bb_lora_forward(m, k, l, out, x, N, C, OC);
}

/* The backward of quantized linear k of layer l: dinp += dout W, dw += dout^T inp,
 * db += colsum(dout) with the fake-quant W (STE to the masters). A frozen base has no dw
 * or db: the input gradient comes from the packed weights (backward_input, precision.h),
 * plus the adapter's gradients and its share of dinp. */
static void linear_backward(bb_model *m, int k, int l, float *dinp, float *dw, float *db, const float *dout,
                            const float *inp, const float *w, int N, int C, int OC) {
    if (!m->frozen_base) {
        m->be->matmul_backward(dinp, dw, db, dout, inp, w, N, C, OC);
        return;
    }
    const bb_precision_traits *pt = &bb_precisions[m->cfg.precision];
    bb_prec_opts o = bb_config_prec_opts(&m->cfg);
    pt->backward_input(dinp, dout, bb_model_packed_at(m, k, l), N, C, OC, &o, 1);
    if (m->lora) bb_lora_backward(m, k, l, dinp, dout, inp, N, C, OC);
}

/* ---- forward ---------------------------------------------------------------------- */

/* One block forward from its input residual into the layer's activation slot. */
static void layer_forward(bb_model *m, int l, const float *residual) {
    const bb_config *c = &m->cfg;
    const bb_family_traits_t *f = &bb_family_traits[c->family];
    const bb_backend *be = m->be;
    int B = m->B, T = m->T, L = c->n_layer, C = c->n_embd, NH = c->n_head, NKV = c->n_kv_head, hd = C / NH;
    int QKV = (NH + 2 * NKV) * hd, F = c->ffn_hidden, FF1 = f->swiglu ? 2 * F : F, N = B * T;
    bool subln = bb_precisions[c->precision].subln;
    layer_params p = LAYER_VIEW(m->params, m->specs, l);
    layer_acts a = layer_acts_at(m, l);
    size_t NC = (size_t)N * C;
    /* with 16-bit storage ln1, atty, ln2, fch_act share one fp32 buffer and qkv, fch
     * another (ensure_acts): each is kept (KEEP16) before the next tenant is written */
    bb_model_norm_forward(m, a.ln1, a.ln1_mean, a.ln1_rstd, residual, p.ln1w, p.ln1b, N);
    bb_model_linear_forward(m, 0, l, a.qkv, a.ln1, p.qkvb, N, C, QKV, 0);
    KEEP16(a, ln1, NC);
    if (!f->learned_pos) be->rope_forward(a.qkv, m->rope_cos, m->rope_sin, B, T, NH, NKV, hd);
    bb_model_round_output(m, a.qkv, (size_t)N * QKV);
    be->attention_forward(a.atty, att_of(&a), a.qkv, B, T, NH, NKV, hd, bb_model_att_fmt(c));
    KEEP16(a, qkv, (size_t)N * QKV);
    float *att_in = a.atty;
    if (subln) {
        be->rmsnorm_forward(a.atty_n, a.atty_rstd, a.atty, p.subln_attw, N, C, c->norm_eps);
        att_in = a.atty_n;
    }
    be->residual_bias_forward(a.residual2, residual, p.attprojb, N, C);
    bb_model_linear_forward(m, 1, l, a.residual2, att_in, NULL, N, C, C, 1);
    KEEP16(a, atty, NC);
    bb_model_round_residual(m, a.residual2, NC);
    KEEP16(a, residual2, NC);
    bb_model_norm_forward(m, a.ln2, a.ln2_mean, a.ln2_rstd, a.residual2, p.ln2w, p.ln2b, N);
    bb_model_linear_forward(m, 2, l, a.fch, a.ln2, p.fcb, N, C, FF1, 0);
    KEEP16(a, ln2, NC);
    bb_model_round_output(m, a.fch, (size_t)N * FF1);
    if (f->swiglu) be->swiglu_forward(a.fch_act, a.fch, N, F);
    else be->gelu_forward(a.fch_act, a.fch, N, F);
    KEEP16(a, fch, (size_t)N * FF1);
    float *fc_in = a.fch_act;
    if (subln) {
        be->rmsnorm_forward(a.fch_n, a.fch_rstd, a.fch_act, p.subln_ffnw, N, F, c->norm_eps);
        fc_in = a.fch_n;
    }
    be->residual_bias_forward(a.residual3, a.residual2, p.fcprojb, N, C);
    bb_model_linear_forward(m, 3, l, a.residual3, fc_in, NULL, N, F, C, 1);
    KEEP16(a, fch_act, (size_t)N * F);
    bb_model_round_residual(m, a.residual3, NC);
    KEEP16(a, residual3, NC);
}

/* The forward to the logits, then the loss: the cross-entropy, or with teacher logits
 * the distillation loss (bb_model_forward_kd). */
static float forward(bb_model *m, const int *inputs, const int *targets, const float *tlogits, float alpha, float temp,
                     int B, int T) {
    BB_CHECK(!(m->forward_only && targets));  /* a forward-only model has no loss buffers */
    ensure_acts(m, B, T, !m->logits_in_place || tlogits != NULL);
    /* the BitNet warm-up (lambda < 1) leaves values off the 16-bit grid, which 16-bit
     * activation storage would round (cmd_train refuses the combination) */
    BB_CHECK(m->quant_lambda >= 1.0f || !m->acts.ln1_h);
    const bb_config *c = &m->cfg;
    const bb_backend *be = m->be;
    int L = c->n_layer, C = c->n_embd, V = c->vocab_size, N = B * T;
    for (int i = 0; i < N; i++) BB_CHECK(inputs[i] >= 0 && inputs[i] < V);
    memcpy(m->inputs, inputs, (size_t)N * sizeof(int));
    if (targets) {
        m->n_valid_targets = 0;
        for (int i = 0; i < N; i++) {
            BB_CHECK(targets[i] < V);
            m->n_valid_targets += targets[i] >= 0;
        }
        memcpy(m->targets, targets, (size_t)N * sizeof(int));
    }
    if (m->lora) bb_lora_begin_forward(m->lora);
    be->encoder_forward(m->acts.encoded, inputs, bb_model_embed(m), m->params.wpe, B, T, C);
    bb_model_round_residual(m, m->acts.encoded, (size_t)N * C);
    const float *residual = m->acts.encoded;
    for (int l = 0; l < L; l++) {
        layer_forward(m, l, residual);
        residual = layer_acts_at(m, l).residual3;
    }
    bb_model_norm_forward(m, m->acts.lnf, m->acts.lnf_mean, m->acts.lnf_rstd, residual, m->params.lnfw, m->params.lnfb, N);
    bb_model_head_forward(m, m->acts.logits, m->acts.lnf, N);
    m->kd_tlogits = tlogits;
    m->kd_alpha = alpha;
    m->kd_temp = temp;
    if (!targets) {
        m->mean_loss = NAN;
        return NAN;
    }
    if (tlogits)
        be->kd_forward(m->acts.losses, m->acts.probs, m->acts.logits, tlogits, m->targets, alpha, temp, N, V);
    else
        be->crossentropy_forward(m->acts.losses, m->acts.probs, m->acts.logits, m->targets, N, V);
    double sum = 0.0;
    for (int i = 0; i < N; i++) sum += m->acts.losses[i];
    m->mean_loss = m->n_valid_targets ? (float)(sum / m->n_valid_targets) : 0.0f;
    return m->mean_loss;
}

float bb_model_forward(bb_model *m, const int *inputs, const int *targets, int B, int T) {
    return forward(m, inputs, targets, NULL, 0.0f, 0.0f, B, T);
}

float bb_model_forward_kd(bb_model *m, const int *inputs, const int *targets, const float *tlogits, float alpha,
                          float temp, int B, int T) {
    BB_CHECK(targets && tlogits && alpha >= 0.0f && alpha <= 1.0f && temp > 0.0f);
    return forward(m, inputs, targets, tlogits, alpha, temp, B, T);
}

/* ---- backward --------------------------------------------------------------------- */

void bb_model_zero_grad(bb_model *m) {
    if (m->lora) {
        bb_lora_zero_grad(m->lora);
        return;
    }
    BB_CHECK(m->grads_mem != NULL);
    memset(m->grads_mem, 0, m->n_params * sizeof(float));
}

/* The residual stream at the input of layer l (block l - 1's output, or the embeddings;
 * l = L: the final norm's input) as a norm's backward reads it. With 16-bit residual
 * storage it is reloaded into spare, a gradient buffer dead at that point. */
static const float *residual_in(const bb_model *m, int l, float *spare) {
    if (l == 0) return m->acts.encoded;
    layer_acts a = layer_acts_at(m, l - 1);
    if (!a.residual3_h) return a.residual3;
    BB_CHECK(spare != NULL);
    half_move(m, spare, a.residual3_h, (size_t)m->B * m->T * m->cfg.n_embd, false);
    return spare;
}

/* dfch += act'(fch) dfch_act, the MLP activation's backward (GELU or SwiGLU). With
 * borrowed working buffers (ensure_acts) fch's own buffer is dfch, the output, so fch
 * reloads in blocks of B*T*QKV/FF1 rows into dqkv, which is dead until the attention's
 * backward. The ops are row-wise: the bits are those of one call over all rows. */
static void mlp_act_backward(bb_model *m, layer_acts *a, int N, int F, int FF1, int QKV) {
    const bb_backend *be = m->be;
    bool swiglu = bb_family_traits[m->cfg.family].swiglu;
    bb_grad_scratch *g = &m->gs;
    int rows = N, r0 = 0;
    if (m->acts_borrowed) {
        a->fch = g->dqkv;
        rows = (int)(((size_t)N * QKV) / (size_t)FF1);
        BB_CHECK(rows >= 1);
    } else {
        LOAD16(*a, fch, (size_t)N * FF1);
    }
    for (; r0 < N; r0 += rows) {
        int n = N - r0 < rows ? N - r0 : rows;
        if (m->acts_borrowed) half_move(m, a->fch, a->fch_h + (size_t)r0 * FF1, (size_t)n * FF1, false);
        float *d = g->dfch + (size_t)r0 * FF1;
        const float *in = m->acts_borrowed ? a->fch : a->fch + (size_t)r0 * FF1, *dout = g->dfch_act + (size_t)r0 * F;
        if (swiglu) be->swiglu_backward(d, in, dout, n, F);
        else be->gelu_backward(d, in, dout, n, F);
    }
}

void bb_model_backward(bb_model *m, float grad_scale) {
    BB_CHECK((m->grads_mem != NULL || m->lora != NULL) && !isnan(m->mean_loss));
    const bb_config *c = &m->cfg;
    const bb_family_traits_t *f = &bb_family_traits[c->family];
    const bb_backend *be = m->be;
    int B = m->B, T = m->T, L = c->n_layer, C = c->n_embd, NH = c->n_head, NKV = c->n_kv_head, hd = C / NH;
    int V = c->vocab_size, QKV = (NH + 2 * NKV) * hd, F = c->ffn_hidden, FF1 = f->swiglu ? 2 * F : F, N = B * T;
    size_t BT = (size_t)N;
    bb_grad_scratch *g = &m->gs;
    /* loss = mean over kept targets, so d loss / d logit = (p - y) / n_valid (the
     * distillation loss: its per-row gradient, backend.h kd_backward, over n_valid) */
    float scale = m->n_valid_targets ? grad_scale / (float)m->n_valid_targets : 0.0f;
    float *dlogits = m->acts.probs;
    if (m->kd_tlogits)
        be->kd_backward(dlogits, m->acts.probs, m->acts.logits, m->kd_tlogits, m->targets, m->kd_alpha, m->kd_temp,
                        scale, N, V);
    else
        be->crossentropy_backward(dlogits, m->acts.probs, m->targets, scale, N, V);
    memset(g->dnorm, 0, BT * C * sizeof(float));
    float *dhead = f->tied_head ? m->grads.wte : m->grads.lm_head;
    /* quant_head: the fake-quant head and input, the STE to the FP32 head as for the linears */
    be->matmul_backward(g->dnorm, dhead, NULL, dlogits, m->acts.lnf, bb_model_head(m), N, C, V);
    memset(g->dresidual, 0, BT * C * sizeof(float));
    const float *last = residual_in(m, L, g->datty);
    norm_backward(m, g->dresidual, m->grads.lnfw, m->grads.lnfb, g->dnorm, last, m->params.lnfw, m->acts.lnf_mean,
                  m->acts.lnf_rstd, N);
    bool subln = bb_precisions[c->precision].subln;
    for (int l = L - 1; l >= 0; l--) {
        layer_params p = LAYER_VIEW(m->params, m->specs, l);
        layer_params wq = LAYER_VIEW(m->wq, m->specs, l);
        layer_grads dp = LAYER_VIEW(m->grads, m->specs, l);
        layer_acts a = layer_acts_at(m, l);
        /* block checkpointing: the same ops on the same input, so the same bits (never
         * with 16-bit residual storage, ensure_acts: residual_in needs no spare buffer) */
        if (m->ckpt_mode == BB_CKPT_BLOCK) layer_forward(m, l, residual_in(m, l, NULL));
        /* 16-bit storage: each activation back into its fp32 buffer just before it is read
         * (LOAD16), in the reverse order of the forward's KEEP16. With borrowed working
         * buffers (ensure_acts) that buffer is a gradient buffer which is dead from the
         * load until the activation's last read: dfch until its memset below, datty until
         * its own, dnorm until the norm backward's; fch goes in row blocks (mlp_act_backward). */
        if (m->acts_borrowed) {
            a.fch_act = a.qkv = g->dfch;
            a.ln2 = a.ln1 = g->datty;
            a.atty = g->dnorm;
        }
        LOAD16(a, fch_act, BT * F);
        /* residual3 = residual2 + fcproj(q(subln(act(fc(q(norm2(residual2))))))); the
         * fake-quantized inputs stand in the activation buffers (STE: d q(x) = d x) */
        memset(g->dfch_act, 0, BT * F * sizeof(float));
        if (subln) {
            memset(g->dsub, 0, BT * F * sizeof(float));
            linear_backward(m, 3, l, g->dsub, dp.fcprojw, dp.fcprojb, g->dresidual, a.fch_n, QW(wq, p, fcprojw), N, F, C);
            be->rmsnorm_backward(g->dfch_act, dp.subln_ffnw, g->dsub, a.fch_act, p.subln_ffnw, a.fch_rstd, N, F);
        } else {
            linear_backward(m, 3, l, g->dfch_act, dp.fcprojw, dp.fcprojb, g->dresidual, a.fch_act, QW(wq, p, fcprojw), N,
                            F, C);
        }
        memset(g->dfch, 0, BT * FF1 * sizeof(float));
        mlp_act_backward(m, &a, N, F, FF1, QKV);
        memset(g->dnorm, 0, BT * C * sizeof(float));
        LOAD16(a, ln2, BT * C);
        linear_backward(m, 2, l, g->dnorm, dp.fcw, dp.fcb, g->dfch, a.ln2, QW(wq, p, fcw), N, C, FF1);
        if (a.residual2_h) a.residual2 = g->datty;  /* ln2, its tenant, was read last just above */
        LOAD16(a, residual2, BT * C);
        norm_backward(m, g->dresidual, dp.ln2w, dp.ln2b, g->dnorm, a.residual2, p.ln2w, a.ln2_mean, a.ln2_rstd, N);
        /* residual2 = residual + attproj(attention(qkv(norm1(residual)))) */
        memset(g->datty, 0, BT * C * sizeof(float));
        LOAD16(a, atty, BT * C);
        if (subln) {
            memset(g->dsub, 0, BT * C * sizeof(float));
            linear_backward(m, 1, l, g->dsub, dp.attprojw, dp.attprojb, g->dresidual, a.atty_n, QW(wq, p, attprojw), N,
                            C, C);
            be->rmsnorm_backward(g->datty, dp.subln_attw, g->dsub, a.atty, p.subln_attw, a.atty_rstd, N, C);
        } else {
            linear_backward(m, 1, l, g->datty, dp.attprojw, dp.attprojb, g->dresidual, a.atty, QW(wq, p, attprojw), N,
                            C, C);
        }
        memset(g->dqkv, 0, BT * QKV * sizeof(float));
        LOAD16(a, qkv, BT * QKV);
        /* a.att NULL (selective): the probabilities are recomputed from qkv, bit for bit */
        be->attention_backward(g->dqkv, g->datty, a.qkv, att_of(&a), B, T, NH, NKV, hd, bb_model_att_fmt(c));
        if (!f->learned_pos) be->rope_backward(g->dqkv, m->rope_cos, m->rope_sin, B, T, NH, NKV, hd);
        memset(g->dnorm, 0, BT * C * sizeof(float));
        LOAD16(a, ln1, BT * C);
        linear_backward(m, 0, l, g->dnorm, dp.qkvw, dp.qkvb, g->dqkv, a.ln1, QW(wq, p, qkvw), N, C, QKV);
        /* ln1, in datty, was read last just above */
        norm_backward(m, g->dresidual, dp.ln1w, dp.ln1b, g->dnorm, residual_in(m, l, g->datty), p.ln1w, a.ln1_mean,
                      a.ln1_rstd, N);
    }
    if (!m->frozen_base) be->encoder_backward(m->grads.wte, m->grads.wpe, g->dresidual, m->inputs, B, T, C);
}

/* ---- optimizer -------------------------------------------------------------------- */

double bb_model_grad_norm(const bb_model *m) {
    if (m->lora) return bb_lora_grad_norm(m);
    return sqrt(m->be->sum_squares(m->grads_mem, m->n_params));
}

float bb_model_step(bb_model *m, const bb_adamw *opt, float lr) {
    if (m->lora) return bb_lora_step(m, opt, lr);
    double norm = bb_model_grad_norm(m);
    if (opt->grad_clip > 0.0f) {
        double coef = opt->grad_clip / (norm + 1e-6);
        if (coef < 1.0) m->be->scale(m->grads_mem, (float)coef, m->n_params);
    }
    m->step++;
    for (int i = 0; i < BB_N_PARAMS; i++) {
        if (!m->specs[i].numel) continue;
        float wd = m->specs[i].weight_decay ? opt->weight_decay : 0.0f;
        m->be->adamw_update(m->params.t[i], m->grads.t[i], m->m.t[i], m->v.t[i], m->specs[i].numel, lr, opt->beta1,
                            opt->beta2, opt->eps, wd, m->step);
    }
    bb_model_requantize(m);
    return (float)norm;
}

bb_grad_scaler bb_grad_scaler_default(bool enabled) {
    bb_grad_scaler s = {.enabled = enabled, .scale = 65536.0f, .growth_interval = 2000, .tracker = 0, .skipped = 0};
    return s;
}

float bb_grad_scaler_factor(const bb_grad_scaler *s) { return s->enabled ? s->scale : 1.0f; }

int bb_model_step_scaled(bb_model *m, bb_grad_scaler *s, const bb_adamw *opt, float lr, float *norm) {
    if (!s->enabled || m->lora) {  /* LoRA: FP32 gradients throughout, nothing to scale */
        *norm = bb_model_step(m, opt, lr);
        return 1;
    }
    double sq = m->be->sum_squares(m->grads_mem, m->n_params);
    if (!isfinite(sq)) {  /* found_inf: skip the step, back off, restart the growth count */
        s->scale *= 0.5f;
        s->tracker = 0;
        s->skipped++;
        *norm = NAN;
        return 0;
    }
    /* unscale by the reciprocal computed in double then cast, as GradScaler does */
    m->be->scale(m->grads_mem, (float)(1.0 / (double)s->scale), m->n_params);
    *norm = bb_model_step(m, opt, lr);
    if (++s->tracker == s->growth_interval) {
        s->scale *= 2.0f;
        s->tracker = 0;
    }
    return 1;
}

double bb_model_flops_per_token(const bb_config *c, int T) {
    bb_tensor_spec s[BB_N_PARAMS];
    bb_param_specs(c, s);
    double n = 0;
    for (int i = 0; i < BB_N_PARAMS; i++)
        if (i != BB_P_WPE) n += (double)s[i].numel;
    if (bb_family_traits[c->family].tied_head) n += 0;  /* wte counted once: it is the head matmul */
    else n -= (double)s[BB_P_WTE].numel;      /* the embedding lookup is not a matmul */
    /* 6N for the matmuls (forward 2N, backward 4N) plus attention 12 L C T, the PaLM
     * convention (Chowdhery et al. 2022, appendix B), which counts the causal half too. */
    return 6.0 * n + 12.0 * c->n_layer * (double)T * c->n_embd;
}
