/* test_model.c — the whole model, both families: fast backend against the scalar
 * reference backend (logits, loss, every gradient), whole-model finite differences,
 * bit-identical determinism, the masked loss, gradient accumulation and the LR schedule. */
#include "../engine/alloc.h"
#include "../engine/model.h"
#include "../engine/schedule.h"
#include "../precisions/blockmath.h"
#include "compare.h"
#include "tolerances.h"
#include <math.h>
#include <string.h>

static bb_config tiny(bb_family f) {
    /* small enough for the reference backend and finite differences */
    bb_config c = {f, 2, 16, 4, f == BB_FAMILY_LLAMA ? 2 : 4, 37, 12, 0, 1e-5f, 10000.0f, BB_PREC_FP32, 32, BB_ACTQ_NONE, false, false, false, false};
    c.ffn_hidden = bb_config_default_ffn(f, c.n_embd);
    return c;
}

static void batch(int B, int T, int V, int *inputs, int *targets, unsigned salt) {
    for (int i = 0; i < B * T; i++) {
        inputs[i] = (int)((i * 7u + salt * 13u + (unsigned)(i * i) % 5u) % (unsigned)V);
        targets[i] = (int)((i * 11u + salt + 3u) % (unsigned)V);
    }
}

static void init_model(bb_model *m, bb_config c, const bb_backend *be) {
    char err[200];
    if (bb_model_init(m, &c, be, true, err, sizeof err) != 0) {
        fprintf(stderr, "model init: %s\n", err);
        exit(1);
    }
    bb_model_init_weights(m, 7);
    /* Biases and norm gains away from 0/1 so their gradients are exercised. */
    for (int i = 0; i < BB_N_PARAMS; i++)
        if (m->specs[i].numel && m->specs[i].ndim <= 2 && i != BB_P_WTE && i != BB_P_WPE && i != BB_P_LMHEAD)
            for (size_t k = 0; k < m->specs[i].numel; k++) m->params.t[i][k] += 0.1f * sinf((float)(k * 7 + i));
}

static void test_fast_vs_reference(void) {
    for (int f = 0; f < BB_FAMILY_COUNT; f++) {
        bb_model fast, ref;
        bb_config c = tiny((bb_family)f);
        init_model(&fast, c, &bb_backend_cpu);
        init_model(&ref, c, &bb_backend_ref);
        int B = 2, T = 12, in[24], tg[24];
        batch(B, T, c.vocab_size, in, tg, 1);
        float l1 = bb_model_forward(&fast, in, tg, B, T), l2 = bb_model_forward(&ref, in, tg, B, T);
        char name[64];
        snprintf(name, sizeof name, "%s.loss", bb_family_name(c.family));
        EXPECT_CLOSE_F(name, &l1, &l2, 1, bb_tol("fp32")->model_vs_ref);
        snprintf(name, sizeof name, "%s.logits", bb_family_name(c.family));
        EXPECT_CLOSE_F(name, fast.acts.logits, ref.acts.logits, (size_t)B * T * c.vocab_size,
                       bb_tol("fp32")->model_vs_ref);
        bb_model_zero_grad(&fast); bb_model_zero_grad(&ref);
        bb_model_backward(&fast, 1.0f); bb_model_backward(&ref, 1.0f);
        for (int i = 0; i < BB_N_PARAMS; i++) {
            if (!fast.specs[i].numel) continue;
            snprintf(name, sizeof name, "%s.grad.%s", bb_family_name(c.family), fast.specs[i].name);
            EXPECT_CLOSE_F(name, fast.grads.t[i], ref.grads.t[i], fast.specs[i].numel, bb_tol("fp32")->model_vs_ref);
        }
        bb_model_free(&fast);
        bb_model_free(&ref);
    }
}

/* Central differences on the float model in double-accumulated loss; a sample of
 * entries per tensor. Float round-off limits the agreement (tolerance table). */
static void test_finite_differences(void) {
    for (int f = 0; f < BB_FAMILY_COUNT; f++) {
        bb_model m;
        bb_config c = tiny((bb_family)f);
        init_model(&m, c, &bb_backend_ref);
        /* Larger weights than at init give gradients far above float round-off of the loss. */
        for (size_t k = 0; k < m.n_params; k++) m.params_mem[k] *= 3.0f;
        int B = 1, T = 6, in[6], tg[6];
        batch(B, T, c.vocab_size, in, tg, 2);
        bb_model_forward(&m, in, tg, B, T);
        bb_model_zero_grad(&m);
        bb_model_backward(&m, 1.0f);
        for (int i = 0; i < BB_N_PARAMS; i++) {
            size_t n = m.specs[i].numel;
            if (!n) continue;
            enum { SAMPLES = 12 };
            float analytic[SAMPLES], numeric[SAMPLES];
            int k = 0;
            for (size_t s = 0; s < SAMPLES; s++) {
                size_t idx = (s * 2654435761u) % n;
                /* only entries that the batch touches: the embedding rows of its tokens */
                if (i == BB_P_WTE && c.family == BB_FAMILY_LLAMA) idx = (size_t)in[s % T] * c.n_embd + s % c.n_embd;
                if (i == BB_P_WPE) idx = (s % T) * c.n_embd + s % c.n_embd;
                float keep = m.params.t[i][idx], h = 1e-2f;
                m.params.t[i][idx] = keep + h;
                double lp = bb_model_forward(&m, in, tg, B, T);
                m.params.t[i][idx] = keep - h;
                double lm = bb_model_forward(&m, in, tg, B, T);
                m.params.t[i][idx] = keep;
                numeric[k] = (float)((lp - lm) / (2.0 * h));
                analytic[k] = m.grads.t[i][idx];
                k++;
            }
            char name[64];
            snprintf(name, sizeof name, "%s.fd.%s", bb_family_name(c.family), m.specs[i].name);
            EXPECT_CLOSE_F(name, analytic, numeric, (size_t)k, bb_tol("fp32")->fd_model_f32);
        }
        bb_model_free(&m);
    }
}

typedef struct {
    float losses[5];
    float *params;
} run_result;

