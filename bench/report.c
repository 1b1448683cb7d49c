/* report.c — REPORT.md of a results folder (see report.h). Each table of the claims file is
 * written in its own shape: its rows in order, its first column, then for every claimed
 * column the claimed cell beside the value measured on this machine (or computed by the
 * validated memory calculator, labelled so), and a verdict column. What a claim row is
 * compared with is decided by its first cell (precision, model, hardware), never by
 * position, so an edited claims file still lines up or says it was not understood.
 *
 * Verdict tolerances (printed in the report): a speed ratio holds within 10 % of the claim
 * (two quiet runs of one build on the 2-core VM differed by up to 7 %, README "Kernel
 * benchmarks"); a memory claim holds if the computed value is at most 10 % above it; an
 * accuracy ratio within 1 percentage point, a BLEU ratio within 2 points (one training run
 * per cell). Ratios to FP32 are judged only when FP32 itself learned something: top-1
 * accuracy of at least 15 % (tiny after 20 steps, barely past unigram statistics, reached
 * 6.6 % on KJV valid), BLEU of at least 1. */
#include "report.h"
#include "../common/io.h"
#include "../engine/config.h"
#include "claims.h"
#include "memcalc.h"
#include "methods.h"
#include "plot.h"
#include "report_data.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL_SPEED 0.10
#define TOL_MEM 0.10
#define TOL_ACC_PP 1.0
#define TOL_BLEU_PP 2.0
#define MIN_FP32_ACC_PCT 15.0
#define MIN_FP32_BLEU 1.0
#define NCELL 12
typedef char cellrow[NCELL][700];

/* --- mapping claim rows to what bitbench runs ------------------------------------------ */

static const struct {
    const char *needle, *prec;
} prec_names[] = {{"1.58", "b158"}, {"FP32", "fp32"}, {"FP16", "fp16"}, {"BF16", "bf16"}, {"INT8", "int8"}, {"INT4", "int4"}};

static const char *prec_of(const char *text) {
    for (size_t i = 0; i < sizeof prec_names / sizeof prec_names[0]; i++)
        if (strstr(text, prec_names[i].needle)) return prec_names[i].prec;
    return NULL;
}

static const struct {
    const char *needle, *preset;
} model_names[] = {{"DistilGPT", "distilgpt2"}, {"GPT-2 Medium", "gpt2-medium"}, {"GPT-2 Large", "gpt2-large"},
                   {"GPT-J", "gptj-6b"},        {"70B", "llama-70b"},            {"13B", "llama-13b"},
                   {"7B", "llama-7b"}};

static const char *model_of(const char *text) {
    for (size_t i = 0; i < sizeof model_names / sizeof model_names[0]; i++)
        if (strstr(text, model_names[i].needle)) return model_names[i].preset;
    return NULL;
}

/* The memory a device really has (GB as the cards are sold: GiB of GDDR). */
static const struct {
    const char *needle;
    double gb;
} device_memory[] = {{"RTX 3060", 8}, {"RTX 3090", 24}, {"RTX 4090", 24}};

static int col_find(const bb_claims_table *t, const char *needle) {
    for (int c = 1; c < t->n_cols; c++)
        if (strstr(t->header[c], needle)) return c;
    return -1;
}

/* The calculator for a preset and precision (full training); false for an unknown preset. */
static bool calc(const char *preset, const char *prec, int B, int T, bb_ckpt_mode ckpt, bb_memcalc *m) {
    bb_config c;
    char err[300];
    if (bb_config_from_preset(&c, preset, err, sizeof err) != 0) return false;
    if (bb_config_set_precision(&c, prec, err, sizeof err) != 0) return false;
    if (T > c.max_seq) T = c.max_seq;
    bb_memcalc_full(&c, B, T, ckpt, m);
    return true;
}

/* Packed inference weights of a preset (quantized linears in their storage format, the
 * rest FP32), bytes. */
static double infer_bytes(const char *preset, const char *prec) {
    bb_memcalc m;
    if (!calc(preset, prec, 1, 1, BB_CKPT_NONE, &m)) return NAN;
    if (strcmp(prec, "fp32") == 0) return m.parameters;
    bb_config c;
    char err[300];
    bb_config_from_preset(&c, preset, err, sizeof err);
    bb_tensor_spec s[BB_N_PARAMS];
    bb_param_specs(&c, s);
    double q = (double)(s[BB_P_QKVW].numel + s[BB_P_ATTPROJW].numel + s[BB_P_FCW].numel + s[BB_P_FCPROJW].numel);
    return m.parameters - 4 * q + m.packed_export;
}

static double number_after(const char *s, const char *word, double dflt) {
    const char *p = strstr(s, word);
    return p ? atof(p + strlen(word)) : dflt;
}

/* "small, batch 8 x seq 256, 2 threads" */
static void tp_where(const bb_rdata *d, char *out, size_t cap) {
    snprintf(out, cap, "%s, batch %d x seq %d, threads %d", d->tp_preset, d->tp_batch, d->tp_seq, d->tp_threads);
}

/* --- Table A: training speed ------------------------------------------------------------- */

