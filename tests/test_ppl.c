/* test_ppl.c — perplexity on hand-computable cases: llama.cpp's mean/+- formula on a
 * known NLL list (specs §3.1 vector), and a model with all-zero weights, whose logits
 * are all 0 so every token costs exactly ln V: PPL = V, +- = 0, in every window mode,
 * with the scored-token counts each mode promises. */
#include "../engine/alloc.h"
#include "../eval/perplexity.h"
#include "test.h"
#include <math.h>
#include <string.h>

static void test_formula(void) {
    double nll[] = {2.0, 1.5, 3.0, 0.5, 2.5};
    bb_ppl_stats s = {0};
    for (int i = 0; i < 5; i++) { s.sum_nll += nll[i]; s.sum_nll2 += nll[i] * nll[i]; s.n_tokens++; }
    bb_ppl_finish(&s);
    CHECK(fabs(s.perplexity - 6.6858944423) < 1e-9, "PPL %.10f, expected 6.6858944423", s.perplexity);
    CHECK(fabs(s.perplexity_pm - 2.8757119347) < 1e-9, "+/- %.10f, expected 2.8757119347", s.perplexity_pm);
}

static void test_uniform_model(void) {
    for (int f = 0; f < BB_FAMILY_COUNT; f++) {
        bb_config c = {(bb_family)f, 2, 16, 2, 2, 61, 32, 0, 1e-5f, 10000.0f, BB_PREC_FP32, 32, BB_ACTQ_NONE, false, false, false, false};
        c.ffn_hidden = bb_config_default_ffn(c.family, c.n_embd);
        bb_model m;
        char err[200];
        CHECK(bb_model_init(&m, &c, &bb_backend_cpu, false, err, sizeof err) == 0, "%s", err);
        memset(m.params_mem, 0, m.n_params * sizeof(float));  /* all weights 0: logits 0 */
        size_t n = 1000;
        uint32_t *ids = bb_alloc(BB_MEM_OTHER, n * sizeof *ids);
        for (size_t i = 0; i < n; i++) ids[i] = (uint32_t)((i * 37 + 11) % 61);
        struct { const char *name; bb_ppl_mode mode; int ctx, stride; long expect; } cases[] = {
            {"stride=ctx", BB_PPL_STRIDE, 32, 32, 999},
            {"stride=ctx/4", BB_PPL_STRIDE, 32, 8, 999},
            {"chunks", BB_PPL_CHUNKS, 32, 32, (long)(1000 / 32) * (32 - 16 - 1)},
        };
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            bb_ppl_stats s;
            bb_eval_lm_mode(&m, NULL, ids, n, 4, cases[k].ctx, cases[k].stride, cases[k].mode, 0, &s);
            CHECK(s.n_tokens == cases[k].expect, "%s %s: %ld scored tokens, expected %ld", bb_family_name(c.family),
                  cases[k].name, s.n_tokens, cases[k].expect);
            CHECK(fabs(s.perplexity - 61.0) < 61.0 * 1e-5, "%s %s: PPL %.6f, expected exactly V = 61",
                  bb_family_name(c.family), cases[k].name, s.perplexity);
            CHECK(s.perplexity_pm < 1e-3, "%s %s: +/- %.6f for identical NLLs", bb_family_name(c.family), cases[k].name,
                  s.perplexity_pm);
        }
        bb_free(ids);
        bb_model_free(&m);
    }
}

static const bb_test_case cases[] = {
    {"formula", test_formula},
    {"uniform_model", test_uniform_model},
};
BB_TEST_MAIN(cases)
