/* parity_dump.c — writes the files tests/ref/torch_parity.py checks (contract in
 * tests/ref/README.md): a tiny model of one family, one batch with some targets masked,
 * our logits, loss and every gradient, and the losses of 10 AdamW steps (warmup +
 * cosine, clipping on) on that batch.
 * Usage: parity_dump gpt2|llama MODEL.safetensors IO.safetensors [PRECISION [token|block] [qh|qe|qhe] [hr]]
 * PRECISION (fp32 default, fp16, bf16, int8, int4, b158) trains the model quantization-
 * aware (precision.h); token|block picks int4's activation quantization (per token,
 * default, or per block of `group`); qh, qe, qhe turn on quant_head, quant_embed or both
 * (config.h; a quantized PRECISION only); hr turns on half_residual (config.h; fp16 or bf16
 * only). The options after PRECISION come in any order, each at most once. The config
 * metadata then carries precision, group and act_quant (and the three flags when on) as in
 * checkpoints (bb_config_to_json), and every
 * quantized layer matrix (and quantized head / embedding table) gets exact rounding ties
 * (seed_ties). With a PRECISION argument the IO file
 * also carries the engine's parameters before every step and after the last
 * (train_params.<name>, (S+1, ...)) and its raw gradient at every step (train_grads.<name>,
 * (S, ...)), so that the checker can follow our own trajectory: quantization makes two
 * free-running trainings drift apart (README, "Rounding decisions"). A quantized
 * precision adds what the forward of every step computed with: the fake-quant weights
 * (train_wq.<name>, (S, L, OC, C)) and the quantized inputs of the four linears
 * (train_qacts.<site>, (S, L, B, T, C or F); sites qkv, attproj, fc, fcproj), and for
 * fp16/bf16 the linear outputs they round to 16 bits (qkv_out (S, L, B, T, QKV) after
 * RoPE, fc_out (S, L, B, T, FF1)) and the attention probabilities they round (att,
 * (S, L, B, NH, T, T)). quant_head adds the fake-quant head (train_wq.head, (S, V, C):
 * head_q) and its quantized input, acts.lnf after the forward (train_qacts.head,
 * (S, B, T, C)), and for fp16/bf16 the logits it rounds (train_qacts.head_out,
 * (S, B, T, V)); quant_embed the fake-quant table the lookup read (train_wq.embed,
 * (S, V, C): embed_q, which is head_q for gpt2 with both); half_residual the residual
 * stream as the forward rounded it: the embedding sum (train_qacts.encoded, (S, B, T, C))
 * and every block's two residual additions (train_qacts.residual2, .residual3,
 * (S, L, B, T, C)). */
#include "../engine/cpu/isa.h"
#include "../engine/alloc.h"
#include "../engine/checkpoint.h"
#include "../engine/model.h"
#include "../engine/safetensors.h"
#include "../engine/schedule.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

enum { B = 2, T = 16, STEPS = 10 };

static bb_st_tensor f32(const char *name, const float *data, int ndim, const size_t *shape) {
    bb_st_tensor t = {.name = name, .dtype = BB_DT_F32, .ndim = ndim, .data = data};
    for (int d = 0; d < ndim; d++) t.shape[d] = (int64_t)shape[d];
    return t;
}

/* ---- exact rounding ties in the quantized weights ----------------------------------
 * Random weights almost never sit exactly halfway between two codes, so a quantizer that
 * breaks ties the wrong way (to even instead of away from zero, or away instead of to
 * even for fp16/bf16) would pass. seed_ties() plants one exact tie per row of every
 * quantized layer matrix (and per int4 group), each with an even lower neighbour so that
 * the two rules disagree; the checker compares the fake-quant weights bit for bit. */

/* The float w next to t / inv with w * inv == t exactly (float arithmetic), or NAN. */
static float exact_tie(float t, float inv) {  /* inv > 0 */
    float w = t / inv;
    for (int k = 0; k < 64 && w * inv != t; k++) w = nextafterf(w, w * inv < t ? INFINITY : -INFINITY);
    return w * inv == t ? w : NAN;
}

