/* test_lora.c — LoRA on a frozen base (engine/lora.h), both families, every precision:
 *   - with B = 0 the LoRA model's logits are the base model's, bit for bit (in memory, from
 *     a checkpoint and from a packed export), dropout on or off;
 *   - the adapter branch (sgemm) against its float64 reference (lora_ref.h; the reference
 *     itself is checked by finite differences in test_gradcheck);
 *   - whole-model finite differences of the adapter gradients (FP32 base, with dropout);
 *   - the frozen backward (backward_input through the packed base, frozen norms) carries the
 *     same gradient down the residual stream as the QAT model's sgemm backward;
 *   - training steps leave the packed base and the frozen FP32 tensors bit-identical
 *     (SHA-256 before and after) while the adapters move;
 *   - memory: no masters, gradients or moments of the base; the LoRA categories hold
 *     exactly the adapter tables;
 *   - dropout masks: deterministic, rate p, the same under block checkpointing (and the
 *     gradients of selective recomputation those of keeping everything);
 *   - adapter files round trip; merge then eval equals the unmerged eval (FP32 base);
 *     the merge refuses a base other than the one trained on;
 *   - PEFT's init (A ~ U(-1/sqrt(in), 1/sqrt(in)) from the seed, B = 0), --lora parsing and
 *     the rsLoRA scaling. */
#include "../common/sha256.h"
#include "../engine/alloc.h"
#include "../engine/checkpoint.h"
#include "../engine/export.h"
#include "../engine/kvcache.h"
#include "../engine/lora.h"
#include "../engine/lora_ref.h"
#include "../engine/safetensors.h"
#include "compare.h"
#include "tolerances.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bb_config tiny(bb_family f, bb_precision p) {
    bb_config c = {f, 2, 32, 4, f == BB_FAMILY_LLAMA ? 2 : 4, 37, 12, 0, 1e-5f, 10000.0f, BB_PREC_FP32, 32, BB_ACTQ_NONE,
                   false, false, false, false};
    c.ffn_hidden = bb_config_default_ffn(f, c.n_embd);
    char err[200];
    bb_config_set_precision(&c, bb_precisions[p].name, err, sizeof err);
    return c;
}

static void batch(int B, int T, int V, int *inputs, int *targets, unsigned salt) {
    for (int i = 0; i < B * T; i++) {
        inputs[i] = (int)((i * 7u + salt * 13u + (unsigned)(i * i) % 5u) % (unsigned)V);
        targets[i] = (int)((i * 11u + salt + 3u) % (unsigned)V);
    }
}

/* A base model with FP32 masters (no optimizer), norms and biases away from 1/0. */
static void base_model(bb_model *m, bb_config c) {
    char err[200];
    if (bb_model_init(m, &c, &bb_backend_cpu, false, err, sizeof err) != 0) {
        fprintf(stderr, "model init: %s\n", err);
        exit(1);
    }
    bb_model_init_weights(m, 7);
    for (int i = 0; i < BB_N_PARAMS; i++)
        if (m->specs[i].numel && m->specs[i].ndim <= 2 && i != BB_P_WTE && i != BB_P_WPE && i != BB_P_LMHEAD)
            for (size_t k = 0; k < m->specs[i].numel; k++) m->params.t[i][k] += 0.1f * sinf((float)(k * 7 + i));
    bb_model_requantize(m);
}

static bb_lora_config lora_cfg(unsigned targets, float dropout) {
    bb_lora_config lc = bb_lora_config_default();
    lc.r = 4;
    lc.alpha = 8.0f;
    lc.dropout = dropout;
    lc.targets = targets;
    return lc;
}

static void frozen_from(bb_model *f, const bb_model *src, const bb_lora_config *lc) {
    char err[200];
    if (bb_lora_base_from_model(f, src, err, sizeof err) != 0 || (lc && bb_lora_attach(f, lc, 11, err, sizeof err) != 0)) {
        fprintf(stderr, "frozen base: %s\n", err);
        exit(1);
    }
}

static void randomize_b(bb_model *m, float scale) {
    bb_lora *lo = m->lora;
    for (int k = 0; k < BB_N_QUANTIZED; k++) {
        float *B = lo->params.t[2 * k + 1];
        for (size_t e = 0; B && e < lo->specs[2 * k + 1].numel; e++) B[e] = scale * sinf((float)(e * 13 + k * 5 + 1));
    }
}

/* Bitwise equality up to the sign of zero (x + 0.0 turns -0.0 into +0.0). */
static void expect_same_bits(const char *name, const float *got, const float *want, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], 4) != 0 && !(got[i] == 0.0f && want[i] == 0.0f)) {
            fprintf(stderr, "tensor %s: not bit-identical at [%zu] (got %.9g, want %.9g)\n", name, i, (double)got[i],
                    (double)want[i]);
            bb_test_failures++;
            return;
        }
}

static char tmp_dir[] = "/tmp/bb_lora_XXXXXX";
static const char *const tmp_files[] = {"base.ckpt", "base.packed", "m.ckpt", "m.lora", "m.merged", "r.ckpt", "r.packed"};
static void cleanup(void) {
    char p[256];
    for (size_t i = 0; i < sizeof tmp_files / sizeof tmp_files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", tmp_dir, tmp_files[i]);
        unlink(p);
    }
    rmdir(tmp_dir);
}
static void tmp_path(char *out, size_t cap, const char *name) {
    static bool made;
    if (!made) {
        if (!mkdtemp(tmp_dir)) {
            perror("mkdtemp");
            exit(1);
        }
        atexit(cleanup);
        made = true;
    }
    snprintf(out, cap, "%s/%s", tmp_dir, name);
}

/* ---- B = 0 reproduces the base ------------------------------------------------------------- */