static run_result train_run(bb_family f) {
    bb_model m;
    bb_config c = tiny(f);
    c.vocab_size = 97;
    c.n_embd = 32;
    c.ffn_hidden = bb_config_default_ffn(f, c.n_embd);
    char err[200];
    bb_model_init(&m, &c, &bb_backend_cpu, true, err, sizeof err);
    bb_model_init_weights(&m, 1234);
    bb_adamw opt = {1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f};
    run_result r;
    int B = 4, T = 12, in[48], tg[48];
    for (int s = 0; s < 5; s++) {
        batch(B, T, c.vocab_size, in, tg, 3);  /* the same batch: the loss must fall */
        r.losses[s] = bb_model_forward(&m, in, tg, B, T);
        bb_model_zero_grad(&m);
        bb_model_backward(&m, 1.0f);
        bb_model_step(&m, &opt, 1e-2f);
    }
    r.params = bb_alloc(BB_MEM_OTHER, m.n_params * sizeof(float));
    memcpy(r.params, m.params_mem, m.n_params * sizeof(float));
    size_t n = m.n_params;
    bb_model_free(&m);
    (void)n;
    return r;
}

static void test_deterministic(void) {
    for (int f = 0; f < BB_FAMILY_COUNT; f++) {
        run_result a = train_run((bb_family)f), b = train_run((bb_family)f);
        CHECK(memcmp(a.losses, b.losses, sizeof a.losses) == 0, "%s: losses differ between identical runs: %.9g vs %.9g",
              bb_family_name((bb_family)f), a.losses[4], b.losses[4]);
        bb_config c = tiny((bb_family)f);
        (void)c;
        CHECK(a.losses[4] < a.losses[0], "%s: loss did not fall in 5 steps (%.4f -> %.4f)", bb_family_name((bb_family)f),
              a.losses[0], a.losses[4]);
        bb_free(a.params);
        bb_free(b.params);
    }
}

static void test_masked_loss_and_accumulation(void) {
    for (int f = 0; f < BB_FAMILY_COUNT; f++) {
        bb_model m;
        bb_config c = tiny((bb_family)f);
        init_model(&m, c, &bb_backend_cpu);
        int B = 2, T = 12, in[24], tg[24], masked[24];
        batch(B, T, c.vocab_size, in, tg, 5);
        bb_model_forward(&m, in, tg, B, T);
        double manual = 0;
        int kept = 0;
        for (int i = 0; i < B * T; i++) {
            masked[i] = i % 3 == 0 ? tg[i] : -1;  /* keep a third, as a target-only loss would */
            if (masked[i] >= 0) { manual += m.acts.losses[i]; kept++; }
        }
        float lm = bb_model_forward(&m, in, masked, B, T);
        float want = (float)(manual / kept);
        CHECK(fabsf(lm - want) <= 1e-6f * fabsf(want), "%s: masked loss %.9g, mean of kept per-token losses %.9g",
              bb_family_name(c.family), lm, want);
        /* Accumulating two half batches with scale 1/2 = the gradient of the whole batch. */
        bb_model_forward(&m, in, tg, B, T);
        bb_model_zero_grad(&m);
        bb_model_backward(&m, 1.0f);
        float *whole = bb_alloc(BB_MEM_OTHER, m.n_params * sizeof(float));
        memcpy(whole, m.grads_mem, m.n_params * sizeof(float));
        bb_model_zero_grad(&m);
        for (int half = 0; half < 2; half++) {
            bb_model_forward(&m, in + half * T, tg + half * T, 1, T);
            bb_model_backward(&m, 0.5f);
        }
        char name[64];
        snprintf(name, sizeof name, "%s.accumulated_grads", bb_family_name(c.family));
        EXPECT_CLOSE_F(name, m.grads_mem, whole, m.n_params, bb_tol("fp32")->op_vs_ref);
        bb_free(whole);
        bb_model_free(&m);
    }
}

static void test_schedule(void) {
    bb_schedule s = {BB_SCHED_COSINE, 1.0f, 0.1f, 10, 110};
    CHECK(fabsf(bb_schedule_lr(&s, 0) - 0.1f) < 1e-7f, "warmup step 0: %g", bb_schedule_lr(&s, 0));
    CHECK(fabsf(bb_schedule_lr(&s, 9) - 1.0f) < 1e-7f, "end of warmup: %g", bb_schedule_lr(&s, 9));
    CHECK(fabsf(bb_schedule_lr(&s, 10) - 1.0f) < 1e-6f, "first decay step: %g", bb_schedule_lr(&s, 10));
    CHECK(fabsf(bb_schedule_lr(&s, 109) - 0.1f) < 1e-6f, "last step: %g", bb_schedule_lr(&s, 109));
    float mid = bb_schedule_lr(&s, 10 + 99 / 2);
    CHECK(fabsf(mid - 0.55f) < 0.01f, "cosine midpoint %g, expected about 0.55", mid);
    s.kind = BB_SCHED_LINEAR;
    CHECK(fabsf(bb_schedule_lr(&s, 109) - 0.1f) < 1e-6f, "linear last step: %g", bb_schedule_lr(&s, 109));
    float prev = 2.0f;
    for (int i = 10; i < 110; i++) {
        float lr = bb_schedule_lr(&s, i);
        CHECK(lr <= prev, "linear schedule rises at step %d", i);
        prev = lr;
    }
    s.kind = BB_SCHED_CONSTANT;
    CHECK(bb_schedule_lr(&s, 50) == 1.0f, "constant schedule: %g", bb_schedule_lr(&s, 50));
}

/* GradScaler behaviour (specs §4): an injected inf skips the step and halves the scale;
 * growth_interval clean steps double it (interval shortened to 3 here). */