/* The scale reciprocal fakequant.c uses for the group x[0..n) (b158: the whole matrix). */
static float quant_inv(const bb_config *c, const float *x, int n) {
    if (c->precision == BB_PREC_B158) {
        double sum = 0.0;
        for (int i = 0; i < n; i++) sum += fabs((double)x[i]);
        return 1.0f / fmaxf((float)(sum / (double)n), 1e-5f);
    }
    float amax = 0.0f;
    for (int i = 0; i < n; i++) amax = fmaxf(amax, fabsf(x[i]));
    if (c->precision == BB_PREC_INT8) return amax > 0 ? 1.0f / (amax / 127.0f) : 0.0f;
    return 1.0f / fmaxf(amax / 7.5f, 1e-9f);  /* int4 */
}

/* Is w a tie whose two candidates round differently under the wrong rule? */
static bool is_tie(const bb_config *c, float w, float inv) {
    uint32_t u;
    memcpy(&u, &w, 4);
    if (c->precision == BB_PREC_FP16) return (u & 0x3fffu) == 0x1000u;  /* half lsb even */
    if (c->precision == BB_PREC_BF16) return (u & 0x1ffffu) == 0x8000u; /* bf16 lsb even */
    float v = fabsf(w * inv);
    return v - floorf(v) == 0.5f && fmodf(floorf(v), 2.0f) == 0.0f && v < 7.5f;
}

/* Plants the ties of one (OC, IC) matrix (l, k: which layer and which matrix, to vary the
 * columns and signs); returns the ties that hold under the final scales. */
static int seed_matrix(const bb_config *c, float *W, int OC, int IC, int l, int k) {
    bool b158 = c->precision == BB_PREC_B158;
    int planted = 0, G = c->precision == BB_PREC_INT4 ? c->group : IC;
    /* b158: the seeds move the absmean scale; re-plant until it stands still */
    for (int it = 0; it < (b158 ? 20 : 1); it++) {
        float tinv = b158 ? quant_inv(c, W, OC * IC) : 0.0f;
        for (int r = 0; r < OC; r++)
            for (int g0 = 0; g0 < IC; g0 += G) {
                float *x = W + (size_t)r * IC + g0, sign = (r + g0 / G + l) % 2 ? -1.0f : 1.0f;
                int n = IC - g0 < G ? IC - g0 : G, amax = 0;
                for (int i = 1; i < n; i++) if (fabsf(x[i]) > fabsf(x[amax])) amax = i;
                int col = (7 * r + 3 * l + k) % n;
                if (col == amax) col = (col + 1) % n;
                float w = x[col], inv = b158 ? tinv : quant_inv(c, x, n);
                uint32_t u;
                memcpy(&u, &w, 4);
                if (c->precision == BB_PREC_FP16) u = (u & ~0x3fffu) | 0x1000u;
                if (c->precision == BB_PREC_BF16) u = (u & ~0x1ffffu) | 0x8000u;
                memcpy(&w, &u, 4);
                /* codes +-0.5, 2.5, 4.5, 6.5 (int8: up to 4.5; b158: 0.5) */
                int top = c->precision == BB_PREC_INT4 ? 4 : c->precision == BB_PREC_INT8 ? 3 : 1;
                if (c->precision == BB_PREC_INT8 || c->precision == BB_PREC_INT4 || b158)
                    w = exact_tie(sign * (0.5f + 2.0f * (float)((r + g0 / G) % top)), inv);
                if (!isnan(w) && fabsf(w) < fabsf(x[amax])) x[col] = w;
            }
    }
    /* count the ties that hold under the final scales */
    for (int r = 0; r < OC; r++)
        for (int g0 = 0; g0 < IC; g0 += G) {
            const float *x = W + (size_t)r * IC + g0;
            int n = IC - g0 < G ? IC - g0 : G;
            float inv = b158 ? quant_inv(c, W, OC * IC) : c->precision == BB_PREC_INT8 ||
                        c->precision == BB_PREC_INT4 ? quant_inv(c, x, n) : 0.0f;
            for (int i = 0; i < n; i++) planted += is_tie(c, x[i], inv);
        }
    return planted;
}