static void test_b_zero_bit_identical(void) {
    for (int f = 0; f < BB_FAMILY_COUNT; f++)
        for (int p = 0; p < BB_PREC_COUNT; p++) {
            bb_config c = tiny((bb_family)f, (bb_precision)p);
            bb_model base, lm;
            base_model(&base, c);
            bb_lora_config lc = lora_cfg(BB_LORA_ALL, 0.1f);
            frozen_from(&lm, &base, &lc);
            int B = 2, T = 12, in[24], tg[24];
            batch(B, T, c.vocab_size, in, tg, 1);
            size_t nl = (size_t)B * T * c.vocab_size;
            bb_model_forward(&base, in, tg, B, T);
            char name[96];
            for (int train = 0; train < 2; train++) {  /* dropout on: B = 0 still adds exactly nothing */
                bb_lora_set_training(&lm, train);
                bb_model_forward(&lm, in, tg, B, T);
                snprintf(name, sizeof name, "%s/%s logits (B=0, dropout %s)", bb_family_name(c.family),
                         bb_precisions[p].name, train ? "on" : "off");
                expect_same_bits(name, lm.acts.logits, base.acts.logits, nl);
            }
            /* from files: a checkpoint at this precision, and for quantized ones the packed export */
            char ck[256], ex[256], err[400], sha[65];
            tmp_path(ck, sizeof ck, "base.ckpt");
            tmp_path(ex, sizeof ex, "base.packed");
            CHECK(bb_checkpoint_save(&base, ck, NULL, err, sizeof err) == 0, "%s", err);
            bb_model fl;
            CHECK(bb_lora_load_base(&fl, ck, -1, NULL, &bb_backend_cpu, NULL, sha, err, sizeof err) == 0, "%s", err);
            CHECK(bb_lora_attach(&fl, &lc, 3, err, sizeof err) == 0, "%s", err);
            bb_model_forward(&fl, in, tg, B, T);
            snprintf(name, sizeof name, "%s/%s logits (base from a checkpoint)", bb_family_name(c.family),
                     bb_precisions[p].name);
            expect_same_bits(name, fl.acts.logits, base.acts.logits, nl);
            bb_model_free(&fl);
            if (p != BB_PREC_FP32) {
                bb_model pe, pl;
                CHECK(bb_export_packed(&base, ex, NULL, NULL, err, sizeof err) == 0, "%s", err);
                CHECK(bb_checkpoint_load(&pe, ex, &bb_backend_cpu, false, NULL, err, sizeof err) == 0, "%s", err);
                CHECK(bb_lora_load_base(&pl, ex, -1, NULL, &bb_backend_cpu, NULL, sha, err, sizeof err) == 0, "%s", err);
                CHECK(bb_lora_attach(&pl, &lc, 3, err, sizeof err) == 0, "%s", err);
                bb_model_forward(&pe, in, tg, B, T);
                bb_model_forward(&pl, in, tg, B, T);
                snprintf(name, sizeof name, "%s/%s logits (base from a packed export)", bb_family_name(c.family),
                         bb_precisions[p].name);
                expect_same_bits(name, pl.acts.logits, pe.acts.logits, nl);
                bb_model_free(&pe);
                bb_model_free(&pl);
            }
            bb_model_free(&lm);
            bb_model_free(&base);
        }
}

/* ---- the adapter branch against its float64 reference ------------------------------------- */

static void test_adapter_vs_ref(void) {
    enum { N = 9, C = 37, OC = 21, R = 5 };
    float x[N * C], A[R * C], Bm[OC * R], dy[N * OC], out[N * OC], h[N * R], dx[N * C], dA[R * C], dB[OC * R];
    float scratch[N * C + N * R];
    double xd[N * C], Ad[R * C], Bd[OC * R], dyd[N * OC], outd[N * OC], hd[N * R], dxd[N * C], dAd[R * C], dBd[OC * R];
    uint8_t mask[N * C];
    for (int i = 0; i < N * C; i++) { x[i] = sinf(0.37f * i); mask[i] = (i * 7) % 5 != 0; }
    for (int i = 0; i < R * C; i++) A[i] = 0.2f * cosf(0.11f * i);
    for (int i = 0; i < OC * R; i++) Bm[i] = 0.3f * sinf(0.23f * i + 1);
    for (int i = 0; i < N * OC; i++) { dy[i] = cosf(0.19f * i); out[i] = 0.5f * sinf(0.07f * i); }
    for (int masked = 0; masked < 2; masked++) {
        const uint8_t *mk = masked ? mask : NULL;
        for (int i = 0; i < N * C; i++) { xd[i] = x[i]; dx[i] = 0.25f; dxd[i] = 0.25; }
        for (int i = 0; i < R * C; i++) { Ad[i] = A[i]; dA[i] = 0; dAd[i] = 0; }
        for (int i = 0; i < OC * R; i++) { Bd[i] = Bm[i]; dB[i] = 0; dBd[i] = 0; }
        for (int i = 0; i < N * OC; i++) { dyd[i] = dy[i]; outd[i] = out[i]; }
        float o2[N * OC];
        memcpy(o2, out, sizeof out);
        bb_lora_linear_forward(o2, h, x, A, Bm, mk, 1.0f / 0.8f, 1.5f, scratch, N, C, OC, R);
        bb_lora_linear_forward_ref_f64(outd, hd, xd, Ad, Bd, mk, 1.0 / 0.8, 1.5, N, C, OC, R);
        bb_lora_linear_backward(dx, dA, dB, dy, x, h, A, Bm, mk, 1.0f / 0.8f, 1.5f, scratch, N, C, OC, R);
        bb_lora_linear_backward_ref_f64(dxd, dAd, dBd, dyd, xd, hd, Ad, Bd, mk, 1.0 / 0.8, 1.5, N, C, OC, R);
        struct { const char *name; const float *got; const double *want; int n; } t[] = {
            {"out", o2, outd, N * OC}, {"h", h, hd, N * R}, {"dx", dx, dxd, N * C}, {"dA", dA, dAd, R * C},
            {"dB", dB, dBd, OC * R}};
        for (int k = 0; k < 5; k++) {
            float want[N * C];
            for (int i = 0; i < t[k].n; i++) want[i] = (float)t[k].want[i];
            char name[64];
            snprintf(name, sizeof name, "lora.%s%s", t[k].name, masked ? " (dropout)" : "");
            EXPECT_CLOSE_F(name, t[k].got, want, (size_t)t[k].n, bb_tol("fp32")->op_vs_ref);
        }
    }
}