static void table_a(FILE *f, const bb_claims_table *t, const bb_rdata *d) {
    int ct = col_find(t, "tokens"), cm = col_find(t, "memory"), ca = col_find(t, "accuracy");
    int batch = (int)number_after(t->title, "batch ", 4);
    const int T = 512;
    char where[200];
    tp_where(d, where, sizeof where);
    fprintf(f, "Measured here: method full (QAT), %s on this CPU; accuracy = top-1 next-token accuracy on the KJV valid "
               "split relative to fp32's, after the same token budget (bench quality). Computed: the memory calculator "
               "for Llama-7B, full training at batch %d, seq %d, block checkpointing (the least memory this engine "
               "needs), in GB (1e9 bytes).\n\n", where, batch, T);
    char h_tok[96], h_mem[96], h_acc[96];
    snprintf(h_tok, sizeof h_tok, "tokens/s measured here (%s, CPU)", d->tp_preset[0] ? d->tp_preset : "-");
    snprintf(h_mem, sizeof h_mem, "memory measured here (%s)", d->mem_preset[0] ? d->mem_preset : "-");
    snprintf(h_acc, sizeof h_acc, "accuracy vs FP32 measured here (%s)", d->has_q && d->q.n_rows ? bb_csv_cell(&d->q, 0, "preset") : "-");
    const char *hdr[] = {t->header[0], "tokens/s claimed", h_tok, "memory claimed", "memory computed (Llama-7B, calculator)",
                         h_mem, "accuracy vs FP32 claimed", h_acc, "verdict"};
    bb_md_header(f, 9, hdr);
    double claimed_fp32 = NAN, lo, hi;
    for (int r = 0; r < t->n_rows; r++)
        if (ct >= 0 && prec_of(t->cell[r][0]) && strcmp(prec_of(t->cell[r][0]), "fp32") == 0 &&
            bb_claims_number(t->cell[r][ct], &lo, &hi))
            claimed_fp32 = lo;
    int fp32_tp = bb_rdata_tp(d, "fp32", "full", "none"), fp32_mem = bb_rdata_mem(d, "fp32", "full", "none");
    int fp32_q = bb_rdata_q(d, "lm", "fp32", "full");
    double fp32_acc = bb_rdata_num(&d->q, fp32_q, "valid_token_accuracy_pct");
    for (int r = 0; r < t->n_rows; r++) {
        cellrow c;
        memset(c, 0, sizeof c);
        bb_verdict v = {0};
        const char *prec = prec_of(t->cell[r][0]);
        snprintf(c[0], 700, "%s", t->cell[r][0]);
        snprintf(c[1], 700, "%s", ct >= 0 ? t->cell[r][ct] : "-");
        snprintf(c[3], 700, "%s", cm >= 0 ? t->cell[r][cm] : "-");
        snprintf(c[6], 700, "%s", ca >= 0 ? t->cell[r][ca] : "-");
        if (!prec) {
            snprintf(c[2], 700, "-");
            bb_verdict_na(&v, "needs a precision bitbench knows in the first cell");
        } else {
            bool fp32 = strcmp(prec, "fp32") == 0;
            /* tokens/s: absolute needs the claimed GPU; the ratio to FP32 is compared */
            int tr = bb_rdata_tp(d, prec, "full", "none");
            double tps = bb_rdata_num(&d->tp, tr, "train_tokens_per_s_median");
            double ratio = bb_rdata_num(&d->tp, tr, "train_ratio_to_fp32");
            if (tr >= 0)
                snprintf(c[2], 700, "%.0f tok/s (%.0f-%.0f), %.2fx fp32", tps, bb_rdata_num(&d->tp, tr, "train_tokens_per_s_min"),
                         bb_rdata_num(&d->tp, tr, "train_tokens_per_s_max"), ratio);
            else
                snprintf(c[2], 700, "not measured in this run");
            double ctok;
            if (ct >= 0 && bb_claims_number(t->cell[r][ct], &ctok, &hi) && !fp32 && claimed_fp32 > 0) {
                double cr = ctok / claimed_fp32;
                snprintf(c[1] + strlen(c[1]), 700 - strlen(c[1]), " (%.2fx FP32)", cr);
                if (tr < 0 || fp32_tp < 0) bb_verdict_na(&v, "needs bench throughput rows of %s and fp32", prec);
                else if (ratio >= cr * (1 - TOL_SPEED)) bb_verdict_hold(&v, "measured %.2fx FP32 training speed", ratio);
                else bb_verdict_fail(&v, "measured %.2fx FP32 training speed at %s", ratio, d->tp_preset);
            }
            bb_verdict_na(&v, "absolute tokens/s needs the claimed GPU and Llama-7B");
            /* memory: computed for Llama-7B; measured at the run's preset */
            bb_memcalc m;
            if (calc("llama-7b", prec, batch, T, BB_CKPT_BLOCK, &m)) {
                snprintf(c[4], 700, "%.1f GB (weights, gradients, AdamW alone: %.1f GB)", m.total / 1e9,
                         (m.parameters + m.gradients + m.optimizer + m.packed) / 1e9);
                double cmem;
                if (cm >= 0 && bb_claims_number(t->cell[r][cm], &cmem, &hi)) {
                    if (m.total / 1e9 <= hi * (1 + TOL_MEM)) bb_verdict_hold(&v, "computed %.1f GB", m.total / 1e9);
                    else bb_verdict_fail(&v, "computed %.1f GB for Llama-7B training at batch %d", m.total / 1e9, batch);
                }
            }
            int mr = bb_rdata_mem(d, prec, "full", "none");
            double mt = bb_rdata_num(&d->mem, mr, "measured_total_mib"), mt32 = bb_rdata_num(&d->mem, fp32_mem, "measured_total_mib");
            if (mr >= 0)
                snprintf(c[5], 700, "%.1f MiB at %s (%.2fx fp32)", mt, d->mem_preset, mt / mt32);
            else
                snprintf(c[5], 700, "not measured in this run");
            /* accuracy relative to fp32 */
            int qr = bb_rdata_q(d, "lm", prec, "full");
            double acc = bb_rdata_num(&d->q, qr, "valid_token_accuracy_pct");
            double rel = 100.0 * acc / fp32_acc;
            if (qr >= 0 && fp32_q >= 0)
                snprintf(c[7], 700, "%.1f %% (top-1 %.2f %% vs fp32 %.2f %%, %s steps at %s)", rel, acc, fp32_acc,
                         bb_csv_cell(&d->q, qr, "steps"), bb_csv_cell(&d->q, qr, "preset"));
            else
                snprintf(c[7], 700, "not measured in this run");
            double cacc;
            if (!fp32 && ca >= 0 && bb_claims_number(t->cell[r][ca], &cacc, &hi)) {
                if (qr < 0 || fp32_q < 0) bb_verdict_na(&v, "needs bench quality rows of %s and fp32", prec);
                else if (!(fp32_acc >= MIN_FP32_ACC_PCT))
                    bb_verdict_na(&v, "needs a longer training budget: fp32 reaches %.1f %% top-1 accuracy", fp32_acc);
                else if (rel >= cacc - TOL_ACC_PP) bb_verdict_hold(&v, "measured %.1f %% of FP32 accuracy", rel);
                else bb_verdict_fail(&v, "measured %.1f %% of FP32 accuracy", rel);
            }
        }
        bb_verdict_text(&v, c[8], 700);
        bb_md_row(f, 9, c);
    }
    fprintf(f, "\n");
}