static int seed_ties(bb_model *m) {
    static const int qp[] = {BB_P_QKVW, BB_P_ATTPROJW, BB_P_FCW, BB_P_FCPROJW};
    const bb_config *c = &m->cfg;
    int planted = 0;
    for (int k = 0; k < 4; k++) {
        const bb_tensor_spec *sp = &m->specs[qp[k]];
        int OC = (int)sp->shape[1], IC = (int)sp->shape[2];
        for (int l = 0; l < c->n_layer; l++)
            planted += seed_matrix(c, m->params.t[qp[k]] + (size_t)l * OC * IC, OC, IC, l, k);
    }
    /* quant_head / quant_embed: the (V, C) tables they quantize, a row per output channel
     * (model.c requantize_table: bb_fake_weights_fast, not the linears' pack + unpack);
     * gpt2's tied head and embedding are one table, seeded once */
    bool tied = m->params.lm_head == NULL;
    float *head = tied ? m->params.wte : m->params.lm_head;
    if (c->quant_head) planted += seed_matrix(c, head, c->vocab_size, c->n_embd, 0, 4);
    if (c->quant_embed && !(c->quant_head && tied))
        planted += seed_matrix(c, m->params.wte, c->vocab_size, c->n_embd, 0, 5);
    return planted;
}

