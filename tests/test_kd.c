/* test_kd.c — knowledge distillation (engine/distill.h, backend.h kd_forward/kd_backward):
 *   spec_vectors     the reference values of evaluation.md §5.3 (Hinton et al. 2015; torch
 *                    1.13 float64): CE, KL_batchmean at T = 1, 2, 4 and the four alpha/T
 *                    combinations, by the double reference and every float implementation
 *   parse            --kd values: defaults, ranges, malformed input
 *   teacher_check    vocabulary and sequence-length checks between teacher and student
 *   forward_only     a forward-only teacher computes the same logits bit for bit as a
 *                    training model with the same weights (both families, fp32 and b158),
 *                    and charges every byte to BB_MEM_TEACHER, none to the student's
 *   alpha_one_is_ce  alpha = 1 is the cross-entropy: same loss and gradients, bit for bit
 *   student_learns   a student trained on the pure soft loss (alpha = 0) moves towards
 *                    its teacher: the KD loss falls
 * Gradients against finite differences: test_gradcheck (kd); fast vs reference: test_ops;
 * against PyTorch autograd: tests/ref/kd_ref.py (kd_parity_test.sh). */
#include "../engine/alloc.h"
#include "../engine/cpu/isa.h"
#include "../engine/cpu/ops_ref_f64.h"
#include "../engine/distill.h"
#include "../engine/model.h"
#include "compare.h"
#include "tolerances.h"
#include <math.h>
#include <string.h>

/* ---- spec vectors (evaluation.md §5.3) ----------------------------------------------- */

static const double zs[2][3] = {{1.0, 2.0, 0.5}, {0.1, -0.3, 2.2}}, zt[2][3] = {{0.5, 2.5, 0.0}, {0.0, 0.0, 3.0}};
static const int y[2] = {1, 2};
static const double spec_ce = 0.325233860006;
static const double spec_kl[3][2] = {{1, 0.058414892547}, {2, 0.023091484789}, {4, 0.006101998533}};  /* T, KL */
static const double spec_mix[4][3] = {{2, 0.5, 0.208799899581}, {2, 0.9, 0.301947067921},  /* T, alpha, loss */
                                      {4, 0.5, 0.211432918263}, {1, 0.5, 0.191824376277}};

/* The mean over the two rows of the kd_forward losses. */
static double mean_f64(double alpha, double temp) {
    double losses[2], probs[6];
    kd_forward_ref_f64(losses, probs, &zs[0][0], &zt[0][0], y, alpha, temp, 2, 3);
    return (losses[0] + losses[1]) / 2;
}

static double mean_f32(const bb_backend *be, float alpha, float temp) {
    float s[6], t[6], losses[2], probs[6];
    for (int i = 0; i < 6; i++) s[i] = (float)(&zs[0][0])[i], t[i] = (float)(&zt[0][0])[i];
    be->kd_forward(losses, probs, s, t, y, alpha, temp, 2, 3);
    return ((double)losses[0] + losses[1]) / 2;
}

/* relative error bound (tol > 0) or absolute (tol < 0: |tol|), tolerances.h bb_tol_spec_loss */
static void expect_value(const char *what, const char *impl, double got, double want, double tol) {
    double err = fabs(got - want) / (tol > 0 ? fabs(want) : 1.0);
    CHECK(err <= fabs(tol), "%s by %s: %.12f, spec %.12f (%s error %.2e > %.0e)", what, impl, got, want,
          tol > 0 ? "relative" : "absolute", err, fabs(tol));
}

/* alpha = 1 leaves the CE; alpha = 0 leaves T^2 KL_batchmean (kd_forward always applies
 * T^2, unlike torchdistill's alpha = 0 quirk). */
static void check_impl(const char *impl, double (*mean)(const void *be, double alpha, double temp), const void *be,
                       double tol) {
    expect_value("CE", impl, mean(be, 1.0, 1.0), spec_ce, tol);
    for (int k = 0; k < 3; k++) {
        char what[32];
        double T = spec_kl[k][0];
        snprintf(what, sizeof what, "KL_batchmean(T=%g)", T);
        expect_value(what, impl, mean(be, 0.0, T) / (T * T), spec_kl[k][1], tol);
    }
    for (int k = 0; k < 4; k++) {
        char what[48];
        snprintf(what, sizeof what, "alpha=%g T=%g", spec_mix[k][1], spec_mix[k][0]);
        expect_value(what, impl, mean(be, spec_mix[k][1], spec_mix[k][0]), spec_mix[k][2], tol);
    }
}