/* ---- whole-model finite differences (FP32 base) ---------------------------------------------- */

static void test_finite_differences(void) {
    for (int f = 0; f < BB_FAMILY_COUNT; f++) {
        bb_config c = tiny((bb_family)f, BB_PREC_FP32);
        bb_model base, m;
        base_model(&base, c);
        for (size_t k = 0; k < base.n_params; k++) base.params_mem[k] *= 3.0f;  /* gradients above round-off */
        bb_lora_config lc = lora_cfg(BB_LORA_ALL, 0.2f);
        frozen_from(&m, &base, &lc);
        randomize_b(&m, 0.3f);  /* B != 0: dA is not zero */
        bb_lora_set_training(&m, true);
        int B = 1, T = 6, in[6], tg[6];
        batch(B, T, c.vocab_size, in, tg, 2);
        bb_model_forward(&m, in, tg, B, T);
        uint64_t call = m.lora->calls;  /* every forward of the check sees this call's dropout mask */
        bb_model_zero_grad(&m);
        bb_model_backward(&m, 1.0f);
        for (int i = 0; i < BB_LORA_N_TENSORS; i++) {
            size_t n = m.lora->specs[i].numel;
            enum { SAMPLES = 12 };
            float analytic[SAMPLES], numeric[SAMPLES];
            for (int s = 0; s < SAMPLES; s++) {
                size_t idx = ((size_t)s * 2654435761u) % n;
                /* h = 3e-3: the adapters sit in products with the (3x) base weights, and at 1e-2 the
                 * second-order term reaches a few percent; float round-off stays far below */
                float *p = m.lora->params.t[i] + idx, keep = *p, h = 3e-3f;
                *p = keep + h;
                m.lora->calls = call - 1;
                double lp = bb_model_forward(&m, in, tg, B, T);
                *p = keep - h;
                m.lora->calls = call - 1;
                double lm = bb_model_forward(&m, in, tg, B, T);
                *p = keep;
                numeric[s] = (float)((lp - lm) / (2.0 * h));
                analytic[s] = m.lora->grads.t[i][idx];
            }
            char name[96];
            snprintf(name, sizeof name, "%s.fd.%s", bb_family_name(c.family), m.lora->specs[i].name);
            EXPECT_CLOSE_F(name, analytic, numeric, SAMPLES, bb_tol("fp32")->fd_model_f32);
        }
        bb_model_free(&m);
        bb_model_free(&base);
    }
}

/* ---- the frozen backward equals the QAT backward (every precision) ---------------------------- */

static void test_frozen_backward_matches_qat(void) {
    for (int f = 0; f < BB_FAMILY_COUNT; f++)
        for (int p = 0; p < BB_PREC_COUNT; p++) {
            bb_config c = tiny((bb_family)f, (bb_precision)p);
            bb_model qat, m;
            char err[200];
            CHECK(bb_model_init(&qat, &c, &bb_backend_cpu, true, err, sizeof err) == 0, "%s", err);
            bb_model_init_weights(&qat, 5);
            bb_lora_config lc = lora_cfg(BB_LORA_ALL, 0.0f);
            frozen_from(&m, &qat, &lc);  /* B = 0: the adapters add nothing to dx */
            int B = 2, T = 12, in[24], tg[24];
            batch(B, T, c.vocab_size, in, tg, 4);
            bb_model_forward(&qat, in, tg, B, T);
            bb_model_forward(&m, in, tg, B, T);
            bb_model_zero_grad(&qat); bb_model_zero_grad(&m);
            bb_model_backward(&qat, 1.0f); bb_model_backward(&m, 1.0f);
            char name[96];
            snprintf(name, sizeof name, "%s/%s d(embedding output)", bb_family_name(c.family), bb_precisions[p].name);
            EXPECT_CLOSE_F(name, m.gs.dresidual, qat.gs.dresidual, (size_t)B * T * c.n_embd,
                           bb_tol("fp32")->frozen_vs_qat);
            bb_model_free(&m);
            bb_model_free(&qat);
        }
}

/* ---- training leaves the base alone ------------------------------------------------------------ */

static void hash_base(const bb_model *m, char hex[65]) {
    bb_sha256 s;
    bb_sha256_init(&s);
    size_t packed_end = m->packed_off[BB_N_QUANTIZED * m->cfg.n_layer - 1];
    bb_prec_opts o = bb_config_prec_opts(&m->cfg);
    const bb_tensor_spec *last = &m->specs[BB_P_FCPROJW];
    packed_end += bb_precisions[m->cfg.precision].packed_size((int)last->shape[1], (int)last->shape[2], &o);
    bb_sha256_update(&s, m->packed_mem, packed_end);
    bb_sha256_update(&s, m->params_mem, m->n_params * sizeof(float));
    uint8_t d[32];
    bb_sha256_final(&s, d);
    bb_sha256_hex(d, hex);
}