int main(int argc, char **argv) {
    /* after PRECISION, in any order, each at most once: token|block, qh|qe|qhe, hr */
    static const char *const opt_words[][4] = {{"token", "block"}, {"qh", "qe", "qhe"}, {"hr"}};
    enum { OPT_ACTQ, OPT_TABLES, OPT_HR, N_OPT };
    const char *opts[N_OPT] = {0};
    bool bad = argc < 4 || argc > 5 + N_OPT || (strcmp(argv[1], "gpt2") && strcmp(argv[1], "llama"));
    for (int a = 5; a < argc && !bad; a++) {
        int slot = -1;
        for (int k = 0; k < N_OPT; k++)
            for (int w = 0; w < 4 && opt_words[k][w]; w++)
                if (!strcmp(argv[a], opt_words[k][w])) slot = k;
        bad = slot < 0 || opts[slot];
        if (!bad) opts[slot] = argv[a];
    }
    if (bad) {
        fprintf(stderr, "usage: parity_dump gpt2|llama MODEL.safetensors IO.safetensors "
                        "[fp32|fp16|bf16|int8|int4|b158 [token|block] [qh|qe|qhe] [hr]]\n");
        return 2;
    }
    const char *actq = opts[OPT_ACTQ], *tables = opts[OPT_TABLES];
    bb_family fam = strcmp(argv[1], "gpt2") == 0 ? BB_FAMILY_GPT2 : BB_FAMILY_LLAMA;
    bb_config cfg = {fam, 2, 32, 4, fam == BB_FAMILY_LLAMA ? 2 : 4, 67, T, 0, 1e-5f, 10000.0f, BB_PREC_FP32, 32, BB_ACTQ_NONE, false, false, false, false};
    cfg.ffn_hidden = bb_config_default_ffn(fam, cfg.n_embd);
    char err[400];
    if (argc >= 5 && bb_config_set_precision(&cfg, argv[4], err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 2; }
    if (actq && strcmp(actq, "block") == 0) cfg.act_quant = BB_ACTQ_INT8_BLOCK;
    cfg.quant_head = tables && strcmp(tables, "qe") != 0;   /* qh, qhe */
    cfg.quant_embed = tables && strcmp(tables, "qh") != 0;  /* qe, qhe; bb_model_init refuses both at fp32 */
    cfg.half_residual = opts[OPT_HR] != NULL;               /* hr; bb_model_init refuses it but at fp16/bf16 */
    bb_model m;
    if (bb_model_init(&m, &cfg, &bb_backend_cpu, true, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }
    bb_model_init_weights(&m, 2024);
    /* larger-than-init weights and non-trivial gains/biases so every gradient matters */
    for (size_t k = 0; k < m.n_params; k++) m.params_mem[k] *= 2.0f;
    for (int i = 0; i < BB_N_PARAMS; i++)
        if (m.specs[i].numel && m.specs[i].ndim <= 2 && i != BB_P_WTE && i != BB_P_WPE && i != BB_P_LMHEAD)
            for (size_t k = 0; k < m.specs[i].numel; k++) m.params.t[i][k] += 0.2f * sinf((float)(3 * k + i));
    if (cfg.precision != BB_PREC_FP32) fprintf(stderr, "parity_dump: %d exact rounding ties planted\n", seed_ties(&m));
    bb_model_requantize(&m);  /* the fake-quant weights follow the edited masters */

    const char *cfg_keys[] = {"config"};
    char cfg_json[512];
    if (cfg.precision == BB_PREC_FP32)  /* the original contract's keys only */
        snprintf(cfg_json, sizeof cfg_json,
                 "{\"family\": \"%s\", \"n_layer\": %d, \"n_embd\": %d, \"n_head\": %d, \"n_kv_head\": %d, "
                 "\"vocab_size\": %d, \"max_seq\": %d, \"ffn_hidden\": %d, \"norm_eps\": %.9g, \"rope_theta\": %.9g}",
                 bb_family_name(fam), cfg.n_layer, cfg.n_embd, cfg.n_head, cfg.n_kv_head, cfg.vocab_size, cfg.max_seq,
                 cfg.ffn_hidden, (double)cfg.norm_eps, (double)cfg.rope_theta);
    else
        bb_config_to_json(&cfg, cfg_json, sizeof cfg_json);  /* + precision, group, act_quant */
    const char *cfg_vals[] = {cfg_json};
    bb_st_tensor params[BB_N_PARAMS];
    int np = 0;
    for (int i = 0; i < BB_N_PARAMS; i++)
        if (m.specs[i].numel) { params[np] = f32(m.specs[i].name, m.params.t[i], m.specs[i].ndim, m.specs[i].shape); np++; }
    if (bb_safetensors_write(argv[2], params, np, cfg_keys, cfg_vals, 1, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }

    int inputs[B * T], targets[B * T];
    for (int i = 0; i < B * T; i++) {
        inputs[i] = (i * 17 + 5) % cfg.vocab_size;
        targets[i] = i % 4 == 1 ? -1 : (i * 29 + 11) % cfg.vocab_size;  /* a masked (target-only) loss */
    }
    float loss = bb_model_forward(&m, inputs, targets, B, T);
    bb_model_zero_grad(&m);
    bb_model_backward(&m, 1.0f);
    size_t V = (size_t)cfg.vocab_size, logits_n = (size_t)B * T * V;
    float *logits = bb_alloc(BB_MEM_OTHER, logits_n * sizeof(float));
    memcpy(logits, m.acts.logits, logits_n * sizeof(float));
    float *grads = bb_alloc(BB_MEM_OTHER, m.n_params * sizeof(float));
    memcpy(grads, m.grads_mem, m.n_params * sizeof(float));

    bb_adamw opt = {1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f};
    bb_schedule sched = {BB_SCHED_COSINE, 1e-2f, 0.1f, 3, STEPS};
    float train_losses[STEPS], train_lrs[STEPS];
    bool trajectory = argc >= 5;
    size_t NP = m.n_params;
    float *traj_p = trajectory ? bb_alloc(BB_MEM_OTHER, (STEPS + 1) * NP * sizeof(float)) : NULL;
    float *traj_g = trajectory ? bb_alloc(BB_MEM_OTHER, STEPS * NP * sizeof(float)) : NULL;
    /* quantized: the linears' weights and inputs as the forward used them; fp16/bf16 add
     * the two linear outputs they round (bb_model_round_output): qkv after RoPE, fch, and
     * the attention probabilities they round (bb_model_att_fmt; (B, NH, T, T) a layer) */
    enum { NQ = 4, NSITE = 7, SITE_ATT = 6 };
    static const int qparam[NQ] = {BB_P_QKVW, BB_P_ATTPROJW, BB_P_FCW, BB_P_FCPROJW};
    static const char *qsite[NSITE] = {"qkv", "attproj", "fc", "fcproj", "qkv_out", "fc_out", "att"};
    bool quant = trajectory && cfg.precision != BB_PREC_FP32, subln = bb_precisions[cfg.precision].subln;
    bool half_fmt = cfg.act_quant == BB_ACTQ_FP16 || cfg.act_quant == BB_ACTQ_BF16;
    int nsite = half_fmt ? NSITE : NQ;
    size_t C_ = (size_t)cfg.n_embd, F_ = (size_t)cfg.ffn_hidden, hd_ = C_ / (size_t)cfg.n_head;
    size_t QKV_ = ((size_t)cfg.n_head + 2 * (size_t)cfg.n_kv_head) * hd_;
    size_t FF1_ = cfg.family == BB_FAMILY_LLAMA ? 2 * F_ : F_;  /* SwiGLU: [gate | up] */
    size_t BTn = (size_t)B * T, Ln = (size_t)cfg.n_layer, site_dim[NSITE] = {C_, C_, C_, F_, QKV_, FF1_, 0};
    size_t site_n[NSITE];  /* elements of one layer's site */
    for (int k = 0; k < NSITE; k++) site_n[k] = k == SITE_ATT ? (size_t)B * cfg.n_head * T * T : BTn * site_dim[k];
    float *traj_wq[NQ] = {0}, *traj_qa[NSITE] = {0};
    for (int k = 0; quant && k < NQ; k++)
        traj_wq[k] = bb_alloc(BB_MEM_OTHER, STEPS * m.specs[qparam[k]].numel * sizeof(float));
    for (int k = 0; quant && k < nsite; k++)
        traj_qa[k] = bb_alloc(BB_MEM_OTHER, STEPS * Ln * site_n[k] * sizeof(float));
    /* quant_head / quant_embed: the (V, C) tables the forward read (head_q, embed_q; one
     * matrix, both dumped, for gpt2 with both) and the head's sites, one per forward: its
     * input quantized in place (acts.lnf after bb_model_head_forward) and, fp16/bf16, the
     * logits it rounded */
    enum { NTAB = 2, NHS = 2 };
    static const char *tab_name[NTAB] = {"train_wq.head", "train_wq.embed"};
    static const char *hs_name[NHS] = {"train_qacts.head", "train_qacts.head_out"};
    bool tab_on[NTAB] = {quant && cfg.quant_head, quant && cfg.quant_embed};
    bool hs_on[NHS] = {quant && cfg.quant_head, quant && cfg.quant_head && half_fmt};
    size_t VC = (size_t)cfg.vocab_size * C_, hs_dim[NHS] = {C_, (size_t)cfg.vocab_size};
    float *traj_tab[NTAB] = {0}, *traj_hs[NHS] = {0};
    for (int k = 0; k < NTAB; k++)
        if (tab_on[k]) traj_tab[k] = bb_alloc(BB_MEM_OTHER, STEPS * VC * sizeof(float));
    for (int k = 0; k < NHS; k++)
        if (hs_on[k]) traj_hs[k] = bb_alloc(BB_MEM_OTHER, STEPS * BTn * hs_dim[k] * sizeof(float));
    /* half_residual: the residual stream where the forward rounds it (bb_model_round_residual):
     * the embedding sum (acts.encoded, one per forward) and every block's residual2 and
     * residual3 (L of each; in 16 bits where training keeps them so, model.h) */
    enum { NRS = 3 };
    static const char *rs_name[NRS] = {"train_qacts.encoded", "train_qacts.residual2", "train_qacts.residual3"};
    size_t rs_layers[NRS] = {1, Ln, Ln};
    float *traj_rs[NRS] = {0};
    for (int k = 0; quant && cfg.half_residual && k < NRS; k++)
        traj_rs[k] = bb_alloc(BB_MEM_OTHER, STEPS * rs_layers[k] * BTn * C_ * sizeof(float));
    for (int s = 0; s < STEPS; s++) {
        train_lrs[s] = bb_schedule_lr(&sched, s);
        if (traj_p) memcpy(traj_p + s * NP, m.params_mem, NP * sizeof(float));
        train_losses[s] = bb_model_forward(&m, inputs, targets, B, T);
        for (int k = 0; quant && k < NQ; k++) {
            size_t nw = m.specs[qparam[k]].numel;
            memcpy(traj_wq[k] + s * nw, m.wq.t[qparam[k]], nw * sizeof(float));
        }
        for (int k = 0; quant && k < nsite; k++) {
            size_t na = Ln * site_n[k];
            const float *qa[NSITE] = {m.acts.ln1, subln ? m.acts.atty_n : m.acts.atty, m.acts.ln2,
                                      subln ? m.acts.fch_n : m.acts.fch_act, m.acts.qkv, m.acts.fch, m.acts.att};
            const uint16_t *qh[NSITE] = {m.acts.ln1_h, m.acts.atty_h, m.acts.ln2_h, m.acts.fch_act_h, m.acts.qkv_h,
                                         m.acts.fch_h, m.acts.att_h};
            if (qh[k])  /* fp16/bf16 keep these in 16 bits (model.h) */
                bb_eltwise()->from_half(traj_qa[k] + s * na, qh[k], na, cfg.act_quant == BB_ACTQ_BF16);
            else
                memcpy(traj_qa[k] + s * na, qa[k], na * sizeof(float));
        }
        const float *tab[NTAB] = {m.head_q, m.embed_q}, *hs[NHS] = {m.acts.lnf, m.acts.logits};
        for (int k = 0; k < NTAB; k++)
            if (traj_tab[k]) memcpy(traj_tab[k] + s * VC, tab[k], VC * sizeof(float));
        for (int k = 0; k < NHS; k++)
            if (traj_hs[k]) memcpy(traj_hs[k] + s * BTn * hs_dim[k], hs[k], BTn * hs_dim[k] * sizeof(float));
        const float *rs[NRS] = {m.acts.encoded, m.acts.residual2, m.acts.residual3};
        const uint16_t *rs_h[NRS] = {NULL, m.acts.residual2_h, m.acts.residual3_h};
        for (int k = 0; k < NRS; k++) {
            size_t nr = rs_layers[k] * BTn * C_;
            if (!traj_rs[k]) continue;
            if (rs_h[k]) bb_eltwise()->from_half(traj_rs[k] + s * nr, rs_h[k], nr, cfg.act_quant == BB_ACTQ_BF16);
            else memcpy(traj_rs[k] + s * nr, rs[k], nr * sizeof(float));
        }
        bb_model_zero_grad(&m);
        bb_model_backward(&m, 1.0f);
        if (traj_g) memcpy(traj_g + s * NP, m.grads_mem, NP * sizeof(float));
        float norm = bb_model_step(&m, &opt, train_lrs[s]);
        fprintf(stderr, "step %d loss %.6f grad norm %.4f%s\n", s, train_losses[s], norm,
                norm > opt.grad_clip ? " (clipped)" : "");
    }

    if (traj_p) memcpy(traj_p + STEPS * NP, m.params_mem, NP * sizeof(float));

    bb_st_tensor io[8 + 3 * BB_N_PARAMS + NQ + NSITE + NTAB + NHS + NRS];
    char names[3][BB_N_PARAMS][64], qnames[2][NSITE][64];
    int n = 0;
    size_t bt[2] = {B, T}, btv[3] = {B, T, V}, one[1] = {1}, steps[1] = {STEPS};
    io[n++] = (bb_st_tensor){.name = "inputs", .dtype = BB_DT_I32, .ndim = 2, .shape = {B, T}, .data = inputs};
    io[n++] = (bb_st_tensor){.name = "targets", .dtype = BB_DT_I32, .ndim = 2, .shape = {B, T}, .data = targets};
    (void)bt;
    io[n++] = f32("logits", logits, 3, btv);
    io[n++] = f32("loss", &loss, 1, one);
    io[n++] = f32("train_losses", train_losses, 1, steps);
    io[n++] = f32("train_lrs", train_lrs, 1, steps);
    float *g = grads;
    for (int i = 0; i < BB_N_PARAMS; i++) {
        if (!m.specs[i].numel) continue;
        snprintf(names[0][i], sizeof names[0][i], "grad.%s", m.specs[i].name);
        io[n++] = f32(names[0][i], g, m.specs[i].ndim, m.specs[i].shape);
        g += m.specs[i].numel;
    }
    /* the trajectory: (steps, <the parameter's shape>) slices of the flat buffers */
    size_t off = 0;
    for (int i = 0; trajectory && i < BB_N_PARAMS; i++) {
        if (!m.specs[i].numel) continue;
        size_t shape[4];
        for (int d = 0; d < m.specs[i].ndim; d++) shape[d + 1] = m.specs[i].shape[d];
        for (int k = 0; k < 2; k++) {
            int steps_k = k == 0 ? STEPS + 1 : STEPS;
            float *buf = bb_alloc(BB_MEM_OTHER, (size_t)steps_k * m.specs[i].numel * sizeof(float));
            for (int s = 0; s < steps_k; s++)
                memcpy(buf + (size_t)s * m.specs[i].numel, (k == 0 ? traj_p : traj_g) + (size_t)s * NP + off,
                       m.specs[i].numel * sizeof(float));
            shape[0] = (size_t)steps_k;
            snprintf(names[1 + k][i], sizeof names[1 + k][i], "%s.%s", k == 0 ? "train_params" : "train_grads",
                     m.specs[i].name);
            io[n++] = f32(names[1 + k][i], buf, m.specs[i].ndim + 1, shape);
        }
        off += m.specs[i].numel;
    }
    for (int k = 0; quant && k < NQ; k++) {
        const bb_tensor_spec *sp = &m.specs[qparam[k]];
        size_t wshape[4] = {STEPS, sp->shape[0], sp->shape[1], sp->shape[2]};
        snprintf(qnames[0][k], sizeof qnames[0][k], "train_wq.%s", sp->name);
        io[n++] = f32(qnames[0][k], traj_wq[k], 4, wshape);
    }
    for (int k = 0; quant && k < nsite; k++) {
        size_t ashape[5] = {STEPS, Ln, B, T, site_dim[k]}, pshape[6] = {STEPS, Ln, B, cfg.n_head, T, T};
        snprintf(qnames[1][k], sizeof qnames[1][k], "train_qacts.%s", qsite[k]);
        io[n++] = k == SITE_ATT ? f32(qnames[1][k], traj_qa[k], 6, pshape) : f32(qnames[1][k], traj_qa[k], 5, ashape);
    }
    for (int k = 0; k < NTAB; k++) {
        size_t tshape[3] = {STEPS, (size_t)cfg.vocab_size, C_};
        if (traj_tab[k]) io[n++] = f32(tab_name[k], traj_tab[k], 3, tshape);
    }
    for (int k = 0; k < NHS; k++) {
        size_t hshape[4] = {STEPS, B, T, hs_dim[k]};
        if (traj_hs[k]) io[n++] = f32(hs_name[k], traj_hs[k], 4, hshape);
    }
    for (int k = 0; k < NRS; k++) {
        if (!traj_rs[k]) continue;
        size_t eshape[4] = {STEPS, B, T, C_}, lshape[5] = {STEPS, Ln, B, T, C_};  /* encoded: no layers */
        io[n++] = k == 0 ? f32(rs_name[k], traj_rs[k], 4, eshape) : f32(rs_name[k], traj_rs[k], 5, lshape);
    }
    char adamw[256];
    snprintf(adamw, sizeof adamw,
             "{\"beta1\": %.9g, \"beta2\": %.9g, \"eps\": %.9g, \"weight_decay\": %.9g, \"grad_clip\": %.9g}",
             (double)opt.beta1, (double)opt.beta2, (double)opt.eps, (double)opt.weight_decay, (double)opt.grad_clip);
    const char *io_keys[] = {"adamw"}, *io_vals[] = {adamw};
    if (bb_safetensors_write(argv[3], io, n, io_keys, io_vals, 1, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    for (int k = 0; k < n; k++)  /* the trajectory slices allocated above */
        if (strncmp(io[k].name, "train_params.", 13) == 0 || strncmp(io[k].name, "train_grads.", 12) == 0)
            bb_free((void *)io[k].data);
    for (int k = 0; k < NQ; k++) bb_free(traj_wq[k]);
    for (int k = 0; k < NSITE; k++) bb_free(traj_qa[k]);
    for (int k = 0; k < NTAB; k++) bb_free(traj_tab[k]);
    for (int k = 0; k < NHS; k++) bb_free(traj_hs[k]);
    for (int k = 0; k < NRS; k++) bb_free(traj_rs[k]);
    bb_free(traj_p);
    bb_free(traj_g);
    bb_free(logits);
    bb_free(grads);
    bb_model_free(&m);
    return 0;
}