static void test_loss_scaling(void) {
    bb_model m;
    bb_config c = tiny(BB_FAMILY_GPT2);
    char err[200];
    CHECK(bb_config_set_precision(&c, "fp16", err, sizeof err) == 0, "%s", err);
    init_model(&m, c, &bb_backend_cpu);
    bb_grad_scaler s = bb_grad_scaler_default(true);
    CHECK(s.scale == 65536.0f && s.growth_interval == 2000, "defaults %g / %d", s.scale, s.growth_interval);
    s.growth_interval = 3;
    bb_adamw opt = {1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f};
    int B = 2, T = 12, in[24], tg[24];
    batch(B, T, c.vocab_size, in, tg, 4);
    float norm, norm_unscaled;
    /* the unscaled gradient norm equals the norm without loss scaling */
    bb_model_forward(&m, in, tg, B, T);
    bb_model_zero_grad(&m);
    bb_model_backward(&m, 1.0f);
    norm_unscaled = (float)bb_model_grad_norm(&m);
    for (int k = 0; k < 3; k++) {
        bb_model_forward(&m, in, tg, B, T);
        bb_model_zero_grad(&m);
        bb_model_backward(&m, bb_grad_scaler_factor(&s));
        CHECK(bb_model_step_scaled(&m, &s, &opt, 1e-3f, &norm) == 1, "clean step %d skipped", k);
        if (k == 0) CHECK(fabsf(norm - norm_unscaled) <= 1e-4f * norm_unscaled, "unscaled norm %g vs %g", norm, norm_unscaled);
    }
    CHECK(s.scale == 131072.0f, "scale after 3 clean steps: %g (want 131072)", s.scale);
    float *before = bb_alloc(BB_MEM_OTHER, m.n_params * sizeof(float));
    memcpy(before, m.params_mem, m.n_params * sizeof(float));
    bb_model_forward(&m, in, tg, B, T);
    bb_model_zero_grad(&m);
    bb_model_backward(&m, bb_grad_scaler_factor(&s));
    m.grads.qkvw[5] = INFINITY;  /* the injected overflow */
    int step_before = m.step;
    CHECK(bb_model_step_scaled(&m, &s, &opt, 1e-3f, &norm) == 0, "a step with inf gradients was taken");
    CHECK(s.scale == 65536.0f && s.tracker == 0 && s.skipped == 1, "after inf: scale %g tracker %d skipped %ld", s.scale,
          s.tracker, s.skipped);
    CHECK(m.step == step_before && memcmp(before, m.params_mem, m.n_params * sizeof(float)) == 0,
          "the skipped step changed the parameters");
    bb_free(before);
    bb_model_free(&m);
}

/* QAT plumbing: the fake-quant weights equal the traits' quantizer of the masters after
 * every step, and b158 carries its SubLN gains. */
static void test_qat_weights(void) {
    for (int p = BB_PREC_FP16; p < BB_PREC_COUNT; p++) {
        bb_model m;
        bb_config c = tiny(BB_FAMILY_LLAMA);
        char err[200];
        CHECK(bb_config_set_precision(&c, bb_precisions[p].name, err, sizeof err) == 0, "%s", err);
        init_model(&m, c, &bb_backend_cpu);
        int B = 2, T = 12, in[24], tg[24];
        batch(B, T, c.vocab_size, in, tg, 6);
        bb_adamw opt = {1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f};
        bb_model_forward(&m, in, tg, B, T);
        bb_model_zero_grad(&m);
        bb_model_backward(&m, 1.0f);
        bb_model_step(&m, &opt, 1e-2f);
        const bb_tensor_spec *s = &m.specs[BB_P_FCW];
        size_t per = s->numel / (size_t)c.n_layer;
        float *want = bb_alloc(BB_MEM_OTHER, per * sizeof(float));
        bb_prec_opts o = bb_config_prec_opts(&c);
        bb_precisions[p].fake_weights(want, m.params.fcw + per, (int)s->shape[1], (int)s->shape[2], &o);
        size_t differ = 0;  /* == rather than memcmp: packed codes unpack -0.0 as +0.0 (precision.h) */
        for (size_t e = 0; e < per; e++) differ += want[e] != m.wq.fcw[per + e];
        CHECK(differ == 0, "%s: %zu values of wq.fcw[layer 1] differ from the fake-quant master", bb_precisions[p].name,
              differ);
        CHECK((m.specs[BB_P_SUBLN_ATTW].numel > 0) == bb_precisions[p].subln, "%s: SubLN gains present=%d",
              bb_precisions[p].name, m.specs[BB_P_SUBLN_ATTW].numel > 0);
        bb_free(want);
        bb_model_free(&m);
    }
}

/* logits_in_place (the training drivers' setting): the cross-entropy writes the
 * probabilities over the logits. Same loss, bit-identical gradients, B*T*V floats fewer
 * activation bytes; what acts.logits holds afterwards are the kept model's probabilities.
 * A distillation forward keeps both buffers even so (its backward reads both). */
static void test_logits_in_place(void) {
    const char *precs[] = {"fp32", "int8"};
    for (int f = 0; f < BB_FAMILY_COUNT; f++)
        for (int pi = 0; pi < 2; pi++) {
            bb_config c = tiny((bb_family)f);
            char err[200], name[96];
            CHECK(bb_config_set_precision(&c, precs[pi], err, sizeof err) == 0, "%s", err);
            snprintf(name, sizeof name, "%s/%s logits_in_place", bb_family_name(c.family), precs[pi]);
            int B = 2, T = 12, in[24], tg[24];
            batch(B, T, c.vocab_size, in, tg, 5);
            tg[3] = -1;  /* an ignored target: its row must still hold probabilities */
            bb_model a, b;
            init_model(&a, c, &bb_backend_cpu);
            init_model(&b, c, &bb_backend_cpu);
            b.logits_in_place = true;
            bb_mem_stats s0 = bb_mem_stats_get();
            float la = bb_model_forward(&a, in, tg, B, T);
            bb_mem_stats s1 = bb_mem_stats_get();
            float lb = bb_model_forward(&b, in, tg, B, T);
            bb_mem_stats s2 = bb_mem_stats_get();
            size_t acts_a = s1.current[BB_MEM_ACTS] - s0.current[BB_MEM_ACTS];
            size_t acts_b = s2.current[BB_MEM_ACTS] - s1.current[BB_MEM_ACTS];
            size_t n = (size_t)B * T * c.vocab_size;
            CHECK(la == lb, "%s: loss %.9g, with the logits kept %.9g", name, lb, la);
            CHECK(acts_a - acts_b == n * sizeof(float), "%s: saved %zu activation bytes, want B*T*V*4 = %zu", name,
                  acts_a - acts_b, n * sizeof(float));
            CHECK(b.acts.probs == b.acts.logits && a.acts.probs != a.acts.logits, "%s: buffers", name);
            EXPECT_CLOSE_F(name, b.acts.logits, a.acts.probs, n, 0.0);
            bb_model_zero_grad(&a); bb_model_zero_grad(&b);
            bb_model_backward(&a, 1.0f); bb_model_backward(&b, 1.0f);
            size_t ndiff = 0, worst = 0;
            for (size_t i = 0; i < a.n_params; i++)
                if (memcmp(&a.grads_mem[i], &b.grads_mem[i], sizeof(float)) != 0 && !ndiff++) worst = i;
            CHECK(ndiff == 0, "%s: %zu gradients differ, first [%zu] %.9g vs %.9g", name, ndiff, worst,
                  b.grads_mem[worst], a.grads_mem[worst]);
            /* distillation on the same model: the buffers part again, and the loss is the kept model's */
            float *tl = bb_alloc(BB_MEM_OTHER, n * sizeof(float));
            for (size_t i = 0; i < n; i++) tl[i] = 0.01f * (float)(i % 17);
            float ka = bb_model_forward_kd(&a, in, tg, tl, 0.5f, 2.0f, B, T);
            float kb = bb_model_forward_kd(&b, in, tg, tl, 0.5f, 2.0f, B, T);
            CHECK(ka == kb && b.acts.probs != b.acts.logits, "%s: KD loss %.9g vs %.9g, or buffers shared", name, kb,
                  ka);
            bb_free(tl);
            bb_model_free(&a);
            bb_model_free(&b);
        }
}