static void test_base_unchanged(void) {
    for (int p = 0; p < BB_PREC_COUNT; p++) {
        bb_config c = tiny(BB_FAMILY_LLAMA, (bb_precision)p);
        bb_model base, m;
        base_model(&base, c);
        bb_lora_config lc = lora_cfg(BB_LORA_ALL, 0.1f);
        frozen_from(&m, &base, &lc);
        m.ckpt_mode = p % 2 ? BB_CKPT_BLOCK : BB_CKPT_NONE;
        char before[65], after[65];
        hash_base(&m, before);
        bb_adamw opt = {1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f};
        int B = 2, T = 12, in[24], tg[24];
        float first = 0, last = 0;
        bb_lora_set_training(&m, true);
        for (int s = 0; s < 6; s++) {
            batch(B, T, c.vocab_size, in, tg, 3);
            float loss = bb_model_forward(&m, in, tg, B, T);
            if (s == 0) first = loss;
            last = loss;
            bb_model_zero_grad(&m);
            bb_model_backward(&m, 1.0f);
            bb_model_step(&m, &opt, 1e-2f);
        }
        hash_base(&m, after);
        CHECK(strcmp(before, after) == 0, "%s: the frozen base changed in training (%.16s -> %.16s)",
              bb_precisions[p].name, before, after);
        double bsum = 0;
        for (size_t e = 0; e < m.lora->specs[1].numel; e++) bsum += fabs(m.lora->params.t[1][e]);
        CHECK(bsum > 0 && last < first, "%s: adapters did not train (sum |B| %g, loss %.4f -> %.4f)",
              bb_precisions[p].name, bsum, first, last);
        bb_model_free(&m);
        bb_model_free(&base);
    }
}

/* ---- memory categories ----------------------------------------------------------------------- */

static void test_memory_categories(void) {
    for (int p = 0; p < BB_PREC_COUNT; p++) {
        bb_config c = tiny(BB_FAMILY_GPT2, (bb_precision)p);
        bb_model base, m;
        base_model(&base, c);
        bb_mem_stats before = bb_mem_stats_get();
        bb_lora_config lc = lora_cfg(BB_LORA_QKV | BB_LORA_FCPROJ, 0.1f);
        frozen_from(&m, &base, &lc);
        int B = 2, T = 12, in[24], tg[24];
        batch(B, T, c.vocab_size, in, tg, 3);
        bb_lora_set_training(&m, true);
        bb_model_forward(&m, in, tg, B, T);
        bb_model_zero_grad(&m);
        bb_model_backward(&m, 1.0f);
        bb_adamw opt = {1e-3f, 0.9f, 0.95f, 1e-8f, 0.0f, 1.0f};
        bb_model_step(&m, &opt, 1e-3f);
        bb_mem_stats after = bb_mem_stats_get();
        size_t d[BB_MEM_COUNT];
        for (int k = 0; k < BB_MEM_COUNT; k++) d[k] = after.current[k] - before.current[k];
        size_t frozen = 0, quantized = 0, packed = 64 + (size_t)BB_N_QUANTIZED * c.n_layer * sizeof(size_t);
        bb_prec_opts o = bb_config_prec_opts(&c);
        for (int i = 0; i < BB_N_PARAMS; i++) {
            bool q = i == BB_P_QKVW || i == BB_P_ATTPROJW || i == BB_P_FCW || i == BB_P_FCPROJW;
            if (q) {
                quantized += m.specs[i].numel;
                size_t bytes = bb_precisions[p].packed_size((int)m.specs[i].shape[1], (int)m.specs[i].shape[2], &o);
                packed += (size_t)c.n_layer * ((bytes + 63) & ~(size_t)63);
            } else {
                frozen += m.specs[i].numel;
            }
        }
        size_t r = (size_t)lc.r, L = (size_t)c.n_layer, C = (size_t)c.n_embd, F = (size_t)c.ffn_hidden;
        size_t adapters = L * r * (C + 3 * C) + L * r * (F + C);  /* qkv: (r, C) + (3C, r); fcproj: (r, F) + (C, r) */
        const char *pn = bb_precisions[p].name;
        CHECK(d[BB_MEM_PARAMS] == 0 && d[BB_MEM_GRADS] == 0 && d[BB_MEM_OPTIM] == 0,
              "%s: base masters/grads/moments allocated (%zu, %zu, %zu bytes)", pn, d[BB_MEM_PARAMS], d[BB_MEM_GRADS],
              d[BB_MEM_OPTIM]);
        CHECK(d[BB_MEM_FROZEN] == 4 * frozen, "%s: frozen params %zu bytes, expected %zu", pn, d[BB_MEM_FROZEN],
              4 * frozen);
        CHECK(d[BB_MEM_PACKED] == packed, "%s: packed base %zu bytes, expected %zu", pn, d[BB_MEM_PACKED], packed);
        CHECK(d[BB_MEM_ADAPTERS] == 4 * adapters && d[BB_MEM_ADAPTER_GRADS] == 4 * adapters &&
                  d[BB_MEM_ADAPTER_OPTIM] == 8 * adapters,
              "%s: adapters %zu, grads %zu, moments %zu bytes; expected %zu, %zu, %zu", pn, d[BB_MEM_ADAPTERS],
              d[BB_MEM_ADAPTER_GRADS], d[BB_MEM_ADAPTER_OPTIM], 4 * adapters, 4 * adapters, 8 * adapters);
        CHECK(d[BB_MEM_ACTS] > 0, "%s: no activations", pn);
        if (p == BB_PREC_FP32)  /* an FP32 base: the packed form is W itself */
            CHECK(d[BB_MEM_PACKED] >= 4 * quantized, "fp32 packed base %zu < %zu bytes", d[BB_MEM_PACKED], 4 * quantized);
        else
            CHECK(d[BB_MEM_PACKED] < 4 * quantized, "%s packed base %zu >= FP32 %zu bytes", pn, d[BB_MEM_PACKED],
                  4 * quantized);
        bb_model_free(&m);
        bb_model_free(&base);
    }
}

