/* test_memcalc.c — the memory calculator against the tracked allocator: for tiny and
 * small, every precision, each checkpointing mode (none, selective, block), each category within 5 % and
 * the total within 10 % (issue 7), after a training step allocated everything; the same
 * for method kd (full training + a forward-only teacher, category BB_MEM_TEACHER) and for
 * method lora (every base precision, nf4 included); the CPU attention's per-thread
 * transient scratch (att_scratch_per_thread) exactly. Also the spec's arithmetic: FP32
 * Llama-7B weights = 26.95 GB, NF4 + double quant 4.127 bits/weight = 3.48 GB
 * (precisions.md §5.2). */
#include "../bench/memcalc.h"
#include "../engine/alloc.h"
#include "../engine/distill.h"
#include "../engine/model.h"
#include "../precisions/gemm.h"
#include "test.h"
#include <math.h>
#include <omp.h>

static void check_close(const char *what, const char *cfgname, double predicted, double measured, double tol) {
    double err = measured > 0 ? fabs(predicted - measured) / measured : fabs(predicted);
    CHECK(err <= tol, "%s %s: predicted %.0f bytes, measured %.0f (%.2f%% off, limit %.0f%%)", cfgname, what, predicted,
          measured, 100 * err, 100 * tol);
}

/* One training step of the student (with a forward-only KD teacher when t is given), then
 * every category measured against the prediction: 5 % each, 10 % the total. */
static void check_step(const char *name, const bb_config *c, const bb_config *t, bb_ckpt_mode ck) {
    int B = 2, T = 64;
    char err[200];
    bb_gemm_scratch_release();
    bb_mem_stats before = bb_mem_stats_get();
    bb_model m, teacher;
    CHECK(bb_model_init(&m, c, &bb_backend_cpu, true, err, sizeof err) == 0, "%s", err);
    m.ckpt_mode = ck;
    m.logits_in_place = true;  /* as the training drivers run it (bench/methods.c, bitbench train) */
    bb_model_init_weights(&m, 1);
    if (t) {
        /* zero weights: the memory does not depend on them, and initialising takes time */
        CHECK(bb_teacher_init(&teacher, t, &bb_backend_cpu, err, sizeof err) == 0, "%s", err);
    }
    int in[128], tg[128];
    for (int i = 0; i < B * T; i++) { in[i] = (i * 7) % 4096; tg[i] = (i * 11) % 4096; }
    if (t) bb_model_forward_kd(&m, in, tg, bb_teacher_logits(&teacher, in, B, T), 0.5f, 2.0f, B, T);
    else bb_model_forward(&m, in, tg, B, T);
    bb_model_zero_grad(&m);
    bb_model_backward(&m, 1.0f);
    bb_gemm_scratch_release();  /* the packed kernels' activation cache (memcalc.h) */
    bb_mem_stats after = bb_mem_stats_get();
    bb_memcalc pred;
    if (t) bb_memcalc_kd(c, t, B, T, ck, &pred);
    else bb_memcalc_full(c, B, T, ck, &pred);
    /* the 16-bit part exactly: the model's 16-bit table (acts_half_mem) */
    double half_bytes = 2.0 * (double)m.acts_half_cap;
    CHECK(pred.activations_16bit == half_bytes, "%s 16-bit activations: predicted %.0f bytes, the model holds %.0f",
          name, pred.activations_16bit, half_bytes);
    double cats[][2] = {
        {pred.parameters, (double)(after.current[BB_MEM_PARAMS] - before.current[BB_MEM_PARAMS])},
        {pred.gradients, (double)(after.current[BB_MEM_GRADS] - before.current[BB_MEM_GRADS])},
        {pred.optimizer, (double)(after.current[BB_MEM_OPTIM] - before.current[BB_MEM_OPTIM])},
        {pred.packed, (double)(after.current[BB_MEM_PACKED] - before.current[BB_MEM_PACKED])},
        {pred.activations, (double)(after.current[BB_MEM_ACTS] - before.current[BB_MEM_ACTS])},
        {pred.workspace, (double)(after.current[BB_MEM_WORKSPACE] - before.current[BB_MEM_WORKSPACE])},
        {pred.teacher, (double)(after.current[BB_MEM_TEACHER] - before.current[BB_MEM_TEACHER])},
    };
    const char *cat_names[] = {"parameters", "gradients", "optimizer", "packed", "activations", "workspace",
                               "teacher"};
    double measured_total = 0;
    for (int k = 0; k < 7; k++) {
        check_close(cat_names[k], name, cats[k][0], cats[k][1], 0.05);
        measured_total += cats[k][1];
    }
    check_close("total", name, pred.total, measured_total, 0.10);
    if (t) bb_model_free(&teacher);
    bb_model_free(&m);
}