/* Checkpointing (model.h bb_ckpt_mode) recomputes in backward what forward did not keep:
 * selective the attention probabilities (from qkv, backend.h), block every block. Each gives
 * the loss and the gradients of keeping everything bit for bit, in fewer activation bytes,
 * for both families at fp32, fp16 (4 layers: six activations a block kept in 16 bits,
 * bb_model_half_acts) and b158 (SubLN), and at T = 72 > BB_ATT_BLOCK with hd 8, where
 * the attention runs several row blocks on an OpenMP team. */
static void test_checkpointing_parity(void) {
    const struct { const char *precision; int n_layer, n_embd, T; } cases[] = {
        {"fp32", 2, 16, 12}, {"fp16", 4, 16, 12}, {"b158", 2, 16, 12}, {"fp32", 2, 32, 72}};
    for (int f = 0; f < BB_FAMILY_COUNT; f++)
        for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
            bb_config c = tiny((bb_family)f);
            c.n_layer = cases[ci].n_layer;
            c.n_embd = cases[ci].n_embd;
            c.ffn_hidden = bb_config_default_ffn(c.family, c.n_embd);
            c.max_seq = cases[ci].T > c.max_seq ? cases[ci].T : c.max_seq;
            char err[200], name[96];
            CHECK(bb_config_set_precision(&c, cases[ci].precision, err, sizeof err) == 0, "%s", err);
            int B = 2, T = cases[ci].T, in[144], tg[144];
            batch(B, T, c.vocab_size, in, tg, 8);
            bb_model a;
            init_model(&a, c, &bb_backend_cpu);
            bb_mem_stats before = bb_mem_stats_get();
            float la = bb_model_forward(&a, in, tg, B, T);
            size_t acts_a = bb_mem_stats_get().current[BB_MEM_ACTS] - before.current[BB_MEM_ACTS];
            bb_model_zero_grad(&a);
            bb_model_backward(&a, 1.0f);
            /* fp16/bf16 keep them in 16 bits (att_h), the others as floats (att) */
            bool att16 = bb_model_att_fmt(&c) != BB_ATT_F32;
            CHECK(att16 ? a.acts.att_h != NULL && a.acts.att == NULL : a.acts.att != NULL && a.acts.att_h == NULL,
                  "%s/%s: the attention probabilities not kept (or kept twice) without checkpointing",
                  bb_family_name(c.family), cases[ci].precision);
            for (int mode = BB_CKPT_SELECTIVE; mode < BB_CKPT_COUNT; mode++) {
                snprintf(name, sizeof name, "%s/%s L=%d C=%d T=%d %s", bb_family_name(c.family), cases[ci].precision,
                         c.n_layer, c.n_embd, T, bb_ckpt_names[mode]);
                bb_model b;
                init_model(&b, c, &bb_backend_cpu);
                b.ckpt_mode = (bb_ckpt_mode)mode;
                before = bb_mem_stats_get();
                float lb = bb_model_forward(&b, in, tg, B, T);
                size_t acts_b = bb_mem_stats_get().current[BB_MEM_ACTS] - before.current[BB_MEM_ACTS];
                bb_model_zero_grad(&b);
                bb_model_backward(&b, 1.0f);
                CHECK(la == lb, "%s: loss %.9g, without checkpointing %.9g", name, lb, la);
                size_t worst = 0, ndiff = 0;
                for (size_t i = 0; i < a.n_params; i++)
                    if (memcmp(&a.grads_mem[i], &b.grads_mem[i], sizeof(float)) != 0 && !ndiff++) worst = i;
                CHECK(ndiff == 0, "%s: %zu gradients differ from those without checkpointing, first [%zu] %.9g vs %.9g",
                      name, ndiff, worst, b.grads_mem[worst], a.grads_mem[worst]);
                CHECK(acts_b < acts_a, "%s: kept %zu activation bytes, without checkpointing %zu", name, acts_b, acts_a);
                if (mode == BB_CKPT_SELECTIVE) {
                    CHECK(b.acts.att == NULL && b.acts.att_h == NULL, "%s: attention probabilities kept", name);
                    size_t att = (size_t)c.n_layer * B * c.n_head * T * T * (att16 ? sizeof(uint16_t) : sizeof(float));
                    CHECK(acts_a - acts_b == att, "%s: saved %zu activation bytes, the probabilities are %zu", name,
                          acts_a - acts_b, att);
                    CHECK(!bb_model_half_acts(&c) || b.acts.ln1_h != NULL, "%s: no 16-bit saved activations", name);
                }
                bb_model_free(&b);
            }
            bb_model_free(&a);
        }
}

/* The same model twice for the 16-bit storage tests: fp32_store keeps every activation as
 * floats (fp32_acts), half_store as the precision stores them; both in checkpointing ck. */
static void init_storage_pair(bb_model *fp32_store, bb_model *half_store, bb_config c, bb_ckpt_mode ck) {
    init_model(fp32_store, c, &bb_backend_cpu);
    init_model(half_store, c, &bb_backend_cpu);
    fp32_store->fp32_acts = true;
    fp32_store->ckpt_mode = half_store->ckpt_mode = ck;
}

/* fp16/bf16 keep the activations of their matmuls in 16 bits for backward (model.h): the
 * values are exact there, so three training steps (in each checkpointing mode)
 * give the bits of fp32 storage, in fewer activation bytes. */
