/* lora.c — LoRA adapters: configuration, the adapter table, forward / backward of one
 * adapted linear, dropout masks and the AdamW step (see lora.h). Files and merge are in
 * lora_io.c. */
#include "lora.h"
#include "../common/check.h"
#include "../common/parallel.h"
#include "alloc.h"
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- configuration ---------------------------------------------------------------- */

bb_lora_config bb_lora_config_default(void) {
    return (bb_lora_config){.r = 8, .alpha = 8.0f, .dropout = 0.0f, .rslora = false, .targets = BB_LORA_QKV};
}

float bb_lora_scaling(const bb_lora_config *c) {
    return c->rslora ? c->alpha / sqrtf((float)c->r) : c->alpha / (float)c->r;  /* PEFT LoraLayer.update_layer */
}

static const struct {
    const char *name;
    unsigned bits;
} target_names[] = {
    {"all-linear", BB_LORA_ALL}, {"attn", BB_LORA_QKV | BB_LORA_ATTPROJ}, {"mlp", BB_LORA_FC | BB_LORA_FCPROJ},
    {"qkv", BB_LORA_QKV},        {"attproj", BB_LORA_ATTPROJ},            {"fc", BB_LORA_FC},
    {"fcproj", BB_LORA_FCPROJ},
};
enum { N_TARGET_NAMES = sizeof target_names / sizeof target_names[0] };

void bb_lora_targets_name(unsigned targets, char *out, size_t cap) {
    for (int i = 0; i < N_TARGET_NAMES; i++)
        if (target_names[i].bits == targets) {
            snprintf(out, cap, "%s", target_names[i].name);
            return;
        }
    size_t n = 0;
    out[0] = 0;
    for (int i = 3; i < N_TARGET_NAMES; i++)  /* the single linears */
        if (targets & target_names[i].bits)
            n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s%s", n ? "+" : "", target_names[i].name);
}

static int parse_targets(const char *v, unsigned *bits) {
    *bits = 0;
    while (*v) {
        size_t len = strcspn(v, "+");
        int found = -1;
        for (int i = 0; i < N_TARGET_NAMES; i++)
            if (strlen(target_names[i].name) == len && strncmp(v, target_names[i].name, len) == 0) found = i;
        if (found < 0) return -1;
        *bits |= target_names[found].bits;
        v += len + (v[len] == '+');
    }
    return *bits ? 0 : -1;
}

/* A number in [lo, hi) (r: an integer in [lo, hi]); alpha's lo is exclusive. */
static bool number_in(const char *v, double lo, double hi, bool integer, double *out) {
    char *end;
    double x = integer ? (double)strtol(v, &end, 10) : strtod(v, &end);
    *out = x;
    if (*end || end == v || !isfinite(x)) return false;
    return integer ? x >= lo && x <= hi : x >= lo && x < hi;
}

int bb_lora_config_parse(bb_lora_config *c, const char *spec, char *err, size_t err_len) {
    static const char keys[] = "keys: r, alpha, dropout, targets, rslora";
    char buf[512];
    if (strlen(spec) >= sizeof buf) { snprintf(err, err_len, "--lora list too long"); return -1; }
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        const char *v = eq ? eq + 1 : NULL;
        if (eq) *eq = 0;
        double x;
        bool ok = true;
        if (strcmp(tok, "rslora") == 0) {  /* a flag, or rslora=0/1/true/false */
            ok = !v || strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "0") == 0 || strcmp(v, "false") == 0;
            c->rslora = !v || strcmp(v, "1") == 0 || strcmp(v, "true") == 0;
        } else if (!v) {
            snprintf(err, err_len, "--lora item '%.40s' is not key=value (%s)", tok, keys);
            return -1;
        } else if (strcmp(tok, "r") == 0) {
            ok = number_in(v, 1, 4096, true, &x);
            c->r = (int)x;
        } else if (strcmp(tok, "alpha") == 0) {
            ok = number_in(v, 0, INFINITY, false, &x) && x > 0;
            c->alpha = (float)x;
        } else if (strcmp(tok, "dropout") == 0) {
            ok = number_in(v, 0, 1, false, &x);
            c->dropout = (float)x;
        } else if (strcmp(tok, "targets") == 0) {
            if (parse_targets(v, &c->targets) != 0) {
                snprintf(err, err_len, "--lora targets '%.40s' unknown (all-linear, attn, mlp, qkv, attproj, fc, "
                         "fcproj, or several joined by +)", v);
                return -1;
            }
        } else {
            snprintf(err, err_len, "--lora key '%.40s' unknown (%s)", tok, keys);
            return -1;
        }
        if (!ok) {
            static const char *const ranges[][2] = {{"r", "an integer 1..4096"}, {"alpha", "> 0"},
                                                    {"dropout", "in [0, 1)"}, {"rslora", "a flag, 0 or 1"}};
            const char *range = "valid";
            for (int i = 0; i < 4; i++)
                if (strcmp(tok, ranges[i][0]) == 0) range = ranges[i][1];
            snprintf(err, err_len, "--lora %s must be %s, got '%.20s'", tok, range, v ? v : "");
            return -1;
        }
    }
    return 0;
}