/* ---- dropout -------------------------------------------------------------------------------- */

static void test_dropout(void) {
    bb_config c = tiny(BB_FAMILY_GPT2, BB_PREC_INT8);
    c.n_embd = 64;
    c.ffn_hidden = 256;
    bb_model base, a, b, sel;
    base_model(&base, c);
    bb_lora_config lc = lora_cfg(BB_LORA_ALL, 0.25f);
    frozen_from(&a, &base, &lc);
    frozen_from(&b, &base, &lc);
    frozen_from(&sel, &base, &lc);
    randomize_b(&a, 0.2f);
    randomize_b(&b, 0.2f);
    randomize_b(&sel, 0.2f);
    b.ckpt_mode = BB_CKPT_BLOCK;
    sel.ckpt_mode = BB_CKPT_SELECTIVE;
    bb_lora_set_training(&a, true);
    bb_lora_set_training(&b, true);
    bb_lora_set_training(&sel, true);
    int B = 4, T = 12, in[48], tg[48];
    batch(B, T, c.vocab_size, in, tg, 5);
    /* the mask: rate p, one value per (call, layer, linear), 0 or 1 */
    bb_model_forward(&a, in, tg, B, T);
    size_t n = (size_t)B * T * c.n_embd, kept = 0;
    const uint8_t *m0 = a.lora->mask[0];
    for (size_t i = 0; i < n; i++) kept += m0[i];
    double rate = 1.0 - (double)kept / (double)n;  /* 3072 draws: p +- 4 sigma = 0.25 +- 0.031 */
    CHECK(fabs(rate - 0.25) < 0.032, "dropout rate %.4f for p = 0.25", rate);
    CHECK(memcmp(a.lora->mask[0], a.lora->mask[0] + n, n) != 0, "layers 0 and 1 share a dropout mask");
    /* checkpointing recomputes the masks: same loss, bit-identical adapter gradients */
    a.lora->calls = b.lora->calls = 0;
    float la = bb_model_forward(&a, in, tg, B, T), lb = bb_model_forward(&b, in, tg, B, T);
    bb_model_zero_grad(&a); bb_model_zero_grad(&b);
    bb_model_backward(&a, 1.0f); bb_model_backward(&b, 1.0f);
    CHECK(la == lb, "checkpointed LoRA loss %.9g vs %.9g", lb, la);
    CHECK(memcmp(a.lora->grads_mem, b.lora->grads_mem, a.lora->n_params * sizeof(float)) == 0,
          "LoRA gradients differ under block checkpointing (dropout masks not recomputed alike)");
    /* selective recomputation: the attention probabilities recomputed, nothing else changes */
    sel.lora->calls = a.lora->calls = 0;
    la = bb_model_forward(&a, in, tg, B, T);
    float ls = bb_model_forward(&sel, in, tg, B, T);
    bb_model_zero_grad(&a); bb_model_zero_grad(&sel);
    bb_model_backward(&a, 1.0f); bb_model_backward(&sel, 1.0f);
    CHECK(la == ls && sel.acts.att == NULL, "selective LoRA loss %.9g vs %.9g (probabilities kept: %d)", ls, la,
          sel.acts.att != NULL);
    CHECK(memcmp(a.lora->grads_mem, sel.lora->grads_mem, a.lora->n_params * sizeof(float)) == 0,
          "LoRA gradients differ under selective recomputation");
    /* a new call draws a new mask; eval mode has none */
    float l2 = bb_model_forward(&a, in, tg, B, T);
    CHECK(l2 != la, "two training forwards gave the same loss %.9g: the mask did not change", la);
    bb_lora_set_training(&a, false);
    float e1 = bb_model_forward(&a, in, tg, B, T), e2 = bb_model_forward(&a, in, tg, B, T);
    CHECK(e1 == e2 && e1 != la, "eval forwards %.9g, %.9g (training %.9g)", e1, e2, la);
    bb_model_free(&a);
    bb_model_free(&b);
    bb_model_free(&sel);
    bb_model_free(&base);
}

/* ---- files and merge --------------------------------------------------------------------------- */

static void train_steps(bb_model *m, int steps, int B, int T, int *in, int *tg) {
    bb_adamw opt = {1e-2f, 0.9f, 0.95f, 1e-8f, 0.0f, 1.0f};
    bb_lora_set_training(m, true);
    for (int s = 0; s < steps; s++) {
        batch(B, T, m->cfg.vocab_size, in, tg, 6);
        bb_model_forward(m, in, tg, B, T);
        bb_model_zero_grad(m);
        bb_model_backward(m, 1.0f);
        bb_model_step(m, &opt, 1e-2f);
    }
    bb_lora_set_training(m, false);
}