static void test_half_activations(void) {
    const char *precisions[] = {"fp16", "bf16"};
    for (int f = 0; f < BB_FAMILY_COUNT; f++)
        for (int pi = 0; pi < 2; pi++)
            for (int ck = 0; ck < BB_CKPT_COUNT; ck++)
                for (int hr = 0; hr < 2; hr++) {
                bb_config c = tiny((bb_family)f);
                c.n_layer = 4;  /* 16-bit storage saves bytes from 2 kept layers (ensure_acts) */
                char err[200], name[120];
                bb_config_set_precision(&c, precisions[pi], err, sizeof err);
                c.half_residual = hr;
                snprintf(name, sizeof name, "%s/%s checkpointing %s%s", bb_family_name(c.family), precisions[pi],
                         bb_ckpt_names[ck], hr ? " half_residual" : "");
                CHECK(bb_model_half_acts(&c), "%s: expected 16-bit activation storage", name);
                bb_model a, b;
                init_storage_pair(&a, &b, c, (bb_ckpt_mode)ck);
                bb_adamw opt = {1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f};
                int B = 2, T = 12, in[24], tg[24];
                for (int s = 0; s < 3; s++) {
                    batch(B, T, c.vocab_size, in, tg, 20 + s);
                    bb_mem_stats before = bb_mem_stats_get();
                    float la = bb_model_forward(&a, in, tg, B, T);
                    bb_mem_stats mid = bb_mem_stats_get();
                    float lb = bb_model_forward(&b, in, tg, B, T);
                    bb_mem_stats after = bb_mem_stats_get();
                    if (s == 0) {
                        size_t acts_a = mid.current[BB_MEM_ACTS] - before.current[BB_MEM_ACTS];
                        size_t acts_b = after.current[BB_MEM_ACTS] - mid.current[BB_MEM_ACTS];
                        CHECK(ck == BB_CKPT_BLOCK || acts_b < acts_a, "%s: 16-bit storage kept %zu activation bytes, fp32 %zu", name,
                              acts_b, acts_a);
                        /* training borrows the fp32 working buffers from the gradient scratch
                         * (ensure_acts): the 16-bit model saves exactly half of the six tensors' bytes */
                        size_t C = (size_t)c.n_embd, hd = C / (size_t)c.n_head, F = (size_t)c.ffn_hidden;
                        size_t QKV = ((size_t)c.n_head + 2 * (size_t)c.n_kv_head) * hd;
                        size_t FF1 = c.family == BB_FAMILY_LLAMA ? 2 * F : F;
                        size_t six = (size_t)c.n_layer * B * T * (3 * C + F + QKV + FF1);
                        /* half_residual: residual2 and residual3 of every layer in 16 bits too */
                        size_t res = hr ? 2 * (size_t)c.n_layer * B * T * C : 0;
                        if (ck != BB_CKPT_BLOCK) {
                            CHECK(b.acts_borrowed, "%s: the working buffers are not borrowed", name);
                            CHECK(acts_a - acts_b == 2 * (six + res), "%s: 16-bit storage saved %zu activation bytes, "
                                  "half of the tensors it keeps is %zu", name, acts_a - acts_b, 2 * (six + res));
                        }
                    }
                    bb_model_zero_grad(&a); bb_model_zero_grad(&b);
                    bb_model_backward(&a, 1.0f); bb_model_backward(&b, 1.0f);
                    CHECK(la == lb, "%s step %d: loss %.9g with 16-bit storage, %.9g with fp32", name, s, lb, la);
                    CHECK(memcmp(a.grads_mem, b.grads_mem, a.n_params * sizeof(float)) == 0,
                          "%s step %d: gradients differ with 16-bit storage", name, s);
                    bb_model_step(&a, &opt, 1e-2f);
                    bb_model_step(&b, &opt, 1e-2f);
                }
                bb_model_free(&a);
                bb_model_free(&b);
            }
}

/* 16-bit storage with borrowed working buffers (ensure_acts) on the shapes and call
 * sequences that stress the borrowing: a batch of one token, a short llama batch (fewer
 * rows than a whole fch row block needs), llama with GQA and F = C (16-bit storage even
 * with block checkpointing, borrowing on), F < C and FF1 < QKV (borrowing off), and per
 * step two micro-batches of different (B, T) (one of them KD, with the probabilities
 * apart) before the step, then an eval forward (no targets) of a third shape. Every
 * loss, gradient and eval logit must be the bits of fp32 storage. */
static void test_half_activations_shapes(void) {
    struct { bb_family f; int kv, ffn; int borrow; } shapes[] = {
        {BB_FAMILY_GPT2, 4, 0, 1},    /* tiny: F = 4C, FF1 = F > QKV = 3C */
        {BB_FAMILY_LLAMA, 2, 0, 1},   /* tiny: F = 256, FF1 = 512 > QKV = 32 */
        {BB_FAMILY_LLAMA, 1, 16, 1},  /* F = C, FF1 = 32 > QKV = 24: 16-bit storage in one kept layer too */
        {BB_FAMILY_GPT2, 4, 8, 0},    /* F < C */
        {BB_FAMILY_GPT2, 4, 32, 0},   /* FF1 < QKV */
    };
    /* (B, T) of each step's two micro-batches (the second one KD) and of the eval forward */
    static const int mb[][6] = {{1, 1, 1, 1, 2, 3}, {2, 12, 1, 5, 1, 1}, {1, 12, 3, 7, 2, 12}};
    const char *precisions[] = {"fp16", "bf16"};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int ck = 0; ck < BB_CKPT_COUNT; ck++)
            for (int hr = 0; hr < 2; hr++) {
                bb_config c = tiny(shapes[si].f);
                c.n_layer = 3;
                c.n_kv_head = shapes[si].kv;
                if (shapes[si].ffn) c.ffn_hidden = shapes[si].ffn;
                char err[200], name[160];
                bb_config_set_precision(&c, precisions[(si + (size_t)ck + (size_t)hr) % 2], err, sizeof err);
                c.half_residual = hr;
                snprintf(name, sizeof name, "%s kv %d F %d %s checkpointing %s%s", bb_family_name(c.family), c.n_kv_head,
                         c.ffn_hidden, bb_precisions[c.precision].name, bb_ckpt_names[ck], hr ? " half_residual" : "");
                bb_model a, b;
                init_storage_pair(&a, &b, c, (bb_ckpt_mode)ck);
                bb_adamw opt = {1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f};
                int V = c.vocab_size, in[36], tg[36];
                float tl[36 * 37];
                for (int i = 0; i < 36 * V; i++) tl[i] = 2.0f * sinf(0.37f * (float)i);
                bool borrowed = false;
                for (int s = 0; s < 3; s++) {
                    bb_model_zero_grad(&a);
                    bb_model_zero_grad(&b);
                    for (int u = 0; u < 2; u++) {
                        int B = mb[s][2 * u], T = mb[s][2 * u + 1];
                        batch(B, T, V, in, tg, (unsigned)(30 + 2 * s + u));
                        float la = u ? bb_model_forward_kd(&a, in, tg, tl, 0.5f, 2.0f, B, T) : bb_model_forward(&a, in, tg, B, T);
                        float lb = u ? bb_model_forward_kd(&b, in, tg, tl, 0.5f, 2.0f, B, T) : bb_model_forward(&b, in, tg, B, T);
                        borrowed |= b.acts_borrowed;
                        CHECK(shapes[si].borrow || !b.acts_borrowed, "%s: borrowed working buffers with F %d < C or "
                              "FF1 < QKV", name, c.ffn_hidden);
                        bb_model_backward(&a, 0.5f);
                        bb_model_backward(&b, 0.5f);
                        CHECK(la == lb, "%s step %d micro-batch %d (B %d T %d): loss %.9g with 16-bit storage, %.9g "
                              "with fp32", name, s, u, B, T, lb, la);
                        CHECK(memcmp(a.grads_mem, b.grads_mem, a.n_params * sizeof(float)) == 0,
                              "%s step %d micro-batch %d (B %d T %d): gradients differ with 16-bit storage", name, s, u, B, T);
                    }
                    bb_model_step(&a, &opt, 1e-2f);
                    bb_model_step(&b, &opt, 1e-2f);
                    int B = mb[s][4], T = mb[s][5];
                    batch(B, T, V, in, tg, (unsigned)(40 + s));
                    bb_model_forward(&a, in, NULL, B, T);
                    bb_model_forward(&b, in, NULL, B, T);
                    CHECK(memcmp(a.acts.logits, b.acts.logits, (size_t)B * T * V * sizeof(float)) == 0,
                          "%s step %d: eval logits (B %d T %d) differ with 16-bit storage", name, s, B, T);
                }
                /* the odd shapes must not just dodge the borrowing everywhere */
                CHECK(!shapes[si].borrow || ck == BB_CKPT_BLOCK || borrowed, "%s: never borrowed", name);
                bb_model_free(&a);
                bb_model_free(&b);
            }
}