/* ---- the adapter table -------------------------------------------------------------- */

size_t bb_lora_in_features(const bb_model *m, int k) { return m->specs[bb_quantized_params[k]].shape[2]; }
size_t bb_lora_out_features(const bb_model *m, int k) { return m->specs[bb_quantized_params[k]].shape[1]; }

static const char *const a_names[BB_N_QUANTIZED] = {"qkv.lora_A", "attproj.lora_A", "fc.lora_A", "fcproj.lora_A"};
static const char *const b_names[BB_N_QUANTIZED] = {"qkv.lora_B", "attproj.lora_B", "fc.lora_B", "fcproj.lora_B"};

static void carve(bb_lora_ptrs *p, float *mem, const bb_tensor_spec *s) {
    for (int i = 0; i < BB_LORA_N_TENSORS; i++) {
        p->t[i] = s[i].numel ? mem : NULL;
        mem += s[i].numel;
    }
}

static uint64_t mix64(uint64_t z) {  /* splitmix64's finalizer: the n-th output is mix64(seed + n * golden) */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
#define GOLDEN 0x9e3779b97f4a7c15ull

int bb_lora_attach(bb_model *m, const bb_lora_config *c, uint64_t seed, char *err, size_t err_len) {
    if (!m->frozen_base || m->lora) {
        snprintf(err, err_len, "LoRA adapters attach to a frozen base without adapters");
        return -1;
    }
    bool valid = c->r >= 1 && c->alpha > 0 && c->dropout >= 0 && c->dropout < 1;
    if (!valid || !c->targets || c->targets > BB_LORA_ALL) {
        snprintf(err, err_len, "invalid LoRA config (r >= 1, alpha > 0, 0 <= dropout < 1, some targets)");
        return -1;
    }
    bb_lora *lo = bb_alloc(BB_MEM_OTHER, sizeof *lo);
    lo->cfg = *c;
    lo->scaling = bb_lora_scaling(c);
    lo->seed = seed;
    size_t L = (size_t)m->cfg.n_layer, r = (size_t)c->r;
    for (int k = 0; k < BB_N_QUANTIZED; k++) {
        bool on = c->targets & (1u << k);
        size_t in = bb_lora_in_features(m, k), out = bb_lora_out_features(m, k);
        lo->specs[2 * k] = (bb_tensor_spec){a_names[k], 3, {L, r, in}, on ? L * r * in : 0, true};
        lo->specs[2 * k + 1] = (bb_tensor_spec){b_names[k], 3, {L, out, r}, on ? L * out * r : 0, true};
    }
    for (int i = 0; i < BB_LORA_N_TENSORS; i++) lo->n_params += lo->specs[i].numel;
    lo->params_mem = bb_alloc(BB_MEM_ADAPTERS, lo->n_params * sizeof(float));
    lo->grads_mem = bb_alloc(BB_MEM_ADAPTER_GRADS, lo->n_params * sizeof(float));
    lo->m_mem = bb_alloc(BB_MEM_ADAPTER_OPTIM, lo->n_params * sizeof(float));
    lo->v_mem = bb_alloc(BB_MEM_ADAPTER_OPTIM, lo->n_params * sizeof(float));
    carve(&lo->params, lo->params_mem, lo->specs);
    carve(&lo->grads, lo->grads_mem, lo->specs);
    carve(&lo->m, lo->m_mem, lo->specs);
    carve(&lo->v, lo->v_mem, lo->specs);
    /* A ~ U(-1/sqrt(in), 1/sqrt(in)): kaiming_uniform_(a = sqrt(5)) has gain sqrt(2/6) and
     * bound gain * sqrt(3 / fan_in) = 1/sqrt(fan_in) (PEFT reset_lora_parameters). B = 0. */
    for (int k = 0; k < BB_N_QUANTIZED; k++) {
        float *A = lo->params.t[2 * k];
        if (!A) continue;
        double bound = 1.0 / sqrt((double)bb_lora_in_features(m, k));
        uint64_t key = mix64(seed * 0x100000001b3ull + (uint64_t)(k + 1) * GOLDEN);
        for (size_t e = 0; e < lo->specs[2 * k].numel; e++) {
            double u = (double)(mix64(key + (e + 1) * GOLDEN) >> 11) * 0x1.0p-53;  /* [0, 1) */
            A[e] = (float)((2.0 * u - 1.0) * bound);
        }
    }
    m->lora = lo;
    m->B = m->T = 0;  /* the next forward carves the adapters' activations too */
    return 0;
}

void bb_lora_free(bb_lora *lo) {
    bb_free(lo->params_mem); bb_free(lo->grads_mem); bb_free(lo->m_mem); bb_free(lo->v_mem);
    bb_free(lo->acts_mem); bb_free(lo->mask_mem); bb_free(lo->scratch); bb_free(lo->infer_scratch);
    bb_free(lo);
}

void bb_lora_set_training(bb_model *m, bool on) {
    if (m->lora) m->lora->training = on;
}

double bb_lora_flops_per_token(const bb_model *m, int T) {
    const bb_config *c = &m->cfg;
    double base = (double)c->vocab_size * c->n_embd;  /* the head matmul */
    for (int k = 0; k < BB_N_QUANTIZED; k++) base += (double)m->specs[bb_quantized_params[k]].numel;
    double adapters = m->lora ? (double)m->lora->n_params : 0;
    return 4.0 * base + 6.0 * adapters + 12.0 * c->n_layer * (double)T * c->n_embd;
}

/* ---- activations -------------------------------------------------------------------- */

void bb_lora_ensure_acts(bb_model *m, int B, int T) {
    bb_lora *lo = m->lora;
    size_t N = (size_t)B * T, Lk = m->ckpt_mode == BB_CKPT_BLOCK ? 1 : (size_t)m->cfg.n_layer, r = (size_t)lo->cfg.r;
    bool drop = lo->cfg.dropout > 0;
    size_t nh = 0, nmask = 0, max_in = 0;
    for (int k = 0; k < BB_N_QUANTIZED; k++) {
        if (!lo->params.t[2 * k]) continue;
        size_t in = bb_lora_in_features(m, k);
        nh += Lk * N * r;
        nmask += drop ? Lk * N * in : 0;
        max_in = in > max_in ? in : max_in;
    }
    if (nh > lo->acts_cap) {
        bb_free(lo->acts_mem);
        lo->acts_mem = bb_alloc(BB_MEM_ACTS, nh * sizeof(float));
        lo->acts_cap = nh;
    }
    if (nmask > lo->mask_cap) {
        bb_free(lo->mask_mem);
        lo->mask_mem = bb_alloc(BB_MEM_ACTS, nmask);
        lo->mask_cap = nmask;
    }
    size_t ns = N * r + (drop ? N * max_in : 0);
    if (ns > lo->scratch_cap) {
        bb_free(lo->scratch);
        lo->scratch = bb_alloc(BB_MEM_WORKSPACE, ns * sizeof(float));
        lo->scratch_cap = ns;
    }
    float *p = lo->acts_mem;
    uint8_t *q = lo->mask_mem;
    for (int k = 0; k < BB_N_QUANTIZED; k++) {
        lo->h[k] = NULL;
        lo->mask[k] = NULL;
        if (!lo->params.t[2 * k]) continue;
        lo->h[k] = p;
        p += Lk * N * r;
        if (drop) {
            lo->mask[k] = q;
            q += Lk * N * bb_lora_in_features(m, k);
        }
    }
    lo->N = (int)N;
}

void bb_lora_begin_forward(bb_lora *lo) {
    if (lo->training && lo->cfg.dropout > 0) lo->calls++;
}

/* The dropout mask of (call, layer, linear): element e is kept when the top 24 bits of
 * mix64(key + e golden) are >= p 2^24, so P(drop) = p to 2^-24; stateless, hence the same
 * bits when checkpointing recomputes the layer and for any thread count. */
static void draw_mask(const bb_lora *lo, uint8_t *mask, int l, int k, size_t n) {
    uint64_t key = mix64(mix64(lo->seed ^ 0x6c6f7261ull) + lo->calls * GOLDEN + (uint64_t)(l * BB_N_QUANTIZED + k + 1));
    uint32_t thr = (uint32_t)((double)lo->cfg.dropout * 16777216.0 + 0.5);
#pragma omp parallel for schedule(static) if (n >= BB_PAR_MIN_WORK)
    for (size_t e = 0; e < n; e++) mask[e] = (uint32_t)(mix64(key + (e + 1) * GOLDEN) >> 40) >= thr;
}

/* ---- one adapted linear ----------------------------------------------------------------- */

static void apply_mask(float *dst, const float *src, const uint8_t *mask, float keep_scale, size_t n, int add) {
#pragma omp parallel for schedule(static) if (n >= BB_PAR_MIN_WORK)
    for (size_t i = 0; i < n; i++) {
        float v = mask[i] ? src[i] * keep_scale : 0.0f;
        dst[i] = add ? dst[i] + v : v;
    }
}

void bb_lora_linear_forward(float *out, float *h, const float *x, const float *A, const float *B, const uint8_t *mask,
                            float keep_scale, float scaling, float *scratch, int N, int C, int OC, int r) {
    const float *xin = x;
    if (mask) {
        apply_mask(scratch, x, mask, keep_scale, (size_t)N * C, 0);
        xin = scratch;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, r, C, 1.0f, xin, C, A, C, 0.0f, h, r);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, r, scaling, h, r, B, r, 1.0f, out, OC);
}