static void test_files_and_merge(void) {
    for (int f = 0; f < BB_FAMILY_COUNT; f++)
        for (int pi = 0; pi < 2; pi++) {
            bb_precision p = pi ? BB_PREC_INT8 : BB_PREC_FP32;
            bb_config c = tiny((bb_family)f, p);
            const char *pn = bb_precisions[p].name, *fn = bb_family_name(c.family);
            bb_model base, m, m2, merged;
            base_model(&base, c);
            char ck[256], ad[256], out[256], err[400], sha[65];
            tmp_path(ck, sizeof ck, "m.ckpt");
            tmp_path(ad, sizeof ad, "m.lora");
            tmp_path(out, sizeof out, "m.merged");
            CHECK(bb_checkpoint_save(&base, ck, NULL, err, sizeof err) == 0, "%s", err);
            CHECK(bb_lora_load_base(&m, ck, -1, NULL, &bb_backend_cpu, NULL, sha, err, sizeof err) == 0, "%s", err);
            bb_lora_config lc = lora_cfg(BB_LORA_ALL, 0.1f);
            lc.rslora = f == BB_FAMILY_LLAMA;
            CHECK(bb_lora_attach(&m, &lc, 9, err, sizeof err) == 0, "%s", err);
            int B = 2, T = 12, in[24], tg[24];
            train_steps(&m, 4, B, T, in, tg);
            bb_lora_file_info fi = {.seed = 9};
            snprintf(fi.base_sha256, sizeof fi.base_sha256, "%s", sha);
            CHECK(bb_lora_save(&m, ad, &fi, m.step, err, sizeof err) == 0, "%s", err);
            /* PEFT-like names and the config in the metadata */
            bb_safetensors st;
            CHECK(bb_safetensors_open(&st, ad, err, sizeof err) == 0, "%s", err);
            const char *want = f == BB_FAMILY_GPT2 ? "base_model.model.transformer.h.1.mlp.c_fc.lora_A.weight"
                                                   : "base_model.model.model.layers.1.self_attn.o_proj.lora_B.weight";
            const char *lcj = bb_safetensors_meta(&st, "lora_config");
            CHECK(bb_safetensors_find(&st, want) != NULL, "%s: adapter file lacks %s", fn, want);
            CHECK(lcj && strstr(lcj, "\"peft_type\": \"LORA\"") && strstr(lcj, "\"r\": 4"), "lora_config '%s'",
                  lcj ? lcj : "(none)");
            bb_safetensors_close(&st);
            /* round trip: a fresh base with the loaded adapters computes the same logits */
            batch(B, T, c.vocab_size, in, tg, 12);
            float l1 = bb_model_forward(&m, in, tg, B, T);
            CHECK(bb_lora_load_base(&m2, ck, -1, NULL, &bb_backend_cpu, NULL, NULL, err, sizeof err) == 0, "%s", err);
            CHECK(bb_lora_load(&m2, ad, NULL, err, sizeof err) == 0, "%s", err);
            float l2 = bb_model_forward(&m2, in, tg, B, T);
            char name[96];
            snprintf(name, sizeof name, "%s/%s logits after an adapter round trip", fn, pn);
            expect_same_bits(name, m2.acts.logits, m.acts.logits, (size_t)B * T * c.vocab_size);
            CHECK(l1 == l2, "%s/%s: loss %.9g vs %.9g after the round trip", fn, pn, l2, l1);
            /* merge, then eval the merged checkpoint */
            CHECK(bb_lora_merge(ck, ad, out, &bb_backend_cpu, err, sizeof err) == 0, "%s", err);
            CHECK(bb_checkpoint_load(&merged, out, &bb_backend_cpu, false, NULL, err, sizeof err) == 0, "%s", err);
            CHECK(merged.cfg.precision == p, "%s: merged precision %s", pn, bb_precisions[merged.cfg.precision].name);
            if (p == BB_PREC_FP32) {
                float l3 = bb_model_forward(&merged, in, tg, B, T);
                snprintf(name, sizeof name, "%s/fp32 merged vs unmerged logits", fn);
                EXPECT_CLOSE_F(name, merged.acts.logits, m.acts.logits, (size_t)B * T * c.vocab_size,
                               bb_tol("fp32")->merge_vs_unmerged);
                CHECK(fabsf(l3 - l1) <= 1e-5f * fabsf(l1), "%s/fp32: merged loss %.9g vs unmerged %.9g", fn, l3, l1);
            } else {  /* merged in FP32 after dequantization: W' = unpack(pack(W)) + scaling B A */
                int k = 2, i = BB_P_FCW, OC = (int)base.specs[i].shape[1], Cin = (int)base.specs[i].shape[2], r = lc.r;
                float *w = bb_alloc(BB_MEM_OTHER, (size_t)OC * Cin * sizeof(float));
                bb_prec_opts o = bb_config_prec_opts(&c);
                bb_precisions[p].unpack(w, bb_model_packed_at(&m, k, 0), OC, Cin, &o);
                const float *A = m.lora->params.t[2 * k], *Bm = m.lora->params.t[2 * k + 1];
                double maxd = 0;
                for (int o = 0; o < OC; o++)
                    for (int e = 0; e < Cin; e++) {
                        double acc = 0;
                        for (int j = 0; j < r; j++) acc += (double)Bm[(size_t)o * r + j] * A[(size_t)j * Cin + e];
                        double wantw = w[(size_t)o * Cin + e] + m.lora->scaling * acc;
                        maxd = fmax(maxd, fabs(merged.params.t[i][(size_t)o * Cin + e] - wantw));
                    }
                CHECK(maxd < 1e-6, "%s/%s merged fcw layer 0 differs from unpack(W) + scaling B A by %g", fn, pn, maxd);
                bb_free(w);
            }
            bb_model_free(&merged);
            /* a different base is refused */
            base.params.t[BB_P_LNFW][0] += 1.0f;
            CHECK(bb_checkpoint_save(&base, ck, NULL, err, sizeof err) == 0, "%s", err);
            CHECK(bb_lora_merge(ck, ad, out, &bb_backend_cpu, err, sizeof err) != 0 && strstr(err, "SHA-256"),
                  "merge onto another base: '%s'", err);
            bb_model_free(&m2);
            bb_model_free(&m);
            bb_model_free(&base);
        }
}

/* A b158 base needs SubLN gains, so an FP32 checkpoint cannot become one; a packed export
 * serves only at its own precision. */