/* The packed kernels (integer / half forward) against sgemm on the fake-quant values: the
 * same numbers up to float summation order, for logits and every gradient. */
static void test_kernels_vs_fake_path(void) {
    for (int f = 0; f < BB_FAMILY_COUNT; f++)
        for (int p = BB_PREC_FP16; p < BB_PREC_COUNT; p++) {
            bb_config c = tiny((bb_family)f);
            c.n_embd = 64;
            c.ffn_hidden = bb_config_default_ffn(c.family, c.n_embd);
            char err[200], name[96];
            bb_config_set_precision(&c, bb_precisions[p].name, err, sizeof err);
            bb_model a, b;
            init_model(&a, c, &bb_backend_cpu);
            init_model(&b, c, &bb_backend_cpu);
            b.use_kernels = false;
            int B = 2, T = 12, in[24], tg[24];
            batch(B, T, c.vocab_size, in, tg, 9);
            bb_model_forward(&a, in, tg, B, T);
            bb_model_forward(&b, in, tg, B, T);
            snprintf(name, sizeof name, "%s/%s kernel logits", bb_family_name(c.family), bb_precisions[p].name);
            double tol = bb_tol(bb_precisions[p].name)->model_paths;
            EXPECT_CLOSE_F(name, a.acts.logits, b.acts.logits, (size_t)B * T * c.vocab_size, tol);
            bb_model_zero_grad(&a); bb_model_zero_grad(&b);
            bb_model_backward(&a, 1.0f); bb_model_backward(&b, 1.0f);
            snprintf(name, sizeof name, "%s/%s kernel grads", bb_family_name(c.family), bb_precisions[p].name);
            EXPECT_CLOSE_F(name, a.grads_mem, b.grads_mem, a.n_params, tol);
            bb_model_free(&a);
            bb_model_free(&b);
        }
}

/* quant_head (config.h): the LM head as a quantized linear, checked piece by piece against
 * its definition. A model with the head quantized and one without share every weight, so
 * everything before the head is the same: (1) head_q is the precision's fake quantization
 * of the FP32 head; (2) the head's input (acts.lnf) is the precision's activation
 * quantization of the plain model's final-norm output; (3) logits = lnf_q head_q^T,
 * rounded to 16 bits for fp16/bf16; (4) the STE: grad lm_head = dlogits^T lnf_q (llama;
 * gpt2's tied wte = that + the embedding's scatter of the residual gradient), and the
 * gradient into the final norm is dlogits head_q, seen through the norm's weight gradient
 * (llama: sum x rstd dnorm) or bias gradient (gpt2: sum dnorm). */