void bb_lora_linear_backward(float *dx, float *dA, float *dB, const float *dy, const float *x, const float *h,
                             const float *A, const float *B, const uint8_t *mask, float keep_scale, float scaling,
                             float *scratch, int N, int C, int OC, int r) {
    float *dh = scratch + (mask ? (size_t)N * C : 0);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, r, N, scaling, dy, OC, h, r, 1.0f, dB, r);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, r, OC, scaling, dy, OC, B, r, 0.0f, dh, r);
    const float *xin = x;
    if (mask) {  /* the dropped input again, from the kept mask: the same bits as the forward's */
        apply_mask(scratch, x, mask, keep_scale, (size_t)N * C, 0);
        xin = scratch;
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r, C, N, 1.0f, dh, r, xin, C, 1.0f, dA, C);
    if (!dx) return;
    if (!mask) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, r, 1.0f, dh, r, A, C, 1.0f, dx, C);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, r, 1.0f, dh, r, A, C, 0.0f, scratch, C);
    apply_mask(dx, scratch, mask, keep_scale, (size_t)N * C, 1);
}

/* ---- engine hooks ------------------------------------------------------------------------- */

typedef struct {
    const float *A, *B;
    float *dA, *dB, *h;
    uint8_t *mask;
} adapter_view;

static adapter_view view_of(const bb_model *m, int k, int l, int N, int C, int OC) {
    const bb_lora *lo = m->lora;
    size_t r = (size_t)lo->cfg.r, slot = m->ckpt_mode == BB_CKPT_BLOCK ? 0 : (size_t)l;
    bool masked = lo->training && lo->cfg.dropout > 0;
    return (adapter_view){lo->params.t[2 * k] + (size_t)l * r * C, lo->params.t[2 * k + 1] + (size_t)l * OC * r,
                          lo->grads.t[2 * k] + (size_t)l * r * C, lo->grads.t[2 * k + 1] + (size_t)l * OC * r,
                          lo->h[k] + slot * N * r, masked ? lo->mask[k] + slot * N * C : NULL};
}