static void test_base_precision_rules(void) {
    bb_model base, m;
    char ck[256], ex[256], err[400];
    base_model(&base, tiny(BB_FAMILY_GPT2, BB_PREC_FP32));
    tmp_path(ck, sizeof ck, "r.ckpt");
    CHECK(bb_checkpoint_save(&base, ck, NULL, err, sizeof err) == 0, "%s", err);
    CHECK(bb_lora_load_base(&m, ck, BB_PREC_B158, NULL, &bb_backend_cpu, NULL, NULL, err, sizeof err) != 0 &&
              strstr(err, "SubLN"), "fp32 checkpoint as a b158 base: '%s'", err);
    CHECK(bb_lora_load_base(&m, ck, BB_PREC_INT4, NULL, &bb_backend_cpu, NULL, NULL, err, sizeof err) == 0, "%s", err);
    CHECK(m.cfg.precision == BB_PREC_INT4, "base precision %s", bb_precisions[m.cfg.precision].name);
    bb_model_free(&m);
    bb_model_free(&base);
    base_model(&base, tiny(BB_FAMILY_GPT2, BB_PREC_INT8));
    tmp_path(ex, sizeof ex, "r.packed");
    CHECK(bb_export_packed(&base, ex, NULL, NULL, err, sizeof err) == 0, "%s", err);
    CHECK(bb_lora_load_base(&m, ex, BB_PREC_INT4, NULL, &bb_backend_cpu, NULL, NULL, err, sizeof err) != 0 &&
              strstr(err, "packed"), "int8 export as an int4 base: '%s'", err);
    CHECK(bb_checkpoint_save(&base, ck, NULL, err, sizeof err) == 0, "%s", err);
    bb_model_free(&base);
    /* a LoRA model has no checkpoint of its own */
    CHECK(bb_lora_load_base(&m, ck, -1, NULL, &bb_backend_cpu, NULL, NULL, err, sizeof err) == 0, "%s", err);
    CHECK(bb_checkpoint_save(&m, ck, NULL, err, sizeof err) != 0 && strstr(err, "adapters"), "save: '%s'", err);
    bb_model_free(&m);
}

/* ---- initialization (PEFT reset_lora_parameters) -------------------------------------------------- */

static void test_init(void) {
    bb_model base, a, b, c2;
    base_model(&base, tiny(BB_FAMILY_LLAMA, BB_PREC_INT8));
    bb_lora_config lc = lora_cfg(BB_LORA_ALL, 0.0f);
    frozen_from(&a, &base, &lc);
    frozen_from(&b, &base, &lc);  /* the same seed (11) */
    char err[200];
    CHECK(bb_lora_base_from_model(&c2, &base, err, sizeof err) == 0 && bb_lora_attach(&c2, &lc, 12, err, sizeof err) == 0,
          "%s", err);
    for (int k = 0; k < BB_N_QUANTIZED; k++) {
        const float *A = a.lora->params.t[2 * k], *Bm = a.lora->params.t[2 * k + 1];
        size_t na = a.lora->specs[2 * k].numel, nb = a.lora->specs[2 * k + 1].numel;
        double bound = 1.0 / sqrt((double)bb_lora_in_features(&a, k)), amax = 0, sum = 0, sq = 0;
        for (size_t e = 0; e < na; e++) {
            amax = fmax(amax, fabs(A[e]));
            sum += A[e];
            sq += (double)A[e] * A[e];
        }
        double mean = sum / na, var = sq / na - mean * mean, want_var = bound * bound / 3;  /* U(-b, b) */
        CHECK(amax <= bound && amax > 0.9 * bound, "%s: max |A| %.4f, bound 1/sqrt(in) = %.4f", a.lora->specs[2 * k].name,
              amax, bound);
        CHECK(fabs(mean) < 0.1 * bound && fabs(var / want_var - 1) < 0.2, "%s: mean %.4f, variance %.5f (U: %.5f)",
              a.lora->specs[2 * k].name, mean, var, want_var);
        bool zero = true;
        for (size_t e = 0; e < nb; e++) zero = zero && Bm[e] == 0.0f;
        CHECK(zero, "%s is not zero at init", a.lora->specs[2 * k + 1].name);
        CHECK(memcmp(A, b.lora->params.t[2 * k], na * sizeof(float)) == 0, "%s differs for the same seed",
              a.lora->specs[2 * k].name);
        CHECK(memcmp(A, c2.lora->params.t[2 * k], na * sizeof(float)) != 0, "%s equal for seeds 11 and 12",
              a.lora->specs[2 * k].name);
    }
    CHECK(a.lora->scaling == 2.0f, "scaling alpha/r = 8/4, got %g", (double)a.lora->scaling);
    bb_model_free(&a); bb_model_free(&b); bb_model_free(&c2); bb_model_free(&base);
}

/* ---- configuration ------------------------------------------------------------------------------- */

static void test_config(void) {
    char err[200], name[64];
    bb_lora_config c = bb_lora_config_default();
    CHECK(c.r == 8 && c.alpha == 8.0f && c.dropout == 0.0f && !c.rslora && c.targets == BB_LORA_QKV,
          "defaults are PEFT's (r 8, alpha 8, dropout 0) on qkv");
    CHECK(bb_lora_config_parse(&c, "r=16,alpha=32,dropout=0.05,targets=all-linear", err, sizeof err) == 0, "%s", err);
    CHECK(c.r == 16 && c.alpha == 32.0f && fabsf(c.dropout - 0.05f) < 1e-9f && c.targets == BB_LORA_ALL, "parsed");
    CHECK(bb_lora_scaling(&c) == 2.0f, "scaling alpha/r = %g", bb_lora_scaling(&c));
    CHECK(bb_lora_config_parse(&c, "rslora", err, sizeof err) == 0 && bb_lora_scaling(&c) == 8.0f,
          "rsLoRA scaling alpha/sqrt(r) = %g, expected 32/4", bb_lora_scaling(&c));
    CHECK(bb_lora_config_parse(&c, "targets=attn", err, sizeof err) == 0 && c.targets == (BB_LORA_QKV | BB_LORA_ATTPROJ),
          "attn");
    CHECK(bb_lora_config_parse(&c, "targets=mlp", err, sizeof err) == 0 && c.targets == (BB_LORA_FC | BB_LORA_FCPROJ),
          "mlp");
    CHECK(bb_lora_config_parse(&c, "targets=qkv+fcproj", err, sizeof err) == 0 &&
              c.targets == (BB_LORA_QKV | BB_LORA_FCPROJ), "qkv+fcproj");
    bb_lora_targets_name(c.targets, name, sizeof name);
    CHECK(strcmp(name, "qkv+fcproj") == 0, "targets name '%s'", name);
    const char *bad[] = {"r=0", "r=x", "alpha=-1", "dropout=1", "targets=head", "rank=4", "r", "targets="};
    for (int i = 0; i < 8; i++) {
        bb_lora_config d = bb_lora_config_default();
        err[0] = 0;
        CHECK(bb_lora_config_parse(&d, bad[i], err, sizeof err) != 0 && strlen(err) > 10, "'%s' accepted", bad[i]);
    }
}