static void test_quant_head(void) {
    for (int f = 0; f < BB_FAMILY_COUNT; f++)
        for (int p = BB_PREC_FP16; p < BB_PREC_COUNT; p++) {
            if (bb_precisions[p].base_only) continue;
            bb_config c = tiny((bb_family)f);
            char err[200], name[96];
            bb_config_set_precision(&c, bb_precisions[p].name, err, sizeof err);
            bb_config plain_cfg = c;
            c.quant_head = true;
            bb_model q, plain;
            init_model(&q, c, &bb_backend_cpu);
            init_model(&plain, plain_cfg, &bb_backend_cpu);
            int B = 2, T = 12, N = B * T, C = c.n_embd, V = c.vocab_size, in[24], tg[24];
            batch(B, T, V, in, tg, 4);
            bb_model_forward(&q, in, tg, B, T);
            bb_model_forward(&plain, in, tg, B, T);
            const char *fam = bb_family_name(c.family), *pn = bb_precisions[p].name;
            const float *master = c.family == BB_FAMILY_GPT2 ? q.params.wte : q.params.lm_head;
            float *want = bb_alloc(BB_MEM_OTHER, (size_t)V * C * sizeof(float));
            bb_prec_opts o = bb_config_prec_opts(&c);
            bb_precisions[p].fake_weights(want, master, V, C, &o);
            size_t differ = 0;
            for (size_t e = 0; e < (size_t)V * C; e++) differ += want[e] != q.head_q[e];
            CHECK(differ == 0, "%s/%s: %zu head_q values differ from the fake-quant head", fam, pn, differ);
            float *lnf_q = bb_alloc(BB_MEM_OTHER, (size_t)N * C * sizeof(float));
            memcpy(lnf_q, plain.acts.lnf, (size_t)N * C * sizeof(float));
            bb_fake_acts(lnf_q, N, C, c.act_quant, c.act_quant == BB_ACTQ_INT8_BLOCK ? c.group : C);
            snprintf(name, sizeof name, "%s/%s quantized head input", fam, pn);
            EXPECT_CLOSE_F(name, q.acts.lnf, lnf_q, (size_t)N * C, 0.0);
            float *z = bb_alloc(BB_MEM_OTHER, (size_t)N * V * sizeof(float));
            for (int n = 0; n < N; n++)
                for (int v = 0; v < V; v++) {
                    double s = 0;
                    for (int k = 0; k < C; k++) s += (double)lnf_q[n * C + k] * q.head_q[(size_t)v * C + k];
                    z[(size_t)n * V + v] = (float)s;
                }
            if (c.act_quant == BB_ACTQ_FP16 || c.act_quant == BB_ACTQ_BF16) bb_fake_acts(z, N, V, c.act_quant, V);
            snprintf(name, sizeof name, "%s/%s quantized head logits", fam, pn);
            EXPECT_CLOSE_F(name, q.acts.logits, z, (size_t)N * V, bb_tol(pn)->model_paths);
            bb_model_zero_grad(&q);
            bb_model_backward(&q, 1.0f);
            /* acts.probs holds dlogits after backward */
            const float *dlogits = q.acts.probs;
            float *dw = bb_alloc(BB_MEM_OTHER, (size_t)V * C * sizeof(float));
            for (int v = 0; v < V; v++)
                for (int k = 0; k < C; k++) {
                    double s = 0;
                    for (int n = 0; n < N; n++) s += (double)dlogits[(size_t)n * V + v] * lnf_q[n * C + k];
                    dw[(size_t)v * C + k] = (float)s;
                }
            if (c.family == BB_FAMILY_GPT2)  /* tied: + the embedding's scatter (its lookup is FP32 here) */
                for (int n = 0; n < N; n++)
                    for (int k = 0; k < C; k++) dw[(size_t)in[n] * C + k] += q.gs.dresidual[(size_t)n * C + k];
            snprintf(name, sizeof name, "%s/%s grad %s (STE)", fam, pn, c.family == BB_FAMILY_GPT2 ? "wte" : "lm_head");
            EXPECT_CLOSE_F(name, c.family == BB_FAMILY_GPT2 ? q.grads.wte : q.grads.lm_head, dw, (size_t)V * C, 1e-5);
            /* dnorm = dlogits head_q, through the final norm's parameter gradients */
            double *dn = calloc((size_t)N * C, sizeof *dn);
            for (int n = 0; n < N; n++)
                for (int v = 0; v < V; v++) {
                    double d = dlogits[(size_t)n * V + v];
                    for (int k = 0; k < C; k++) dn[(size_t)n * C + k] += d * q.head_q[(size_t)v * C + k];
                }
            float want_norm[64];
            const float *x = q.acts.residual3 + (size_t)(c.n_layer - 1) * N * C;  /* the last block's output */
            for (int k = 0; k < C; k++) {
                double s = 0;
                for (int n = 0; n < N; n++)
                    s += c.family == BB_FAMILY_GPT2 ? dn[(size_t)n * C + k]
                                                    : (double)x[(size_t)n * C + k] * q.acts.lnf_rstd[n] * dn[(size_t)n * C + k];
                want_norm[k] = (float)s;
            }
            snprintf(name, sizeof name, "%s/%s grad %s (dlogits head_q)", fam, pn, c.family == BB_FAMILY_GPT2 ? "lnfb" : "lnfw");
            EXPECT_CLOSE_F(name, c.family == BB_FAMILY_GPT2 ? q.grads.lnfb : q.grads.lnfw, want_norm, (size_t)C, 1e-5);
            free(dn);
            bb_free(dw);
            bb_free(want); bb_free(lnf_q); bb_free(z);
            bb_model_free(&q);
            bb_model_free(&plain);
        }
}

/* quant_embed (config.h): the token embedding looked up from its fake-quant copy. (1)
 * embed_q is the precision's fake quantization of wte (and, for a tied gpt2 head quantized
 * too, the very matrix of head_q); (2) the block input is embed_q[token] (+ wpe[pos] for
 * gpt2), bit for bit; (3) the STE: grad wte gets each token's residual gradient unchanged
 * (llama, whose head is untied: grad wte row v = sum of the residual gradient at v's
 * positions, which backward leaves in gs.dresidual). */
static void test_quant_embed(void) {
    for (int f = 0; f < BB_FAMILY_COUNT; f++)
        for (int p = BB_PREC_FP16; p < BB_PREC_COUNT; p++)
            for (int with_head = 0; with_head < 2; with_head++) {
                if (bb_precisions[p].base_only) continue;
                bb_config c = tiny((bb_family)f);
                char err[200];
                bb_config_set_precision(&c, bb_precisions[p].name, err, sizeof err);
                c.quant_embed = true;
                c.quant_head = with_head;
                bb_model m;
                init_model(&m, c, &bb_backend_cpu);
                int B = 2, T = 12, N = B * T, C = c.n_embd, V = c.vocab_size, in[24], tg[24];
                batch(B, T, V, in, tg, 5);
                const char *fam = bb_family_name(c.family), *pn = bb_precisions[p].name;
                float *want = bb_alloc(BB_MEM_OTHER, (size_t)V * C * sizeof(float));
                bb_prec_opts o = bb_config_prec_opts(&c);
                bb_precisions[p].fake_weights(want, m.params.wte, V, C, &o);
                size_t differ = 0;
                for (size_t e = 0; e < (size_t)V * C; e++) differ += want[e] != m.embed_q[e];
                CHECK(differ == 0, "%s/%s: %zu embed_q values differ from the fake-quant wte", fam, pn, differ);
                CHECK((m.embed_q == m.head_q) == (with_head && c.family == BB_FAMILY_GPT2),
                      "%s/%s head %d: embed_q and head_q shared %d", fam, pn, with_head, m.embed_q == m.head_q);
                bb_model_forward(&m, in, tg, B, T);
                size_t wrong = 0;
                for (int n = 0; n < N; n++)
                    for (int k = 0; k < C; k++) {
                        float x = m.embed_q[(size_t)in[n] * C + k];
                        if (m.params.wpe) x += m.params.wpe[(size_t)(n % T) * C + k];
                        wrong += m.acts.encoded[(size_t)n * C + k] != x;
                    }
                CHECK(wrong == 0, "%s/%s: %zu block inputs are not embed_q[token] (+ wpe)", fam, pn, wrong);
                bb_model_zero_grad(&m);
                bb_model_backward(&m, 1.0f);
                if (c.family == BB_FAMILY_LLAMA) {
                    double *dw = calloc((size_t)V * C, sizeof *dw);
                    for (int n = 0; n < N; n++)
                        for (int k = 0; k < C; k++) dw[(size_t)in[n] * C + k] += m.gs.dresidual[(size_t)n * C + k];
                    float *dwf = bb_alloc(BB_MEM_OTHER, (size_t)V * C * sizeof(float));
                    for (size_t e = 0; e < (size_t)V * C; e++) dwf[e] = (float)dw[e];
                    char name[96];
                    snprintf(name, sizeof name, "%s/%s%s grad wte (STE)", fam, pn, with_head ? " +head" : "");
                    EXPECT_CLOSE_F(name, m.grads.wte, dwf, (size_t)V * C, 1e-6);
                    free(dw);
                    bb_free(dwf);
                }
                bb_free(want);
                bb_model_free(&m);
            }
}