void bb_lora_forward(bb_model *m, int k, int l, float *out, const float *x, int N, int C, int OC) {
    bb_lora *lo = m->lora;
    if (!lo->params.t[2 * k]) return;
    if (N != lo->N) {
        /* a forward outside bb_model_forward's (B, T) tables (the KV-cache decoder's prefill
         * and steps): inference only, no dropout, nothing kept for backward */
        const float *A = lo->params.t[2 * k] + (size_t)l * lo->cfg.r * C;
        const float *Bm = lo->params.t[2 * k + 1] + (size_t)l * OC * lo->cfg.r;
        size_t need = (size_t)N * lo->cfg.r * 2 + (size_t)N * C;  /* h, then N C + N r of scratch */
        if (need > lo->infer_cap) { /* kept across calls: a decode step runs every adapted linear */
            bb_free(lo->infer_scratch);
            lo->infer_scratch = bb_alloc(BB_MEM_WORKSPACE, need * sizeof(float));
            lo->infer_cap = need;
        }
        float *h = lo->infer_scratch;
        bb_lora_linear_forward(out, h, x, A, Bm, NULL, 1.0f, lo->scaling, h + (size_t)N * lo->cfg.r, N, C, OC, lo->cfg.r);
        return;
    }
    adapter_view v = view_of(m, k, l, N, C, OC);
    if (v.mask) draw_mask(lo, v.mask, l, k, (size_t)N * C);
    bb_lora_linear_forward(out, v.h, x, v.A, v.B, v.mask, 1.0f / (1.0f - lo->cfg.dropout), lo->scaling, lo->scratch,
                           N, C, OC, lo->cfg.r);
}