/* --- Table B: accuracy (BLEU) --------------------------------------------------------------- */

static void table_b(FILE *f, const bb_claims_table *t, const bb_rdata *d) {
    int cb = col_find(t, "BLEU"), cv = col_find(t, "FP32");
    int fq = bb_rdata_q(d, "mt", "fp32", "full");
    double fp32_bleu = bb_rdata_num(&d->q, fq, "bleu");
    fprintf(f, "Measured here: BLEU of the Greek->English verse translation task (the write-up's persona task is not "
               "public), sacreBLEU signature `%s`, on the first %s sentences of the %s split, after the same token "
               "budget for every row (bench quality).\n\n",
            fq >= 0 ? bb_csv_cell(&d->q, fq, "bleu_signature") : "-", fq >= 0 ? bb_csv_cell(&d->q, fq, "mt_sentences") : "-",
            fq >= 0 ? bb_csv_cell(&d->q, fq, "mt_split") : "test");
    char h_b[96], h_v[96];
    const char *qp = d->has_q && d->q.n_rows ? bb_csv_cell(&d->q, 0, "preset") : "-";
    snprintf(h_b, sizeof h_b, "BLEU measured here (%s, Greek->English)", qp);
    snprintf(h_v, sizeof h_v, "vs FP32 measured here (%s)", qp);
    const char *hdr[] = {t->header[0], "BLEU claimed", h_b, "vs FP32 claimed", h_v, "verdict"};
    bb_md_header(f, 6, hdr);
    for (int r = 0; r < t->n_rows; r++) {
        cellrow c;
        memset(c, 0, sizeof c);
        bb_verdict v = {0};
        const char *name = t->cell[r][0];
        const char *method = strstr(name, "LoRA") ? "lora" : strstr(name, "KD") ? "kd" : "full";
        const char *prec = strcmp(method, "full") != 0 ? "b158" : prec_of(name);
        snprintf(c[0], 700, "%s", name);
        snprintf(c[1], 700, "%s", cb >= 0 ? t->cell[r][cb] : "-");
        snprintf(c[3], 700, "%s", cv >= 0 ? t->cell[r][cv] : "-");
        const bb_method *me = bb_method_find(method);
        int qr = prec ? bb_rdata_q(d, "mt", prec, method) : -1;
        double bleu = bb_rdata_num(&d->q, qr, "bleu"), rel = 100.0 * bleu / fp32_bleu;
        if (qr >= 0) {
            snprintf(c[2], 700, "%.2f (%s %s, chrF %.1f, %s steps at %s)", bleu, prec, method,
                     bb_rdata_num(&d->q, qr, "chrf"), bb_csv_cell(&d->q, qr, "steps"), bb_csv_cell(&d->q, qr, "preset"));
            snprintf(c[4], 700, fq >= 0 ? "%.1f %%" : "-", rel);
        } else {
            snprintf(c[2], 700, me && me->missing ? "method %s not available in this build" : "not measured in this run", method);
            snprintf(c[4], 700, "-");
        }
        double cl, hi;
        bool fp32_row = prec && strcmp(prec, "fp32") == 0 && strcmp(method, "full") == 0;
        if (!prec) {
            bb_verdict_na(&v, "needs a precision or method bitbench knows in the first cell");
        } else if (!fp32_row && cv >= 0 && bb_claims_number(t->cell[r][cv], &cl, &hi)) {
            if (qr < 0 && me && me->missing) bb_verdict_na(&v, "%s", me->missing);
            else if (qr < 0 || fq < 0) bb_verdict_na(&v, "needs bench quality MT rows of %s %s and fp32", prec, method);
            else if (!(fp32_bleu >= MIN_FP32_BLEU))
                bb_verdict_na(&v, "needs a longer training budget: fp32 reaches BLEU %.2f (run bitbench suite --full)", fp32_bleu);
            else if (rel >= cl - TOL_BLEU_PP) bb_verdict_hold(&v, "measured %.1f %% of FP32 BLEU", rel);
            else bb_verdict_fail(&v, "measured %.1f %% of FP32 BLEU", rel);
        }
        bb_verdict_na(&v, "absolute BLEU needs the write-up's persona task and 7B model");
        bb_verdict_text(&v, c[5], 700);
        bb_md_row(f, 6, c);
    }
    fprintf(f, "\n");
}

/* --- Table C: memory math ------------------------------------------------------------------- */