/* half_residual (config.h): the residual stream rounded to the model's 16-bit format after
 * the embedding sum and after every residual addition. Checked on an fp32_acts model
 * (every layer's residual2/residual3 kept as floats) against the definition: the block
 * input is round16(embedding (+ wpe)); layer 0's residual2 is round16(input + attprojb +
 * atty Wq^T) recomputed here in double (a kernel's float sum may sit on the other side of
 * a rounding boundary: at most 1 % of the values, one 16-bit step apart); every stream value
 * is on the 16-bit grid, which without the flag it is not; and the loss changes. */
static void test_half_residual(void) {
    const char *precisions[] = {"fp16", "bf16"};
    for (int f = 0; f < BB_FAMILY_COUNT; f++)
        for (int pi = 0; pi < 2; pi++) {
            bb_config c = tiny((bb_family)f);
            char err[200], name[64];
            bb_config_set_precision(&c, precisions[pi], err, sizeof err);
            snprintf(name, sizeof name, "%s/%s half_residual", bb_family_name(c.family), precisions[pi]);
            bool bf = pi == 1;
            bb_config cz = c;
            c.half_residual = true;
            bb_model a, z;
            init_model(&a, c, &bb_backend_cpu);
            init_model(&z, cz, &bb_backend_cpu);
            a.fp32_acts = z.fp32_acts = true;
            int B = 2, T = 12, N = B * T, C = c.n_embd, L = c.n_layer, in[24], tg[24];
            batch(B, T, c.vocab_size, in, tg, 31);
            float la = bb_model_forward(&a, in, tg, B, T), lz = bb_model_forward(&z, in, tg, B, T);
            size_t wrong = 0, off_grid = 0, off_grid_z = 0, NC = (size_t)N * C;
            for (int n = 0; n < N; n++)
                for (int k = 0; k < C; k++) {
                    float x = a.params.wte[(size_t)in[n] * C + k];
                    if (a.params.wpe) x += a.params.wpe[(size_t)(n % T) * C + k];
                    wrong += a.acts.encoded[(size_t)n * C + k] != (bf ? bb_hd_round_bf16(x) : bb_hd_round_fp16(x));
                }
            CHECK(wrong == 0, "%s: %zu block inputs are not round16(wte[token] (+ wpe))", name, wrong);
            for (size_t e = 0; e < (size_t)L * NC; e++) {
                float r2 = a.acts.residual2[e], r3 = a.acts.residual3[e], z3 = z.acts.residual3[e];
                off_grid += (r2 != (bf ? bb_hd_round_bf16(r2) : bb_hd_round_fp16(r2))) +
                            (r3 != (bf ? bb_hd_round_bf16(r3) : bb_hd_round_fp16(r3)));
                off_grid_z += z3 != (bf ? bb_hd_round_bf16(z3) : bb_hd_round_fp16(z3));
            }
            CHECK(off_grid == 0, "%s: %zu residual-stream values off the 16-bit grid, first residual3 %.9g", name,
                  off_grid, a.acts.residual3[0]);
            CHECK(off_grid_z > 0, "%s: without the flag the residual stream is on the 16-bit grid too", name);
            CHECK(la != lz, "%s: the loss %.9g is the loss without the flag", name, la);
            /* layer 0's residual2 from its definition; atty holds the rounded attention output */
            const float *w = a.wq.attprojw ? a.wq.attprojw : a.params.attprojw;
            size_t flips = 0;
            double worst = 0;
            for (int n = 0; n < N; n++)
                for (int o = 0; o < C; o++) {
                    double s = (double)a.acts.encoded[(size_t)n * C + o] + (a.params.attprojb ? a.params.attprojb[o] : 0.0);
                    for (int k = 0; k < C; k++) s += (double)a.acts.atty[(size_t)n * C + k] * w[(size_t)o * C + k];
                    float want = bf ? bb_hd_round_bf16((float)s) : bb_hd_round_fp16((float)s);
                    float got = a.acts.residual2[(size_t)n * C + o];
                    if (got != want) {
                        flips++;
                        double step = fabs((double)want) * (bf ? 1.0 / 128 : 1.0 / 1024) + 1e-30;
                        worst = fmax(worst, fabs((double)got - want) / step);
                    }
                }
            CHECK(flips * 100 <= NC && worst <= 1.0, "%s: layer 0 residual2 differs from round16(definition) at %zu of "
                  "%zu values, worst by %.2f 16-bit steps; first %.9g", name, flips, NC, worst, a.acts.residual2[0]);
            bb_model_zero_grad(&a);
            bb_model_backward(&a, 1.0f);
            double sq = 0;
            for (size_t i = 0; i < a.n_params; i++) sq += (double)a.grads_mem[i] * a.grads_mem[i];
            CHECK(isfinite(sq) && sq > 0, "%s: gradient norm^2 %g", name, sq);
            bb_model_free(&a);
            bb_model_free(&z);
        }
}

static const bb_test_case cases[] = {
    {"half_residual", test_half_residual},
    {"quant_head", test_quant_head},
    {"quant_embed", test_quant_embed},
    {"kernels_vs_fake_path", test_kernels_vs_fake_path},
    {"checkpointing_parity", test_checkpointing_parity},
    {"logits_in_place", test_logits_in_place},
    {"half_activations", test_half_activations},
    {"half_activations_shapes", test_half_activations_shapes},
    {"loss_scaling", test_loss_scaling},
    {"qat_weights", test_qat_weights},
    {"fast_vs_reference", test_fast_vs_reference},
    {"finite_differences", test_finite_differences},
    {"deterministic", test_deterministic},
    {"masked_loss_and_accumulation", test_masked_loss_and_accumulation},
    {"schedule", test_schedule},
};
BB_TEST_MAIN(cases)
