/* kvcache.c — see kvcache.h. The step is the forward of model.c for N = n_seqs rows at one
 * position, with attention over the cached keys and values instead of the full sequence. */
#include "kvcache.h"
#include "../common/check.h"
#include "alloc.h"
#include "cpu/isa.h"
#include "model_internal.h"
#include <math.h>
#include <string.h>

int bb_kvcache_init(bb_kvcache *kv, const bb_model *m, int max_seqs, int max_len, char *err, size_t err_len) {
    memset(kv, 0, sizeof *kv);
    const bb_config *c = &m->cfg;
    if (max_len > c->max_seq) {
        snprintf(err, err_len, "decode length %d exceeds the model's max_seq %d", max_len, c->max_seq);
        return -1;
    }
    size_t S = (size_t)max_seqs, L = (size_t)c->n_layer, C = (size_t)c->n_embd, hd = C / (size_t)c->n_head;
    size_t NKV = (size_t)c->n_kv_head, QKV = ((size_t)c->n_head + 2 * NKV) * hd, F = (size_t)c->ffn_hidden;
    size_t FF1 = bb_family_traits[c->family].swiglu ? 2 * F : F, V = (size_t)c->vocab_size;
    kv->max_seqs = max_seqs;
    kv->max_len = max_len;
    size_t cache = L * S * NKV * (size_t)max_len * hd;
    kv->k = bb_alloc(BB_MEM_ACTS, cache * sizeof(float));
    kv->v = bb_alloc(BB_MEM_ACTS, cache * sizeof(float));
    size_t sizes[] = {S * C, S * C, S, S, S * QKV, S * C, S * C, S, S * FF1, S * F, S * F, S, S * C, S * V,
                      S * (size_t)c->n_head * (size_t)max_len};
    float **ptrs[] = {&kv->x, &kv->h, &kv->mean, &kv->rstd, &kv->qkv, &kv->atty, &kv->att_n, &kv->att_rstd,
                      &kv->fch, &kv->fch_act, &kv->fch_n, &kv->fch_rstd, &kv->x2, &kv->logits, &kv->scores};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) *ptrs[i] = bb_alloc(BB_MEM_WORKSPACE, sizes[i] * sizeof(float));
    kv->k_tmp = bb_alloc(BB_MEM_WORKSPACE, S * NKV * (size_t)max_len * hd * sizeof(float));
    kv->v_tmp = bb_alloc(BB_MEM_WORKSPACE, S * NKV * (size_t)max_len * hd * sizeof(float));
    return 0;
}

void bb_kvcache_free(bb_kvcache *kv) {
    float *ptrs[] = {kv->k, kv->v, kv->x, kv->h, kv->mean, kv->rstd, kv->qkv, kv->atty, kv->att_n, kv->att_rstd,
                     kv->fch, kv->fch_act, kv->fch_n, kv->fch_rstd, kv->x2, kv->logits, kv->scores, kv->k_tmp,
                     kv->v_tmp};
    for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++) bb_free(ptrs[i]);
    memset(kv, 0, sizeof *kv);
}

/* Cache slot of (layer, seq, kv head): max_len rows of hd. */
static size_t slot(const bb_kvcache *kv, const bb_model *m, int l, int s, int h) {
    size_t hd = (size_t)(m->cfg.n_embd / m->cfg.n_head), NKV = (size_t)m->cfg.n_kv_head;
    return ((((size_t)l * (size_t)kv->max_seqs + (size_t)s) * NKV + (size_t)h) * (size_t)kv->max_len) * hd;
}

const float *bb_kvcache_prefill(bb_model *m, bb_kvcache *kv, const int *tokens, int P) {
    /* every layer's qkv from the forward's tables: a forward-only model keeps one layer's */
    BB_CHECK(P >= 1 && P <= kv->max_len && !m->forward_only);
    /* so does block checkpointing (a training model decoding, bench throughput): the
     * prompt's forward runs with every layer's tables, carved anew (m->B = 0) there and
     * again by the next forward in the model's own mode */
    bb_ckpt_mode mode = m->ckpt_mode;
    if (mode == BB_CKPT_BLOCK) {
        m->ckpt_mode = BB_CKPT_NONE;
        m->B = 0;
    }
    bb_model_forward(m, tokens, NULL, 1, P);
    const bb_config *c = &m->cfg;
    int L = c->n_layer, C = c->n_embd, hd = C / c->n_head, NKV = c->n_kv_head, QKV = (c->n_head + 2 * NKV) * hd;
    size_t per = (size_t)P * QKV;  /* B = 1 */
    /* fp16/bf16 keep every layer's qkv in 16 bits, exact (model.h bb_acts qkv_h) */
    float *unpacked = m->acts.qkv_h ? bb_alloc(BB_MEM_WORKSPACE, per * sizeof(float)) : NULL;
    for (int l = 0; l < L; l++) {
        const float *qkv = m->acts.qkv + (size_t)l * per;
        if (unpacked) {
            bb_eltwise()->from_half(unpacked, m->acts.qkv_h + (size_t)l * per, per, c->act_quant == BB_ACTQ_BF16);
            qkv = unpacked;
        }
        for (int h = 0; h < NKV; h++) {
            float *k = kv->k + slot(kv, m, l, 0, h), *v = kv->v + slot(kv, m, l, 0, h);
            for (int t = 0; t < P; t++) {
                memcpy(k + (size_t)t * hd, qkv + (size_t)t * QKV + C + (size_t)h * hd, (size_t)hd * sizeof(float));
                memcpy(v + (size_t)t * hd, qkv + (size_t)t * QKV + C + (size_t)(NKV + h) * hd, (size_t)hd * sizeof(float));
            }
        }
    }
    bb_free(unpacked);
    if (mode == BB_CKPT_BLOCK) {
        m->ckpt_mode = mode;
        m->B = 0;
    }
    kv->len = P;
    kv->n_seqs = 1;
    return m->acts.logits + (size_t)(P - 1) * c->vocab_size;
}