static void table_c(FILE *f, const bb_claims_table *t, const bb_rdata *d) {
    fprintf(f, "Computed: the memory calculator (validated against the tracked allocator within 5 %% per category, "
               "tests/test_memcalc.c) for Llama-7B's shapes (6.74e9 parameters), activations at batch 1 x seq 2048. "
               "Measured here: the tracked allocator at %s (bench memory).\n\n", d->mem_preset[0] ? d->mem_preset : "-");
    char h_m[96];
    snprintf(h_m, sizeof h_m, "measured here (%s)", d->mem_preset[0] ? d->mem_preset : "-");
    const char *hdr[] = {"claim (claimed)", "computed for Llama-7B (calculator)", h_m, "verdict"};
    bb_md_header(f, 4, hdr);
    bb_memcalc f32, f32c, b, bc;
    calc("llama-7b", "fp32", 1, 2048, BB_CKPT_NONE, &f32);
    calc("llama-7b", "fp32", 1, 2048, BB_CKPT_BLOCK, &f32c);
    calc("llama-7b", "b158", 1, 2048, BB_CKPT_NONE, &b);
    calc("llama-7b", "b158", 1, 2048, BB_CKPT_BLOCK, &bc);
    double N = f32.n_params;
    for (int r = 0; r < t->n_rows; r++) {
        cellrow c;
        memset(c, 0, sizeof c);
        bb_verdict v = {0};
        const char *s = t->cell[r][0];
        snprintf(c[0], 700, "%s", s);
        if (strstr(s, "FP32 training")) {
            double state = f32.parameters + f32.gradients + f32.optimizer, bpp = state / N;
            snprintf(c[1], 700, "%.1f bytes/param; %.1f GB of weights, gradients and AdamW; activations %.1f GB "
                                "(%.1f GB with block checkpointing)", bpp, state / 1e9, f32.activations / 1e9,
                     f32c.activations / 1e9);
            int mr = bb_rdata_mem(d, "fp32", "full", "none");
            double ms = bb_rdata_num(&d->mem, mr, "measured_parameters_mib") + bb_rdata_num(&d->mem, mr, "measured_gradients_mib") +
                        bb_rdata_num(&d->mem, mr, "measured_optimizer_mib");
            double mn = bb_rdata_num(&d->mem, mr, "n_params");
            snprintf(c[2], 700, mr >= 0 ? "%.2f bytes/param (fp32 at %s)" : "not measured in this run", ms * 1048576.0 / mn, d->mem_preset);
            double cbpp = bb_claims_number_before(s, "bytes/param"), cgb = bb_claims_number_before(s, "GB");
            if (isfinite(cbpp)) {
                if (fabs(bpp - cbpp) <= 0.05 * cbpp) bb_verdict_hold(&v, "computed %.1f bytes/param", bpp);
                else bb_verdict_fail(&v, "computed %.1f bytes/param", bpp);
            }
            if (isfinite(cgb)) {
                if (fabs(state / 1e9 - cgb) <= TOL_MEM * cgb) bb_verdict_hold(&v, "computed %.1f GB", state / 1e9);
                else bb_verdict_fail(&v, "computed %.1f GB", state / 1e9);
            }
            bb_verdict_na(&v, "needs the batch and length behind the activation figure");
        } else if (strstr(s, "1.58-bit training")) {
            double state = b.parameters + b.packed + b.gradients + b.optimizer, bpp = state / N;
            double red = (f32.parameters + f32.gradients + f32.optimizer) / state;
            snprintf(c[1], 700, "%.2f bytes/param (FP32 masters 4, QAT copies %.2f, gradients 4, AdamW 8) = %.1f GB; "
                                "with activations %.1f GB (block checkpointing); FP32 / 1.58-bit = %.2fx",
                     bpp, b.packed / N, state / 1e9, (state + bc.activations + bc.workspace) / 1e9, red);
            int mr = bb_rdata_mem(d, "b158", "full", "none"), m32 = bb_rdata_mem(d, "fp32", "full", "none");
            double ms = bb_rdata_num(&d->mem, mr, "measured_parameters_mib") + bb_rdata_num(&d->mem, mr, "measured_packed_mib") +
                        bb_rdata_num(&d->mem, mr, "measured_gradients_mib") + bb_rdata_num(&d->mem, mr, "measured_optimizer_mib");
            double mn = bb_rdata_num(&d->mem, mr, "n_params");
            double rt = bb_rdata_num(&d->mem, m32, "measured_total_mib") / bb_rdata_num(&d->mem, mr, "measured_total_mib");
            snprintf(c[2], 700, mr >= 0 ? "%.2f bytes/param; FP32 / 1.58-bit total = %.2fx (at %s)" : "not measured in this run",
                     ms * 1048576.0 / mn, rt, d->mem_preset);
            double w = bb_claims_number_before(s, "(weight)"), g = bb_claims_number_before(s, "(grad)"),
                   o = bb_claims_number_before(s, "(optimizer)");
            if (isfinite(w) && isfinite(g) && isfinite(o)) {
                if (bpp <= (w + g + o) * (1 + TOL_MEM)) bb_verdict_hold(&v, "computed %.2f bytes/param", bpp);
                else bb_verdict_fail(&v, "computed %.2f bytes/param: QAT keeps FP32 masters, gradients and AdamW states", bpp);
            }
            const char *x = strstr(s, "reduction");
            double cred = x ? bb_claims_number_before(s, "\xC3\x97 reduction") : NAN;  /* "15.7× reduction" */
            if (isfinite(cred)) {
                if (red >= cred * (1 - TOL_SPEED)) bb_verdict_hold(&v, "computed %.2fx reduction", red);
                else bb_verdict_fail(&v, "computed FP32 / 1.58-bit = %.2fx", red);
            }
        } else if (strstr(s, "Model size") || strstr(s, "compression")) {
            double fp = infer_bytes("llama-7b", "fp32"), tq = infer_bytes("llama-7b", "b158");
            bb_memcalc m;
            calc("llama-7b", "b158", 1, 1, BB_CKPT_NONE, &m);
            bb_config cfg;
            char err[200];
            bb_config_from_preset(&cfg, "llama-7b", err, sizeof err);
            bb_tensor_spec sp[BB_N_PARAMS];
            bb_param_specs(&cfg, sp);
            double q = (double)(sp[BB_P_QKVW].numel + sp[BB_P_ATTPROJW].numel + sp[BB_P_FCW].numel + sp[BB_P_FCPROJW].numel);
            snprintf(c[1], 700, "FP32 weights %.2f GB; 1.58-bit: ternary linears %.2f GB at %.2f bits/weight (1.6-bit "
                                "storage) + FP32 embeddings, head and norms = %.2f GB; compression %.1fx (%.1fx for the "
                                "linears alone; log2(3) = 1.585 bits/weight is the floor)",
                     fp / 1e9, m.packed_export / 1e9, 8 * m.packed_export / q, tq / 1e9, fp / tq, 4 * q / m.packed_export);
            snprintf(c[2], 700, "-");
            double cx = bb_claims_number_before(s, "\xC3\x97");  /* "63×" */
            if (isfinite(cx)) {
                if (fp / tq >= cx * (1 - TOL_SPEED)) bb_verdict_hold(&v, "computed %.1fx", fp / tq);
                else bb_verdict_fail(&v, "computed %.1fx (%.2f GB); 7B weights below 1.39 GB would be under log2(3) bits "
                                         "per weight", fp / tq, tq / 1e9);
            }
        } else {
            snprintf(c[1], 700, "-");
            snprintf(c[2], 700, "-");
            bb_verdict_na(&v, "needs a claim this report can read (FP32 training, 1.58-bit training, model size)");
        }
        bb_verdict_text(&v, c[3], 700);
        bb_md_row(f, 4, c);
    }
    fprintf(f, "\n");
}