static void test_against_allocator(void) {
    const char *presets[] = {"tiny", "small"};
    for (int pi = 0; pi < 2; pi++)
        for (int p = 0; p < BB_PREC_COUNT; p++)
            for (int ck = 0; ck < BB_CKPT_COUNT; ck++) {
                bb_config c;
                char err[200], name[96];
                bb_config_from_preset(&c, presets[pi], err, sizeof err);
                bb_config_set_precision(&c, bb_precisions[p].name, err, sizeof err);
                snprintf(name, sizeof name, "%s/%s/%s", presets[pi], bb_precisions[p].name, bb_ckpt_names[ck]);
                check_step(name, &c, NULL, (bb_ckpt_mode)ck);
            }
    /* the quantized LM head and embedding (quant_head, quant_embed): their fake-quant copies
     * are packed-weights tables, one shared by a tied head and embedding */
    struct { const char *prec, *family; bool head, embed; } qt[] = {
        {"fp16", "gpt2", true, false}, {"int8", "gpt2", false, true}, {"b158", "gpt2", true, true},
        {"int4", "llama", true, true}};
    for (int k = 0; k < 4; k++) {
        bb_config c;
        char err[200], name[96], fam[32];
        bb_config_from_preset(&c, "small", err, sizeof err);
        snprintf(fam, sizeof fam, "family=%s", qt[k].family);
        bb_config_override(&c, fam, err, sizeof err);
        bb_config_set_precision(&c, qt[k].prec, err, sizeof err);
        c.quant_head = qt[k].head;
        c.quant_embed = qt[k].embed;
        snprintf(name, sizeof name, "small/%s/%s%s%s", qt[k].family, qt[k].prec, qt[k].head ? "/quant_head" : "",
                 qt[k].embed ? "/quant_embed" : "");
        check_step(name, &c, NULL, BB_CKPT_NONE);
    }
    /* half_residual: residual2 and residual3 kept in 16 bits where the working buffers are
     * borrowed (not with block checkpointing: there only the rounding changes) */
    struct { const char *prec, *family; bb_ckpt_mode ck; } hr[] = {
        {"fp16", "gpt2", BB_CKPT_NONE}, {"fp16", "gpt2", BB_CKPT_SELECTIVE}, {"bf16", "llama", BB_CKPT_NONE},
        {"bf16", "llama", BB_CKPT_BLOCK}};
    for (int k = 0; k < 4; k++) {
        bb_config c;
        char err[200], name[96], fam[32];
        bb_config_from_preset(&c, "small", err, sizeof err);
        snprintf(fam, sizeof fam, "family=%s", hr[k].family);
        bb_config_override(&c, fam, err, sizeof err);
        bb_config_set_precision(&c, hr[k].prec, err, sizeof err);
        c.half_residual = true;
        snprintf(name, sizeof name, "small/%s/%s/half_residual/%s", hr[k].family, hr[k].prec, bb_ckpt_names[hr[k].ck]);
        check_step(name, &c, NULL, hr[k].ck);
    }
}

/* 16-bit activation storage at its edges (model.c ensure_acts): borrowing the working
 * buffers needs F >= C, FF1 >= QKV and a batch whose dqkv holds one fch row (B T QKV >=
 * FF1); llama with GQA and F = C stores in 16 bits under block checkpointing too, where
 * half_residual keeps the residual stream in fp32. The activation bytes are exact. */