/* The KV-cache decoder runs unmerged adapters (engine/lora.c: forwards outside the
 * training tables): each decode step's logits equal a full forward of the sequence so
 * far, with nonzero B, for an fp32 and a b158 base. */
static void test_kvcache_decode(void) {
    bb_precision ps[] = {BB_PREC_FP32, BB_PREC_B158};
    for (int f = 0; f < BB_FAMILY_COUNT; f++)
        for (int pi = 0; pi < 2; pi++) {
            bb_model base, m;
            base_model(&base, tiny((bb_family)f, ps[pi]));
            bb_lora_config lc = lora_cfg(BB_LORA_ALL, 0.0f);
            frozen_from(&m, &base, &lc);
            randomize_b(&m, 0.05f);
            int in[24], tg[24];
            train_steps(&m, 2, 2, 12, in, tg); /* the training tables exist at N = 24 */
            int V = m.cfg.vocab_size, seq[12] = {3, 9, 1, 20, 5, 7}, P = 6;
            char err[200], name[96];
            bb_kvcache kv;
            CHECK(bb_kvcache_init(&kv, &m, 1, 12, err, sizeof err) == 0, "%s", err);
            const float *logits = bb_kvcache_prefill(&m, &kv, seq, P);
            float *cached = malloc((size_t)V * sizeof(float));
            for (int t = P; t < 12; t++) {
                memcpy(cached, logits, (size_t)V * sizeof(float));
                bb_model_forward(&m, seq, NULL, 1, t);
                snprintf(name, sizeof name, "%s/%s lora decode logits at %d", bb_family_name((bb_family)f),
                         bb_precisions[ps[pi]].name, t - 1);
                EXPECT_CLOSE_F(name, cached, m.acts.logits + (size_t)(t - 1) * V, (size_t)V, bb_tol("fp32")->model_vs_ref);
                seq[t] = (t * 5) % V;
                logits = bb_kvcache_step(&m, &kv, &seq[t]);
            }
            free(cached);
            bb_kvcache_free(&kv);
            bb_model_free(&m);
            bb_model_free(&base);
        }
}

/* Adapters hold the config of the base they were trained on: a base with the same shapes
 * and precision but other forward numerics (half_residual: the residual stream rounded to
 * 16 bits) is refused, as a different precision is. */
static void test_adapters_need_same_numerics(void) {
    bb_config c = tiny(BB_FAMILY_GPT2, BB_PREC_FP16);
    bb_model base, m, m2;
    char ck[256], ck16[256], ad[256], err[400];
    base_model(&base, c);
    tmp_path(ck, sizeof ck, "n.ckpt");
    tmp_path(ck16, sizeof ck16, "n16.ckpt");
    tmp_path(ad, sizeof ad, "n.lora");
    CHECK(bb_checkpoint_save(&base, ck, NULL, err, sizeof err) == 0, "%s", err);
    base.cfg.half_residual = true;
    CHECK(bb_checkpoint_save(&base, ck16, NULL, err, sizeof err) == 0, "%s", err);
    CHECK(bb_lora_load_base(&m, ck, -1, NULL, &bb_backend_cpu, NULL, NULL, err, sizeof err) == 0, "%s", err);
    bb_lora_config lc = lora_cfg(BB_LORA_ALL, 0.0f);
    CHECK(bb_lora_attach(&m, &lc, 3, err, sizeof err) == 0, "%s", err);
    int in[24], tg[24];
    train_steps(&m, 1, 2, 12, in, tg);
    CHECK(bb_lora_save(&m, ad, NULL, m.step, err, sizeof err) == 0, "%s", err);
    CHECK(bb_lora_load_base(&m2, ck16, -1, NULL, &bb_backend_cpu, NULL, NULL, err, sizeof err) == 0, "%s", err);
    CHECK(m2.cfg.half_residual, "the half_residual base did not keep its flag");
    CHECK(bb_lora_load(&m2, ad, NULL, err, sizeof err) != 0 && strstr(err, "different base"),
          "fp16 adapters onto a half_residual base: '%s'", err);
    bb_model_free(&m2);
    bb_model_free(&m);
    bb_model_free(&base);
}

static const bb_test_case cases[] = {
    {"adapters_need_same_numerics", test_adapters_need_same_numerics},
    {"config", test_config},
    {"init", test_init},
    {"adapter_vs_ref", test_adapter_vs_ref},
    {"b_zero_bit_identical", test_b_zero_bit_identical},
    {"finite_differences", test_finite_differences},
    {"frozen_backward_matches_qat", test_frozen_backward_matches_qat},
    {"base_unchanged", test_base_unchanged},
    {"memory_categories", test_memory_categories},
    {"dropout", test_dropout},
    {"files_and_merge", test_files_and_merge},
    {"base_precision_rules", test_base_precision_rules},
    {"kvcache_decode", test_kvcache_decode},
};
BB_TEST_MAIN(cases)