/* --- Table D: what fits where --------------------------------------------------------------- */

static void table_d(FILE *f, const bb_claims_table *t, const bb_rdata *d) {
    fprintf(f, "Computed: the memory calculator, full training at batch 1, seq 2048 or the model's context, block "
               "checkpointing, in GiB; a device's real memory from its specification. Throughput on these devices "
               "cannot be measured on this machine (%s; CUDA: %s).\n\n", d->cpu, d->cuda[0] ? d->cuda : "-");
    int cb = col_find(t, "before"), ca = col_find(t, "after"), cm = col_find(t, "memory");
    const char *hdr[] = {t->header[0], "device memory", "before (FP32) claimed", "before: FP32 training computed",
                         "after (1.58-bit) claimed", "after: 1.58-bit computed", "memory / throughput claimed", "verdict"};
    bb_md_header(f, 8, hdr);
    const bb_method *lora = bb_method_find("lora");
    for (int r = 0; r < t->n_rows; r++) {
        cellrow c;
        memset(c, 0, sizeof c);
        bb_verdict v = {0};
        const char *hw = t->cell[r][0];
        snprintf(c[0], 700, "%s", hw);
        snprintf(c[2], 700, "%s", cb >= 0 ? t->cell[r][cb] : "-");
        snprintf(c[4], 700, "%s", ca >= 0 ? t->cell[r][ca] : "-");
        snprintf(c[6], 700, "%s", cm >= 0 ? t->cell[r][cm] : "-");
        /* the device's memory: a known card (times 2 for "2x"), else the figure in the cell */
        double card = NAN, written = bb_claims_number_before(hw, "GB");
        for (size_t k = 0; k < sizeof device_memory / sizeof device_memory[0]; k++)
            if (strstr(hw, device_memory[k].needle)) card = device_memory[k].gb;
        int mult = (strstr(hw, "2\xC3\x97") || strstr(hw, "2x")) ? 2 : 1;
        double real = isfinite(card) ? mult * card : written;
        if (isfinite(card) && mult > 1) snprintf(c[1], 700, "%d x %.0f = %.0f GB (specification)", mult, card, real);
        else if (isfinite(card)) snprintf(c[1], 700, "%.0f GB (specification)", real);
        else snprintf(c[1], 700, isfinite(real) ? "%.0f GB (as the row names it)" : "-", real);
        if (isfinite(written) && isfinite(real) && fabs(written - real) > 0.5)
            bb_verdict_fail(&v, "computed %.0f GB of memory, not %.0f", real, written);
        /* before: FP32 full training of the named model */
        const char *mb = cb >= 0 ? model_of(t->cell[r][cb]) : NULL;
        bb_memcalc m;
        if (mb && calc(mb, "fp32", 1, 2048, BB_CKPT_BLOCK, &m)) {
            double gib = m.total / 1073741824.0;
            snprintf(c[3], 700, "%s: %.1f GiB", mb, gib);
            if (!isfinite(real)) bb_verdict_na(&v, "needs the device's memory");
            else if (gib <= real) bb_verdict_hold(&v, "%s FP32 training needs %.1f GiB", mb, gib);
            else bb_verdict_fail(&v, "computed %.1f GiB for %s FP32 training", gib, mb);
        } else {
            snprintf(c[3], 700, "-");
        }
        /* after: 1.58-bit of the named model, full training or LoRA */
        const char *ma = ca >= 0 ? model_of(t->cell[r][ca]) : NULL;
        bool with_lora = ca >= 0 && strstr(t->cell[r][ca], "LoRA");
        bb_config lc;
        char lerr[300];
        if (ma && with_lora && lora && !lora->missing && lora->predict &&
            bb_config_from_preset(&lc, ma, lerr, sizeof lerr) == 0 &&
            bb_config_set_precision(&lc, "b158", lerr, sizeof lerr) == 0) {
            /* the harness's LoRA (bench/methods.c: r 8, alpha 16, all linears) on a frozen
             * b158 base, batch 1, block checkpointing */
            lora->predict(&lc, 1, lc.max_seq < 2048 ? lc.max_seq : 2048, BB_CKPT_BLOCK, &m);
            double gib = m.total / 1073741824.0;
            snprintf(c[5], 700, "%s + LoRA (r 8, all linears) on a b158 base: %.1f GiB", ma, gib);
            if (isfinite(real) && gib > real) bb_verdict_fail(&v, "computed %.1f GiB for %s + LoRA", gib, ma);
            else if (isfinite(real)) bb_verdict_hold(&v, "%s + LoRA on a b158 base needs %.1f GiB", ma, gib);
        } else if (ma && with_lora) {
            double base = infer_bytes(ma, "b158") / 1073741824.0;
            snprintf(c[5], 700, "%s + LoRA: at least %.1f GiB (the packed ternary base alone)", ma, base);
            if (isfinite(real) && base > real) bb_verdict_fail(&v, "computed at least %.1f GiB for %s + LoRA", base, ma);
            else bb_verdict_na(&v, "needs the LoRA memory calculator (issue #7) for %s + LoRA", ma);
        } else if (ma && calc(ma, "b158", 1, 2048, BB_CKPT_BLOCK, &m)) {
            double gib = m.total / 1073741824.0;
            snprintf(c[5], 700, "%s full 1.58-bit training: %.1f GiB", ma, gib);
            if (isfinite(real) && gib > real) bb_verdict_fail(&v, "computed %.1f GiB for %s 1.58-bit training", gib, ma);
            else if (isfinite(real)) bb_verdict_hold(&v, "%s 1.58-bit training needs %.1f GiB", ma, gib);
            double lo, hi;
            if (cm >= 0 && bb_claims_number(t->cell[r][cm], &lo, &hi) && gib * 1.073741824 > hi * (1 + TOL_MEM))
                bb_verdict_fail(&v, "computed %.0f GB against the memory column", gib * 1.073741824);
        } else {
            snprintf(c[5], 700, "-");
        }
        bb_verdict_na(&v, "throughput needs the device itself");
        bb_verdict_text(&v, c[7], 700);
        bb_md_row(f, 8, c);
    }
    fprintf(f, "\n");
}