void bb_lora_backward(bb_model *m, int k, int l, float *dx, const float *dy, const float *x, int N, int C, int OC) {
    bb_lora *lo = m->lora;
    if (!lo->params.t[2 * k]) return;
    BB_CHECK(N == lo->N);
    adapter_view v = view_of(m, k, l, N, C, OC);
    bb_lora_linear_backward(dx, v.dA, v.dB, dy, x, v.h, v.A, v.B, v.mask, 1.0f / (1.0f - lo->cfg.dropout), lo->scaling,
                            lo->scratch, N, C, OC, lo->cfg.r);
}

void bb_lora_zero_grad(bb_lora *lo) { memset(lo->grads_mem, 0, lo->n_params * sizeof(float)); }

double bb_lora_grad_norm(const bb_model *m) {
    return sqrt(m->be->sum_squares(m->lora->grads_mem, m->lora->n_params));
}

float bb_lora_step(bb_model *m, const bb_adamw *opt, float lr) {
    bb_lora *lo = m->lora;
    double norm = bb_lora_grad_norm(m);
    if (opt->grad_clip > 0.0f) {
        double coef = opt->grad_clip / (norm + 1e-6);
        if (coef < 1.0) m->be->scale(lo->grads_mem, (float)coef, lo->n_params);
    }
    m->step++;
    for (int i = 0; i < BB_LORA_N_TENSORS; i++)
        if (lo->specs[i].numel)
            m->be->adamw_update(lo->params.t[i], lo->grads.t[i], lo->m.t[i], lo->v.t[i], lo->specs[i].numel, lr,
                                opt->beta1, opt->beta2, opt->eps, opt->weight_decay, m->step);
    return (float)norm;
}