static void test_half_storage_edges(void) {
    struct { const char *set; int B, T; bb_ckpt_mode ck; } cases[] = {
        {"family=llama,n_kv_head=1,ffn_hidden=64", 2, 64, BB_CKPT_BLOCK},
        {"family=llama,n_kv_head=1,ffn_hidden=64", 2, 64, BB_CKPT_NONE},
        {"family=llama,n_kv_head=1,ffn_hidden=64", 1, 1, BB_CKPT_NONE},
        {"family=llama", 1, 2, BB_CKPT_SELECTIVE},
        {"family=gpt2", 1, 1, BB_CKPT_NONE},
        {"family=gpt2", 2, 64, BB_CKPT_NONE},
        {"family=gpt2,ffn_hidden=32", 2, 64, BB_CKPT_NONE},
        {"family=gpt2,ffn_hidden=160", 2, 64, BB_CKPT_NONE},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (int hr = 0; hr < 2; hr++) {
            bb_config c;
            char err[200], name[160];
            bb_config_from_preset(&c, "tiny", err, sizeof err);
            CHECK(bb_config_override(&c, cases[k].set, err, sizeof err) == 0, "%s", err);
            bb_config_set_precision(&c, k % 2 ? "bf16" : "fp16", err, sizeof err);
            c.half_residual = hr;
            c.n_layer = 3;
            snprintf(name, sizeof name, "tiny %s %s%s B %d T %d checkpointing %s", cases[k].set,
                     bb_precisions[c.precision].name, hr ? " half_residual" : "", cases[k].B, cases[k].T,
                     bb_ckpt_names[cases[k].ck]);
            int B = cases[k].B, T = cases[k].T, in[128], tg[128];
            for (int i = 0; i < B * T; i++) { in[i] = (i * 7) % 4096; tg[i] = (i * 11) % 4096; }
            bb_model m;
            bb_gemm_scratch_release();
            bb_mem_stats before = bb_mem_stats_get();
            CHECK(bb_model_init(&m, &c, &bb_backend_cpu, true, err, sizeof err) == 0, "%s", err);
            m.ckpt_mode = cases[k].ck;
            m.logits_in_place = true;
            bb_model_forward(&m, in, tg, B, T);
            bb_model_zero_grad(&m);
            bb_model_backward(&m, 1.0f);
            bb_gemm_scratch_release();
            bb_mem_stats after = bb_mem_stats_get();
            bb_memcalc pred;
            bb_memcalc_full(&c, B, T, cases[k].ck, &pred);
            double measured = (double)(after.current[BB_MEM_ACTS] - before.current[BB_MEM_ACTS]);
            CHECK(pred.activations == measured, "%s: activations predicted %.0f bytes, measured %.0f", name,
                  pred.activations, measured);
            bb_model_free(&m);
        }
}

/* method lora: a frozen base at every precision, adapters on all linears with dropout
 * (masks kept), after a training step (adapter gradients and moments allocated). */
static void test_lora_against_allocator(void) {
    const char *presets[] = {"tiny", "small"};
    for (int pi = 0; pi < 2; pi++)
        for (int p = 0; p < BB_PREC_COUNT; p++)
            for (int ck = 0; ck < BB_CKPT_COUNT; ck++) {
                bb_config c;
                char err[200], name[96];
                bb_config_from_preset(&c, presets[pi], err, sizeof err);
                bb_config_set_precision(&c, bb_precisions[p].name, err, sizeof err);
                bb_lora_config lc = bb_lora_config_default();
                CHECK(bb_lora_config_parse(&lc, "r=8,alpha=16,dropout=0.05,targets=all-linear", err, sizeof err) == 0,
                      "%s", err);
                int B = 2, T = 64;
                snprintf(name, sizeof name, "lora %s/%s/%s", presets[pi], bb_precisions[p].name, bb_ckpt_names[ck]);
                bb_model src, m;  /* the base's FP32 masters exist only to be packed (src, freed after) */
                CHECK(bb_model_init(&src, &c, &bb_backend_cpu, false, err, sizeof err) == 0, "%s", err);
                bb_model_init_weights(&src, 1);
                bb_gemm_scratch_release();
                bb_mem_stats before = bb_mem_stats_get();
                CHECK(bb_lora_base_from_model(&m, &src, err, sizeof err) == 0, "%s", err);
                CHECK(bb_lora_attach(&m, &lc, 1, err, sizeof err) == 0, "%s", err);
                m.ckpt_mode = (bb_ckpt_mode)ck;
                m.logits_in_place = true;
                bb_lora_set_training(&m, true);
                int in[128], tg[128];
                for (int i = 0; i < B * T; i++) { in[i] = (i * 7) % 4096; tg[i] = (i * 11) % 4096; }
                bb_model_forward(&m, in, tg, B, T);
                bb_model_zero_grad(&m);
                bb_model_backward(&m, 1.0f);
                bb_adamw opt = {1e-3f, 0.9f, 0.95f, 1e-8f, 0.0f, 1.0f};
                bb_model_step(&m, &opt, 1e-3f);
                bb_gemm_scratch_release();
                bb_mem_stats after = bb_mem_stats_get();
                bb_memcalc pred;
                bb_memcalc_lora(&c, &lc, B, T, (bb_ckpt_mode)ck, &pred);
                struct { const char *name; double predicted; int cat; } cats[] = {
                    {"parameters", pred.parameters, BB_MEM_PARAMS},     {"gradients", pred.gradients, BB_MEM_GRADS},
                    {"optimizer", pred.optimizer, BB_MEM_OPTIM},         {"packed base", pred.packed, BB_MEM_PACKED},
                    {"frozen params", pred.frozen, BB_MEM_FROZEN},       {"adapters", pred.adapters, BB_MEM_ADAPTERS},
                    {"adapter gradients", pred.adapter_grads, BB_MEM_ADAPTER_GRADS},
                    {"adapter optimizer", pred.adapter_optim, BB_MEM_ADAPTER_OPTIM},
                    {"activations", pred.activations, BB_MEM_ACTS},     {"workspace", pred.workspace, BB_MEM_WORKSPACE},
                };
                double measured_total = 0;
                for (size_t k = 0; k < sizeof cats / sizeof cats[0]; k++) {
                    double measured = (double)(after.current[cats[k].cat] - before.current[cats[k].cat]);
                    check_close(cats[k].name, name, cats[k].predicted, measured, 0.05);
                    measured_total += measured;
                }
                check_close("total", name, pred.total, measured_total, 0.10);
                CHECK(pred.parameters == 0 && pred.gradients == 0 && pred.optimizer == 0 && pred.adapters > 0,
                      "%s: a frozen base has no masters, gradients or moments; adapters do", name);
                bb_model_free(&m);
                bb_model_free(&src);
            }
}

/* Method kd: students with an FP32 teacher of their own preset (every precision at tiny;
 * fp32 and b158 at small: the student's categories are the full method's, checked above),
 * and teachers that differ: larger, quantized (fake-quant copy + packed format), the llama
 * family (RoPE tables, SwiGLU), under a checkpointing student. */
static void test_kd_against_allocator(void) {
    const char *presets[] = {"tiny", "small"};
    char err[200], name[128];
    for (int pi = 0; pi < 2; pi++)
        for (int p = 0; p < BB_PREC_COUNT; p++) {
            if (pi == 1 && p != BB_PREC_FP32 && p != BB_PREC_B158) continue;
            bb_config c, t;
            bb_config_from_preset(&c, presets[pi], err, sizeof err);
            bb_config_set_precision(&c, bb_precisions[p].name, err, sizeof err);
            bb_config_from_preset(&t, presets[pi], err, sizeof err);
            snprintf(name, sizeof name, "kd %s/%s <- %s/fp32", presets[pi], bb_precisions[p].name, presets[pi]);
            check_step(name, &c, &t, BB_CKPT_NONE);
        }
    const struct { const char *student, *sprec, *teacher, *tprec, *tset; bb_ckpt_mode ck; } mixed[] = {
        {"tiny", "b158", "small", "fp32", NULL, BB_CKPT_NONE},
        {"small", "b158", "small", "int8", NULL, BB_CKPT_BLOCK},
        {"small", "int4", "tiny", "b158", NULL, BB_CKPT_NONE},
        {"tiny", "fp32", "small", "fp32", "family=llama,n_kv_head=2,max_seq=64", BB_CKPT_NONE},
        {"tiny", "int8", "tiny", "fp32", NULL, BB_CKPT_SELECTIVE},
    };
    for (size_t k = 0; k < sizeof mixed / sizeof mixed[0]; k++) {
        bb_config c, t;
        bb_config_from_preset(&c, mixed[k].student, err, sizeof err);
        bb_config_set_precision(&c, mixed[k].sprec, err, sizeof err);
        bb_config_from_preset(&t, mixed[k].teacher, err, sizeof err);
        if (mixed[k].tset) CHECK(bb_config_override(&t, mixed[k].tset, err, sizeof err) == 0, "%s", err);
        bb_config_set_precision(&t, mixed[k].tprec, err, sizeof err);
        CHECK(bb_config_validate(&t, err, sizeof err) == 0, "%s", err);
        snprintf(name, sizeof name, "kd %s/%s <- %s/%s%s%s%s", mixed[k].student, mixed[k].sprec, mixed[k].teacher,
                 mixed[k].tprec, mixed[k].tset ? " " : "", mixed[k].tset ? mixed[k].tset : "",
                 mixed[k].ck != BB_CKPT_NONE ? (mixed[k].ck == BB_CKPT_BLOCK ? " (block)" : " (selective)") : "");
        check_step(name, &c, &t, mixed[k].ck);
    }
}

/* The CPU attention backward's transient scratch, which the totals leave out: its peak is
 * the calculator's att_scratch_per_thread times the OpenMP threads, more with the
 * probabilities recomputed (att == NULL) than kept. */
static void test_attention_scratch(void) {
    bb_config c;
    char err[200];
    bb_config_from_preset(&c, "tiny", err, sizeof err);
    int B = 2, T = 100, NH = c.n_head, NKV = c.n_kv_head, hd = c.n_embd / c.n_head, QKV = (NH + 2 * NKV) * hd;
    size_t nq = (size_t)B * T * QKV, ny = (size_t)B * T * NH * hd;
    float *qkv = bb_alloc(BB_MEM_OTHER, nq * sizeof(float)), *dqkv = bb_alloc(BB_MEM_OTHER, nq * sizeof(float));
    float *y = bb_alloc(BB_MEM_OTHER, ny * sizeof(float)), *att = bb_alloc(BB_MEM_OTHER, (size_t)B * NH * T * T * 4);
    for (size_t i = 0; i < nq; i++) qkv[i] = (float)((i * 37) % 101) / 101.0f - 0.5f;
    for (size_t i = 0; i < ny; i++) y[i] = (float)((i * 13) % 29) / 29.0f - 0.5f;
    double peaks[BB_CKPT_COUNT] = {0};
    for (int ck = 0; ck < BB_CKPT_COUNT; ck++) {
        bb_memcalc pred;
        bb_memcalc_full(&c, B, T, (bb_ckpt_mode)ck, &pred);
        bb_mem_reset_peaks();
        bb_mem_stats before = bb_mem_stats_get();
        bb_backend_cpu.attention_backward(dqkv, y, qkv, ck == BB_CKPT_SELECTIVE ? NULL : att, B, T, NH, NKV, hd, BB_ATT_F32);
        bb_mem_stats after = bb_mem_stats_get();
        peaks[ck] = (double)(after.peak[BB_MEM_WORKSPACE] - before.current[BB_MEM_WORKSPACE]);
        double want = pred.att_scratch_per_thread * omp_get_max_threads();
        CHECK(peaks[ck] == want && after.current[BB_MEM_WORKSPACE] == before.current[BB_MEM_WORKSPACE],
              "attention backward (%s): workspace peak %.0f bytes, calculator %.0f (%.0f per thread x %d threads)",
              bb_ckpt_names[ck], peaks[ck], want, pred.att_scratch_per_thread, omp_get_max_threads());
    }
    CHECK(peaks[BB_CKPT_SELECTIVE] > peaks[BB_CKPT_NONE] && peaks[BB_CKPT_BLOCK] == peaks[BB_CKPT_NONE],
          "attention scratch: none %.0f, selective %.0f, block %.0f bytes", peaks[BB_CKPT_NONE],
          peaks[BB_CKPT_SELECTIVE], peaks[BB_CKPT_BLOCK]);
    bb_free(qkv); bb_free(dqkv); bb_free(y); bb_free(att);
}

static void test_llama7b_arithmetic(void) {
    bb_config c;
    char err[200];
    bb_config_from_preset(&c, "llama-7b", err, sizeof err);
    bb_memcalc p;
    bb_memcalc_full(&c, 1, 1, BB_CKPT_NONE, &p);
    CHECK(fabs(p.n_params - 6.738e9) / 6.738e9 < 1e-3, "llama-7b has %.4g parameters, expected 6.738e9", p.n_params);
    CHECK(fabs(p.parameters / 1e9 - 26.95) < 0.01, "FP32 llama-7b weights %.3f GB, expected 26.95", p.parameters / 1e9);
}

/* NF4 base weights of Llama-7B from packed_size: with double quantization 4.127 bits/weight
 * and, every parameter at that rate, 3.48 GB (the §5.2 table row "NF4 + double quant");
 * without it 4.5 bits/weight. The linears' packed bytes equal what export writes. */
static void test_llama7b_nf4(void) {
    bb_config c;
    char err[200];
    bb_config_from_preset(&c, "llama-7b", err, sizeof err);
    CHECK(bb_config_set_precision(&c, "nf4", err, sizeof err) == 0, "%s", err);
    bb_memcalc_weights w;
    bb_memcalc_weights_of(&c, &w);
    printf("    llama-7b nf4: %.4f bits/weight, all parameters %.3f GB, as bitbench holds it %.3f GB\n",
           w.bits_per_weight, w.all_at_bits_bytes / 1e9, w.engine_bytes / 1e9);
    CHECK(fabs(w.bits_per_weight - 4.127) < 5e-4, "nf4 llama-7b: %.5f bits/weight, expected 4.127", w.bits_per_weight);
    CHECK(fabs(w.all_at_bits_bytes / 1e9 - 3.48) < 0.005, "nf4 llama-7b weights %.3f GB, expected 3.48",
          w.all_at_bits_bytes / 1e9);
    bb_memcalc full;
    bb_memcalc_full(&c, 1, 1, BB_CKPT_NONE, &full);
    CHECK(fabs(full.packed_export - w.linear_bytes) < 0.5, "export bytes %.0f vs %.0f", full.packed_export, w.linear_bytes);
    CHECK(w.engine_bytes == w.linear_bytes + 4 * w.other_params && w.linear_params + w.other_params == full.n_params,
          "nf4 llama-7b: parameter split %.6g + %.6g vs %.6g", w.linear_params, w.other_params, full.n_params);
    c.nf4_no_double_quant = true;
    bb_memcalc_weights_of(&c, &w);
    CHECK(w.bits_per_weight == 4.5, "nf4 without double quantization: %.6f bits/weight, expected 4.5", w.bits_per_weight);
}

static const bb_test_case cases[] = {
    {"llama7b_nf4", test_llama7b_nf4},
    {"against_allocator", test_against_allocator},
    {"half_storage_edges", test_half_storage_edges},
    {"lora_against_allocator", test_lora_against_allocator},
    {"kd_against_allocator", test_kd_against_allocator},
    {"llama7b_arithmetic", test_llama7b_arithmetic},
    {"attention_scratch", test_attention_scratch},
};
BB_TEST_MAIN(cases)