/* --- Other claims ------------------------------------------------------------------------ */

static void table_other(FILE *f, const bb_claims *cl, const bb_rdata *d) {
    char where[200];
    tp_where(d, where, sizeof where);
    fprintf(f, "Measured here at %s (throughput) and %s (memory), method full.\n\n", where, d->mem_preset);
    char h_m[96];
    snprintf(h_m, sizeof h_m, "measured here (%s, CPU)", d->tp_preset[0] ? d->tp_preset : "-");
    const char *hdr[] = {"claim (claimed)", h_m, "computed (Llama-7B: calculator)", "verdict"};
    bb_md_header(f, 4, hdr);
    for (int i = 0; i < cl->n_other; i++) {
        cellrow c;
        memset(c, 0, sizeof c);
        bb_verdict v = {0};
        const char *s = cl->other[i];
        snprintf(c[0], 700, "%s", s);
        snprintf(c[1], 700, "-");
        snprintf(c[2], 700, "-");
        double lo, hi;
        if (strstr(s, "training speed")) {
            int r = bb_rdata_tp(d, "b158", "full", "none");
            double ratio = bb_rdata_num(&d->tp, r, "train_ratio_to_fp32");
            double best = 0;
            const char *best_p = "-";
            for (int k = 0; d->has_tp && k < d->tp.n_rows; k++) {
                const char *p = bb_csv_cell(&d->tp, k, "precision");
                int rk = bb_rdata_tp(d, p, "full", "none");
                if (rk == k && bb_rdata_num(&d->tp, k, "train_ratio_to_fp32") > best) {
                    best = bb_rdata_num(&d->tp, k, "train_ratio_to_fp32");
                    best_p = p;
                }
            }
            if (r >= 0) snprintf(c[1], 700, "b158 %.2fx fp32 training tokens/s; fastest precision %s %.2fx", ratio, best_p, best);
            if (r < 0) bb_verdict_na(&v, "needs bench throughput rows of b158 and fp32");
            else if (bb_claims_number(s, &lo, &hi) && ratio >= lo * (1 - TOL_SPEED)) bb_verdict_hold(&v, "measured %.2fx", ratio);
            else bb_verdict_fail(&v, "measured %.2fx FP32 training speed for 1.58-bit", ratio);
        } else if (strstr(s, "inference")) {
            int r = bb_rdata_tp(d, "b158", "full", "none");
            double ms = bb_rdata_num(&d->tp, r, "decode_ms_per_token_median");
            double triad = bb_rdata_kernel_mean(d, "triad", "triad_gb_per_s");
            double w = infer_bytes("llama-7b", "b158");
            if (r >= 0) snprintf(c[1], 700, "%.2f ms/token decoding b158 at %s", ms, d->tp_preset);
            double bound = isfinite(triad) ? 1e3 * w / (triad * 1e9) : NAN;
            if (isfinite(bound))
                snprintf(c[2], 700, "Llama-7B b158: at least %.0f ms/token here (%.2f GB of weights per token / %.1f GB/s "
                                    "STREAM triad measured in this run)", bound, w / 1e9, triad);
            double lim = bb_claims_number_before(s, "ms");
            if (r < 0) bb_verdict_na(&v, "needs bench throughput rows of b158");
            else if (isfinite(lim) && ms <= lim) bb_verdict_hold(&v, "measured %.2f ms/token at %s", ms, d->tp_preset);
            else if (isfinite(lim)) bb_verdict_fail(&v, "measured %.2f ms/token at %s", ms, d->tp_preset);
            if (isfinite(bound) && isfinite(lim) && bound > lim)
                bb_verdict_fail(&v, "computed at least %.0f ms/token for Llama-7B on this CPU", bound);
            else if (!isfinite(bound))
                bb_verdict_na(&v, "needs the STREAM triad of bench gemm for the Llama-7B bound");
        } else if (strstr(s, "checkpointing")) {
            int m0 = bb_rdata_mem(d, "fp32", "full", "none"), m1 = bb_rdata_mem(d, "fp32", "full", "block");
            int t0 = bb_rdata_tp(d, "fp32", "full", "none"), t1 = bb_rdata_tp(d, "fp32", "full", "block");
            double a0 = bb_rdata_num(&d->mem, m0, "measured_activations_mib"), a1 = bb_rdata_num(&d->mem, m1, "measured_activations_mib");
            double s0 = bb_rdata_num(&d->tp, t0, "step_ms_median"), s1 = bb_rdata_num(&d->tp, t1, "step_ms_median");
            double saved = 100 * (1 - a1 / a0), slower = 100 * (s1 / s0 - 1);
            double save_claim = bb_claims_number_before(s, "%"), slo = NAN, shi = NAN;
            const char *at = strstr(s, " at ");
            if (at) bb_claims_number(at, &slo, &shi);
            if (m0 >= 0 && m1 >= 0) snprintf(c[1], 700, "activations %.1f -> %.1f MiB (%.0f %% less)", a0, a1, saved);
            if (t0 >= 0 && t1 >= 0)
                snprintf(c[1] + strlen(c[1]), 700 - strlen(c[1]), "%sstep %.0f -> %.0f ms (%.0f %% %s)",
                         m0 >= 0 && m1 >= 0 ? "; " : "", s0, s1, fabs(slower), slower >= 0 ? "slower" : "faster");
            if (m0 < 0 || m1 < 0) bb_verdict_na(&v, "needs bench memory with --checkpointing none,block");
            else if (isfinite(save_claim) && saved >= save_claim * (1 - TOL_MEM)) bb_verdict_hold(&v, "measured %.0f %% less activation memory", saved);
            else bb_verdict_fail(&v, "measured %.0f %% less activation memory", saved);
            if (t0 < 0 || t1 < 0) bb_verdict_na(&v, "needs bench throughput with --checkpointing none,block");
            else if (isfinite(shi) && slower <= shi * (1 + TOL_SPEED)) bb_verdict_hold(&v, "measured %.0f %% slower", slower);
            else bb_verdict_fail(&v, "measured %.0f %% slower", slower);
        } else if (strstr(s, "mixed precision")) {
            int m32 = bb_rdata_mem(d, "fp32", "full", "none"), t32 = bb_rdata_tp(d, "fp32", "full", "none");
            const char *half[] = {"fp16", "bf16"};
            double mem_claim = NAN, sp_lo = NAN, sp_hi;
            bb_claims_number(s, &mem_claim, &sp_hi);  /* "30–50 % less memory": the low end */
            const char *w = strstr(s, "with");
            if (w) bb_claims_number(w, &sp_lo, &sp_hi);
            char mp[700] = "";
            for (int h = 0; h < 2; h++) {
                int mr = bb_rdata_mem(d, half[h], "full", "none"), tr = bb_rdata_tp(d, half[h], "full", "none");
                if (mr < 0 || tr < 0 || m32 < 0 || t32 < 0) continue;
                double less = 100 * (1 - bb_rdata_num(&d->mem, mr, "measured_total_mib") / bb_rdata_num(&d->mem, m32, "measured_total_mib"));
                double sp = bb_rdata_num(&d->tp, tr, "train_ratio_to_fp32");
                snprintf(mp + strlen(mp), sizeof mp - strlen(mp), "%s%s: memory %.2fx fp32, speed %.2fx fp32",
                         mp[0] ? "; " : "", half[h], 1 - less / 100, sp);
                if (isfinite(mem_claim) && less >= mem_claim * (1 - TOL_MEM)) bb_verdict_hold(&v, "%s %.0f %% less memory", half[h], less);
                else bb_verdict_fail(&v, "measured %s memory %.2fx fp32", half[h], 1 - less / 100);
                if (isfinite(sp_lo) && sp >= sp_lo * (1 - TOL_SPEED)) bb_verdict_hold(&v, "%s %.2fx", half[h], sp);
                else bb_verdict_fail(&v, "measured %s %.2fx speed", half[h], sp);
            }
            if (mp[0]) snprintf(c[1], 700, "%s", mp);
            if (!v.n_fail && !v.n_hold) bb_verdict_na(&v, "needs bench memory and throughput rows of fp16 or bf16 and fp32");
        } else if (strstr(s, "distributed")) {
            bb_verdict_na(&v, "needs several GPUs or machines; bitbench trains on one device");
        } else {
            bb_verdict_na(&v, "needs a claim this report can read");
        }
        bb_verdict_text(&v, c[3], 700);
        bb_md_row(f, 4, c);
    }
    fprintf(f, "\n");
}