static void copy_slots(bb_kvcache *kv, const bb_model *m, const int *parent, int S) {
    int L = m->cfg.n_layer, NKV = m->cfg.n_kv_head, hd = m->cfg.n_embd / m->cfg.n_head;
    size_t per_seq = (size_t)NKV * (size_t)kv->max_len * (size_t)hd, used = (size_t)kv->len * (size_t)hd;
    for (int l = 0; l < L; l++) {
        for (int s = 0; s < S; s++)
            for (int h = 0; h < NKV; h++) {
                memcpy(kv->k_tmp + (size_t)s * per_seq + (size_t)h * kv->max_len * hd, kv->k + slot(kv, m, l, parent[s], h),
                       used * sizeof(float));
                memcpy(kv->v_tmp + (size_t)s * per_seq + (size_t)h * kv->max_len * hd, kv->v + slot(kv, m, l, parent[s], h),
                       used * sizeof(float));
            }
        for (int s = 0; s < S; s++)
            for (int h = 0; h < NKV; h++) {
                memcpy(kv->k + slot(kv, m, l, s, h), kv->k_tmp + (size_t)s * per_seq + (size_t)h * kv->max_len * hd,
                       used * sizeof(float));
                memcpy(kv->v + slot(kv, m, l, s, h), kv->v_tmp + (size_t)s * per_seq + (size_t)h * kv->max_len * hd,
                       used * sizeof(float));
            }
    }
    kv->n_seqs = S;
}

void bb_kvcache_replicate(bb_kvcache *kv, const bb_model *m, int S) {
    BB_CHECK(S >= 1 && S <= kv->max_seqs);
    int parent[S];
    for (int s = 0; s < S; s++) parent[s] = 0;
    copy_slots(kv, m, parent, S);
}

void bb_kvcache_reorder(bb_kvcache *kv, const bb_model *m, const int *parent, int S) {
    BB_CHECK(S >= 1 && S <= kv->max_seqs);
    for (int s = 0; s < S; s++) BB_CHECK(parent[s] >= 0 && parent[s] < kv->n_seqs);
    copy_slots(kv, m, parent, S);
}

/* Attention of one new query per (sequence, head) over the cached positions 0..len. */
static void attention_step(bb_kvcache *kv, const bb_model *m, int l) {
    const bb_config *c = &m->cfg;
    int S = kv->n_seqs, NH = c->n_head, NKV = c->n_kv_head, C = c->n_embd, hd = C / NH, group = NH / NKV;
    int QKV = (NH + 2 * NKV) * hd, n = kv->len + 1;
    float scale = 1.0f / sqrtf((float)hd);
    const bb_eltwise_kernels *k = bb_eltwise();
    bb_att_fmt fmt = bb_model_att_fmt(c);
#pragma omp parallel for schedule(static) if ((size_t)S * NH * n * hd >= 32768)
    for (int sh = 0; sh < S * NH; sh++) {
        int s = sh / NH, h = sh % NH, kvh = h / group;
        const float *q = kv->qkv + (size_t)s * QKV + (size_t)h * hd;
        const float *K = kv->k + slot(kv, m, l, s, kvh), *V = kv->v + slot(kv, m, l, s, kvh);
        float *p = kv->scores + (size_t)sh * kv->max_len, maxv = -INFINITY;
        for (int t = 0; t < n; t++) {
            float dot = 0.0f;
            for (int i = 0; i < hd; i++) dot += q[i] * K[(size_t)t * hd + i];
            p[t] = dot * scale;
            maxv = p[t] > maxv ? p[t] : maxv;
        }
        float inv = 1.0f / k->exp_shift_sum(p, p, maxv, (size_t)n);
        for (int t = 0; t < n; t++) p[t] *= inv;
        /* mixed precision: the probabilities rounded as the training attention rounds them */
        if (fmt == BB_ATT_F16) k->fake_fp16(p, (size_t)n);
        else if (fmt == BB_ATT_BF16) k->fake_bf16(p, (size_t)n);
        float *y = kv->atty + (size_t)s * C + (size_t)h * hd;
        for (int i = 0; i < hd; i++) y[i] = 0.0f;
        for (int t = 0; t < n; t++)
            for (int i = 0; i < hd; i++) y[i] += p[t] * V[(size_t)t * hd + i];
    }
}