static double via_f64(const void *be, double alpha, double temp) { (void)be; return mean_f64(alpha, temp); }
static double via_f32(const void *be, double alpha, double temp) { return mean_f32(be, (float)alpha, (float)temp); }

static void test_spec_vectors(void) {
    check_impl("ref_f64", via_f64, NULL, bb_tol_spec_loss.ref_f64);
    check_impl("ref", via_f32, &bb_backend_ref, -bb_tol_spec_loss.ops_f32);
    bb_isa best = bb_isa_best_supported();
    for (int isa = 0; isa <= (int)best; isa++) {
        bb_isa_force((bb_isa)isa);
        char impl[32];
        snprintf(impl, sizeof impl, "cpu[%s]", bb_isa_name((bb_isa)isa));
        check_impl(impl, via_f32, &bb_backend_cpu, -bb_tol_spec_loss.ops_f32);
    }
    bb_isa_force(best);
    printf("     spec: CE %.12f, alpha=0.5 T=2 %.12f (ref_f64), %.9f (cpu)\n", mean_f64(1, 1), mean_f64(0.5, 2),
           mean_f32(&bb_backend_cpu, 0.5f, 2.0f));
}

/* ---- settings and checks ------------------------------------------------------------ */

static void test_parse(void) {
    bb_kd_settings kd;
    char err[200];
    CHECK(bb_kd_parse("alpha=0.25,T=4", &kd, err, sizeof err) == 0 && kd.alpha == 0.25f && kd.temp == 4.0f,
          "alpha=0.25,T=4 -> %g %g (%s)", kd.alpha, kd.temp, err);
    CHECK(bb_kd_parse("T=3", &kd, err, sizeof err) == 0 && kd.alpha == BB_KD_ALPHA_DEFAULT && kd.temp == 3.0f,
          "T=3 keeps the default alpha: %g %g", kd.alpha, kd.temp);
    CHECK(bb_kd_parse("alpha=0,T=0.5", &kd, err, sizeof err) == 0 && kd.alpha == 0.0f && kd.temp == 0.5f,
          "the boundaries alpha=0 and a small T are allowed: %s", err);
    CHECK(bb_kd_parse("alpha=1", &kd, err, sizeof err) == 0 && kd.alpha == 1.0f, "alpha=1 is allowed: %s", err);
    const struct { const char *spec, *message; } bad[] = {
        {"alpha=1.5", "alpha must be a number in [0, 1]"}, {"alpha=-0.1", "alpha must be"},
        {"alpha=nan", "alpha must be"},  {"alpha=0.5x", "alpha must be"}, {"T=0", "T must be a number > 0"},
        {"T=-2", "T must be"},           {"T=inf", "T must be"},           {"beta=0.5", "unknown key 'beta'"},
        {"alpha", "is not key=value"},   {"alpha=", "is not key=value"},  {"", "needs alpha=A,T=X"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        int rc = bb_kd_parse(bad[i].spec, &kd, err, sizeof err);
        CHECK(rc != 0 && strstr(err, bad[i].message), "--kd '%s': rc %d, message '%s', expected '%s'", bad[i].spec,
              rc, err, bad[i].message);
    }
}

static bb_config tiny(bb_family f, bb_precision p) {
    bb_config c = {f, 2, 16, 4, f == BB_FAMILY_LLAMA ? 2 : 4, 37, 12, 0, 1e-5f, 10000.0f, BB_PREC_FP32, 32,
                   BB_ACTQ_NONE, false, false, false, false};
    c.ffn_hidden = bb_config_default_ffn(f, c.n_embd);
    char err[200];
    bb_config_set_precision(&c, bb_precisions[p].name, err, sizeof err);
    return c;
}

static void test_teacher_check(void) {
    bb_config s = tiny(BB_FAMILY_GPT2, BB_PREC_B158), t = tiny(BB_FAMILY_LLAMA, BB_PREC_FP32);
    char err[200];
    t.n_layer = 3;
    CHECK(bb_teacher_check(&t, &s, 12, err, sizeof err) == 0, "another family, depth and precision may teach: %s", err);
    t.vocab_size = 41;
    CHECK(bb_teacher_check(&t, &s, 12, err, sizeof err) != 0 && strstr(err, "vocab_size is 41"),
          "a different vocabulary is refused: '%s'", err);
    t.vocab_size = s.vocab_size;
    t.max_seq = 8;
    CHECK(bb_teacher_check(&t, &s, 12, err, sizeof err) != 0 && strstr(err, "max_seq 8"),
          "a teacher shorter than the sequence is refused: '%s'", err);
}

static void batch(int n, int V, int *inputs, int *targets, unsigned salt) {
    for (int i = 0; i < n; i++) {
        inputs[i] = (int)((i * 7u + salt * 13u + (unsigned)(i * i) % 5u) % (unsigned)V);
        targets[i] = i % 5 == 2 ? -1 : (int)((i * 11u + salt + 3u) % (unsigned)V);  /* some masked */
    }
}

/* ---- the teacher model --------------------------------------------------------------- */

static void test_forward_only(void) {
    const bb_precision precs[] = {BB_PREC_FP32, BB_PREC_B158};
    for (int f = 0; f < BB_FAMILY_COUNT; f++)
        for (int pi = 0; pi < 2; pi++) {
            bb_config c = tiny((bb_family)f, precs[pi]);
            char err[200], name[64];
            snprintf(name, sizeof name, "%s/%s", bb_family_name(c.family), bb_precisions[c.precision].name);
            bb_model full, t;
            CHECK(bb_model_init(&full, &c, &bb_backend_cpu, true, err, sizeof err) == 0, "%s", err);
            bb_model_init_weights(&full, 11);
            int B = 2, T = 12, in[24], tg[24];
            batch(B * T, c.vocab_size, in, tg, 3);
            bb_model_forward(&full, in, tg, B, T);
            bb_mem_stats before = bb_mem_stats_get();
            CHECK(bb_teacher_init(&t, &c, &bb_backend_cpu, err, sizeof err) == 0, "%s", err);
            memcpy(t.params_mem, full.params_mem, full.n_params * sizeof(float));
            bb_model_requantize(&t);
            const float *tl = bb_teacher_logits(&t, in, B, T);
            size_t n = (size_t)B * T * c.vocab_size;
            bool same = memcmp(tl, full.acts.logits, n * sizeof(float)) == 0;
            if (!same) EXPECT_CLOSE_F(name, tl, full.acts.logits, n, 0.0);
            CHECK(same, "%s: the forward-only logits differ from the training model's", name);
            bb_mem_stats after = bb_mem_stats_get();
            for (int k = 0; k < BB_MEM_COUNT; k++)
                if (k != BB_MEM_TEACHER && k != BB_MEM_WORKSPACE)  /* workspace: shared kernel scratch */
                    CHECK(after.current[k] == before.current[k], "%s: the teacher changed category %s by %zd bytes",
                          name, bb_mem_category_name((bb_mem_category)k),
                          (ssize_t)(after.current[k] - before.current[k]));
            size_t teacher_bytes = after.current[BB_MEM_TEACHER] - before.current[BB_MEM_TEACHER];
            size_t floor_bytes = t.n_params * sizeof(float) + n * sizeof(float);  /* weights + logits */
            CHECK(teacher_bytes >= floor_bytes, "%s: teacher holds %zu bytes, less than weights + logits %zu", name,
                  teacher_bytes, floor_bytes);
            CHECK(t.grads_mem == NULL && t.m_mem == NULL && t.acts.probs == NULL && t.scratch_mem == NULL &&
                      t.acts.att == NULL,
                  "%s: a teacher has no gradients, moments, loss buffers, gradient scratch or attention probabilities",
                  name);
            bb_model_free(&t);
            CHECK(bb_mem_stats_get().current[BB_MEM_TEACHER] == before.current[BB_MEM_TEACHER],
                  "%s: freeing the teacher returns its bytes", name);
            bb_model_free(&full);
        }
}

static void test_alpha_one_is_ce(void) {
    for (int f = 0; f < BB_FAMILY_COUNT; f++) {
        bb_config c = tiny((bb_family)f, BB_PREC_INT8), tc = tiny((bb_family)(1 - f), BB_PREC_FP32);
        char err[200];
        bb_model a, b, t;
        CHECK(bb_model_init(&a, &c, &bb_backend_cpu, true, err, sizeof err) == 0, "%s", err);
        CHECK(bb_model_init(&b, &c, &bb_backend_cpu, true, err, sizeof err) == 0, "%s", err);
        CHECK(bb_teacher_init(&t, &tc, &bb_backend_cpu, err, sizeof err) == 0, "%s", err);
        bb_model_init_weights(&a, 5);
        bb_model_init_weights(&b, 5);
        bb_model_init_weights(&t, 6);
        int B = 2, T = 12, in[24], tg[24];
        batch(B * T, c.vocab_size, in, tg, 4);
        float la = bb_model_forward(&a, in, tg, B, T);
        float lb = bb_model_forward_kd(&b, in, tg, bb_teacher_logits(&t, in, B, T), 1.0f, 2.0f, B, T);
        CHECK(la == lb, "%s: alpha=1 loss %.9g != CE %.9g", bb_family_name(c.family), lb, la);
        bb_model_zero_grad(&a); bb_model_zero_grad(&b);
        bb_model_backward(&a, 1.0f); bb_model_backward(&b, 1.0f);
        CHECK(memcmp(a.grads_mem, b.grads_mem, a.n_params * sizeof(float)) == 0,
              "%s: alpha=1 gradients differ from the CE's", bb_family_name(c.family));
        /* and alpha < 1 is not the CE: the hook is live */
        float lk = bb_model_forward_kd(&b, in, tg, bb_teacher_logits(&t, in, B, T), 0.5f, 2.0f, B, T);
        CHECK(fabsf(lk - la) > 1e-3f, "%s: alpha=0.5 loss %.6f equals the CE %.6f", bb_family_name(c.family), lk, la);
        bb_model_free(&a); bb_model_free(&b); bb_model_free(&t);
    }
}

static void test_student_learns(void) {
    bb_config c = tiny(BB_FAMILY_GPT2, BB_PREC_FP32), tc = tiny(BB_FAMILY_LLAMA, BB_PREC_FP32);
    char err[200];
    bb_model s, t;
    CHECK(bb_model_init(&s, &c, &bb_backend_cpu, true, err, sizeof err) == 0, "%s", err);
    CHECK(bb_teacher_init(&t, &tc, &bb_backend_cpu, err, sizeof err) == 0, "%s", err);
    bb_model_init_weights(&s, 1);
    bb_model_init_weights(&t, 2);
    for (size_t k = 0; k < t.n_params; k++) t.params_mem[k] *= 20.0f;  /* a confident teacher */
    int B = 2, T = 12, in[24], tg[24];
    batch(B * T, c.vocab_size, in, tg, 5);
    const float *tl = bb_teacher_logits(&t, in, B, T);
    bb_adamw opt = {1e-2f, 0.9f, 0.95f, 1e-8f, 0.0f, 1.0f};
    float first = NAN, last = NAN;
    for (int step = 0; step < 30; step++) {
        last = bb_model_forward_kd(&s, in, tg, tl, 0.0f, 2.0f, B, T);
        if (step == 0) first = last;
        bb_model_zero_grad(&s);
        bb_model_backward(&s, 1.0f);
        bb_model_step(&s, &opt, opt.lr);
    }
    printf("     soft loss (alpha=0, T=2) %.4f -> %.4f in 30 steps\n", first, last);
    CHECK(last < 0.5f * first, "the soft loss did not halve: %.4f -> %.4f", first, last);
    bb_model_free(&s); bb_model_free(&t);
}

static const bb_test_case cases[] = {
    {"spec_vectors", test_spec_vectors},
    {"parse", test_parse},
    {"teacher_check", test_teacher_check},
    {"forward_only", test_forward_only},
    {"alpha_one_is_ce", test_alpha_one_is_ce},
    {"student_learns", test_student_learns},
};
BB_TEST_MAIN(cases)