/* --- the run's own measurements --------------------------------------------------------- */

static void measured_tables(FILE *f, const bb_rdata *d) {
    fprintf(f, "## Measured in this run\n\n");
    if (d->has_tp && d->tp.n_rows) {
        fprintf(f, "### Throughput (throughput.csv)\n\n");
        const char *h[] = {"preset", "precision", "method", "batch x seq", "threads", "checkpointing",
                           "train tokens/s median (min-max)", "vs fp32", "prefill tokens/s", "decode tokens/s",
                           "decode ms/token"};
        bb_md_header(f, 11, h);
        for (int r = 0; r < d->tp.n_rows; r++) {
            cellrow c;
            const bb_csv_doc *t = &d->tp;
            snprintf(c[0], 700, "%s", bb_csv_cell(t, r, "preset"));
            snprintf(c[1], 700, "%s", bb_csv_cell(t, r, "precision"));
            snprintf(c[2], 700, "%s", bb_csv_cell(t, r, "method"));
            snprintf(c[3], 700, "%s x %s", bb_csv_cell(t, r, "batch"), bb_csv_cell(t, r, "seq"));
            snprintf(c[4], 700, "%s", bb_csv_cell(t, r, "threads"));
            snprintf(c[5], 700, "%s", bb_csv_cell(t, r, "checkpointing"));
            snprintf(c[6], 700, "%.0f (%.0f-%.0f)", bb_rdata_num(t, r, "train_tokens_per_s_median"),
                     bb_rdata_num(t, r, "train_tokens_per_s_min"), bb_rdata_num(t, r, "train_tokens_per_s_max"));
            snprintf(c[7], 700, "%.2fx", bb_rdata_num(t, r, "train_ratio_to_fp32"));
            snprintf(c[8], 700, "%.0f", bb_rdata_num(t, r, "prefill_tokens_per_s_median"));
            snprintf(c[9], 700, "%.0f", bb_rdata_num(t, r, "decode_tokens_per_s_median"));
            snprintf(c[10], 700, "%.2f", bb_rdata_num(t, r, "decode_ms_per_token_median"));
            bb_md_row(f, 11, c);
        }
        fprintf(f, "\n");
    }
    if (d->has_mem && d->mem.n_rows) {
        fprintf(f, "### Memory (memory.csv, MiB)\n\n");
        const char *h[] = {"preset", "precision", "method", "batch x seq", "checkpointing", "measured total",
                           "predicted total", "error", "activations", "peak RSS"};
        bb_md_header(f, 10, h);
        for (int r = 0; r < d->mem.n_rows; r++) {
            cellrow c;
            const bb_csv_doc *t = &d->mem;
            snprintf(c[0], 700, "%s", bb_csv_cell(t, r, "preset"));
            snprintf(c[1], 700, "%s", bb_csv_cell(t, r, "precision"));
            snprintf(c[2], 700, "%s", bb_csv_cell(t, r, "method"));
            snprintf(c[3], 700, "%s x %s", bb_csv_cell(t, r, "batch"), bb_csv_cell(t, r, "seq"));
            snprintf(c[4], 700, "%s", bb_csv_cell(t, r, "checkpointing"));
            snprintf(c[5], 700, "%.1f", bb_rdata_num(t, r, "measured_total_mib"));
            snprintf(c[6], 700, "%.1f", bb_rdata_num(t, r, "predicted_total_mib"));
            snprintf(c[7], 700, "%+.2f %%", bb_rdata_num(t, r, "predicted_error_pct"));
            snprintf(c[8], 700, "%.1f", bb_rdata_num(t, r, "measured_activations_mib"));
            snprintf(c[9], 700, "%.1f", bb_rdata_num(t, r, "peak_rss_mib"));
            bb_md_row(f, 10, c);
        }
        fprintf(f, "\n");
    }
    if (d->has_q && d->q.n_rows) {
        fprintf(f, "### Quality (quality.csv)\n\n");
        const char *h[] = {"task", "precision", "method", "steps", "train tokens", "final train loss", "valid loss",
                           "valid ppl", "bits/byte", "top-1 %", "BLEU", "chrF"};
        bb_md_header(f, 12, h);
        for (int r = 0; r < d->q.n_rows; r++) {
            cellrow c;
            const bb_csv_doc *t = &d->q;
            const char *cols[] = {"task", "precision", "method", "steps", "train_tokens", "final_train_loss", "valid_loss",
                                  "valid_ppl", "valid_bits_per_byte", "valid_token_accuracy_pct", "bleu", "chrf"};
            for (int k = 0; k < 12; k++) {
                const char *v = bb_csv_cell(t, r, cols[k]);
                double x = atof(v);
                if (k >= 5 && *v) snprintf(c[k], 700, "%.*f", k == 7 ? 1 : k >= 10 ? 2 : 3, x);
                else snprintf(c[k], 700, "%s", *v ? v : "-");
            }
            bb_md_row(f, 12, c);
        }
        if (d->q.n_rows) {
            fprintf(f, "\nBLEU signature: `%s`; chrF signature: `%s`.\n", bb_csv_cell(&d->q, d->q.n_rows - 1, "bleu_signature"),
                    bb_csv_cell(&d->q, d->q.n_rows - 1, "chrf_signature"));
        }
        fprintf(f, "\n");
    }
}