const float *bb_kvcache_step(bb_model *m, bb_kvcache *kv, const int *tokens) {
    BB_CHECK(kv->len < kv->max_len && kv->n_seqs >= 1);
    const bb_config *c = &m->cfg;
    const bb_family_traits_t *f = &bb_family_traits[c->family];
    const bb_backend *be = m->be;
    int S = kv->n_seqs, L = c->n_layer, C = c->n_embd, NH = c->n_head, NKV = c->n_kv_head, hd = C / NH;
    int QKV = (NH + 2 * NKV) * hd, F = c->ffn_hidden, FF1 = f->swiglu ? 2 * F : F, V = c->vocab_size, pos = kv->len;
    int half = hd / 2;
    bool subln = bb_precisions[c->precision].subln;
    for (int s = 0; s < S; s++) {
        BB_CHECK(tokens[s] >= 0 && tokens[s] < V);
        memcpy(kv->x + (size_t)s * C, bb_model_embed(m) + (size_t)tokens[s] * C, (size_t)C * sizeof(float));
        if (m->params.wpe)
            for (int i = 0; i < C; i++) kv->x[(size_t)s * C + i] += m->params.wpe[(size_t)pos * C + i];
    }
    float *x = kv->x, *x2 = kv->x2;
    bb_model_round_residual(m, x, (size_t)S * C);
    for (int l = 0; l < L; l++) {
        layer_params p = LAYER_VIEW(m->params, m->specs, l);
        bb_model_norm_forward(m, kv->h, kv->mean, kv->rstd, x, p.ln1w, p.ln1b, S);
        bb_model_linear_forward(m, 0, l, kv->qkv, kv->h, p.qkvb, S, C, QKV, 0);
        if (!f->learned_pos)  /* one position: the tables offset to pos, T = 1 */
            be->rope_forward(kv->qkv, m->rope_cos + (size_t)pos * half, m->rope_sin + (size_t)pos * half, S, 1, NH,
                             NKV, hd);
        bb_model_round_output(m, kv->qkv, (size_t)S * QKV);
        for (int s = 0; s < S; s++)
            for (int h = 0; h < NKV; h++) {
                memcpy(kv->k + slot(kv, m, l, s, h) + (size_t)pos * hd, kv->qkv + (size_t)s * QKV + C + (size_t)h * hd,
                       (size_t)hd * sizeof(float));
                memcpy(kv->v + slot(kv, m, l, s, h) + (size_t)pos * hd,
                       kv->qkv + (size_t)s * QKV + C + (size_t)(NKV + h) * hd, (size_t)hd * sizeof(float));
            }
        attention_step(kv, m, l);
        float *att_in = kv->atty;
        if (subln) {
            be->rmsnorm_forward(kv->att_n, kv->att_rstd, kv->atty, p.subln_attw, S, C, c->norm_eps);
            att_in = kv->att_n;
        }
        be->residual_bias_forward(x2, x, p.attprojb, S, C);
        bb_model_linear_forward(m, 1, l, x2, att_in, NULL, S, C, C, 1);
        bb_model_round_residual(m, x2, (size_t)S * C);
        bb_model_norm_forward(m, kv->h, kv->mean, kv->rstd, x2, p.ln2w, p.ln2b, S);
        bb_model_linear_forward(m, 2, l, kv->fch, kv->h, p.fcb, S, C, FF1, 0);
        bb_model_round_output(m, kv->fch, (size_t)S * FF1);
        if (f->swiglu) be->swiglu_forward(kv->fch_act, kv->fch, S, F);
        else be->gelu_forward(kv->fch_act, kv->fch, S, F);
        float *fc_in = kv->fch_act;
        if (subln) {
            be->rmsnorm_forward(kv->fch_n, kv->fch_rstd, kv->fch_act, p.subln_ffnw, S, F, c->norm_eps);
            fc_in = kv->fch_n;
        }
        be->residual_bias_forward(x, x2, p.fcprojb, S, C);
        bb_model_linear_forward(m, 3, l, x, fc_in, NULL, S, F, C, 1);
        bb_model_round_residual(m, x, (size_t)S * C);
    }
    bb_model_norm_forward(m, kv->h, kv->mean, kv->rstd, x, m->params.lnfw, m->params.lnfb, S);
    bb_model_head_forward(m, kv->logits, kv->h, S);
    kv->len++;
    return kv->logits;
}