static void charts(FILE *f, const char *run_dir) {
    fprintf(f, "## Charts\n\n");
    int n = 0;
    for (int i = 0; i < bb_n_charts; i++) {
        char png[4300], svg[4300];
        snprintf(png, sizeof png, "%s/plots/%s.png", run_dir, bb_charts[i].name);
        snprintf(svg, sizeof svg, "%s/plots/%s.svg", run_dir, bb_charts[i].name);
        if (!bb_file_exists(png)) continue;
        fprintf(f, "### %s\n\n![%s](plots/%s.png)\n\n", bb_charts[i].title, bb_charts[i].title, bb_charts[i].name);
        if (bb_file_exists(svg)) fprintf(f, "SVG: [plots/%s.svg](plots/%s.svg)\n\n", bb_charts[i].name, bb_charts[i].name);
        n++;
    }
    if (!n) fprintf(f, "No charts in this run (bitbench plot RUN renders them).\n\n");
}

int bb_report_write(const char *run_dir, const char *claims_path, char *err, size_t err_len) {
    bb_rdata d;
    if (bb_rdata_load(&d, run_dir, err, err_len) != 0) return -1;
    bb_claims cl;
    if (bb_claims_load(claims_path, &cl, err, err_len) != 0) {
        bb_rdata_free(&d);
        return -1;
    }
    char md[4300], html[4300];
    snprintf(md, sizeof md, "%s/REPORT.md", run_dir);
    snprintf(html, sizeof html, "%s/REPORT.html", run_dir);
    bb_atomic_file af;
    FILE *f = bb_atomic_open(&af, md);
    if (!f) {
        snprintf(err, err_len, "cannot write %s: %s", md, strerror(errno));
        bb_rdata_free(&d);
        return -1;
    }
    fprintf(f, "# bitbench report: %s\n\n", d.run_id[0] ? d.run_id : run_dir);
    fprintf(f, "- Machine: %s, %d logical CPUs, %.1f GiB memory; %s; host %s; SIMD path %s; %s; CUDA: %s\n", d.cpu,
            d.cores, d.mem_gib, d.os, d.host, d.simd, d.openblas, d.cuda);
    fprintf(f, "- Build: commit %s; %s; %s (%s); bitbench binary SHA-256 %.16s\n", d.commit, d.compiler, d.build_type,
            d.build_flags, d.binary);
    fprintf(f, "- Run started %s; claims from `%s`\n", d.created, claims_path);
    fprintf(f, "- Exact commands (in order):\n");
    for (int i = 0; i < d.n_commands; i++) fprintf(f, "  - `%s` (%s)\n", d.commands[i], d.stages[i]);
    fprintf(f, "\n## How to read this report\n\n"
               "Each table of the claims file appears in its own shape. A column named *claimed* holds the claims "
               "file's cell as it is (and, in brackets, ratios worked out from claimed numbers only); a column named "
               "*measured here* holds what this run measured on this machine, at the preset and configuration the "
               "table states; *computed* columns come from the memory calculator (validated against the tracked "
               "allocator within 5 %% per category, tests/test_memcalc.c), the only way this report scales anything "
               "to Llama-7B. No claimed number is ever copied into a measured or computed column.\n\n"
               "Verdicts: *holds* when every checked part is within tolerance (speed ratios within %.0f %%, memory at "
               "most %.0f %% above the claim, accuracy within %.0f percentage point, BLEU ratios within %.0f points); "
               "*does not hold (measured/computed X)* when any checked part is outside it; *not measurable here "
               "(needs Y)* when nothing in the row can be checked on this machine. Absolute numbers measured on other "
               "hardware (an RTX 3090, a 7B model) are never compared with this machine's; their ratios to FP32 are.\n\n",
            100 * TOL_SPEED, 100 * TOL_MEM, TOL_ACC_PP, TOL_BLEU_PP);
    for (int i = 0; i < cl.n_tables; i++) {
        const bb_claims_table *t = &cl.tables[i];
        fprintf(f, "## Table %c — %s\n\n", t->id, t->title);
        switch (t->id) {
        case 'A': table_a(f, t, &d); break;
        case 'B': table_b(f, t, &d); break;
        case 'C': table_c(f, t, &d); break;
        case 'D': table_d(f, t, &d); break;
        default: fprintf(f, "(This report has no evaluator for table %c.)\n\n", t->id);
        }
    }
    if (cl.n_other) {
        fprintf(f, "## Other claims\n\n");
        table_other(f, &cl, &d);
    }
    measured_tables(f, &d);
    charts(f, run_dir);
    bb_rdata_free(&d);
    if (bb_atomic_commit(&af) != 0) {
        snprintf(err, err_len, "cannot write %s: %s", md, strerror(errno));
        return -1;
    }
    return bb_report_html(md, html, run_dir, err, err_len);
}
