/* test_export.c — packed export round trips: for every quantized precision, loading the
 * export restores the fake-quant weights bit for bit (value equality) and every FP32
 * tensor exactly, and the packed model's loss equals the QAT model's within 1e-3 relative
 * (bit-identical where both run the same kernels), with and without the quantized LM head
 * and token embedding (quant_head, quant_embed). Also: bad packed files are refused. */
#include "../engine/alloc.h"
#include "../engine/export.h"
#include "../engine/safetensors.h"
#include "compare.h"
#include "tolerances.h"
#include <math.h>
#include <string.h>
#include <unistd.h>

static void test_round_trip(void) {
    for (int f = 0; f < BB_FAMILY_COUNT; f++)
        for (int pv = BB_PREC_FP16; pv <= BB_PREC_COUNT; pv++)
          for (int qmask = 0; qmask < 4; qmask++) {  /* bit 0: quant_head, bit 1: quant_embed */
            int qh = qmask & 1, qe = qmask >> 1;
            /* the last round: nf4 without double quantization */
            int p = pv < BB_PREC_COUNT ? pv : BB_PREC_NF4;
            if (qmask && bb_precisions[p].base_only) continue;  /* nf4: a LoRA base, head and embedding FP32 */
            bb_config c = {(bb_family)f, 2, 64, 4, f == BB_FAMILY_LLAMA ? 2 : 4, 97, 16, 0, 1e-5f, 10000.0f,
                           BB_PREC_FP32, 32, BB_ACTQ_NONE, false, false, false, false};
            c.ffn_hidden = bb_config_default_ffn(c.family, c.n_embd);
            char err[400], path[64];
            bb_config_set_precision(&c, bb_precisions[p].name, err, sizeof err);
            c.nf4_no_double_quant = pv == BB_PREC_COUNT;
            c.quant_head = qh;
            c.quant_embed = qe;
            bb_model a, b;
            CHECK(bb_model_init(&a, &c, &bb_backend_cpu, false, err, sizeof err) == 0, "%s", err);
            bb_model_init_weights(&a, 31);
            snprintf(path, sizeof path, "test_export_%d_%d_%d.packed", f, pv, qmask);
            size_t bytes;
            CHECK(bb_export_packed(&a, path, NULL, &bytes, err, sizeof err) == 0, "export: %s", err);
            bb_ckpt_info info;
            CHECK(bb_checkpoint_load(&b, path, &bb_backend_cpu, false, &info, err, sizeof err) == 0, "load: %s", err);
            CHECK(b.cfg.precision == c.precision && b.cfg.nf4_no_double_quant == c.nf4_no_double_quant,
                  "%s: loaded as %s, nf4_no_double_quant %d", bb_precisions[p].name, bb_precisions[b.cfg.precision].name,
                  b.cfg.nf4_no_double_quant);
            if (p == BB_PREC_NF4) { /* the layout is documented in the metadata */
                bb_safetensors st;
                CHECK(bb_safetensors_open(&st, path, err, sizeof err) == 0, "%s", err);
                const char *lay = bb_safetensors_meta(&st, "nf4_layout"), *code = bb_safetensors_meta(&st, "nf4_code");
                const char *cfg = bb_safetensors_meta(&st, "config");
                CHECK(lay && strstr(lay, "qabsmax") && code && strncmp(code, "-1,-0.69619", 11) == 0,
                      "nf4 export metadata: layout '%.40s', code '%.40s'", lay ? lay : "(none)", code ? code : "(none)");
                CHECK(cfg && strstr(cfg, c.nf4_no_double_quant ? "\"nf4_double_quant\": false" : "\"nf4_double_quant\": true"),
                      "nf4 export config: %s", cfg ? cfg : "(none)");
                bb_safetensors_close(&st);
            }
            size_t wrong = 0;
            for (int i = 0; i < BB_N_PARAMS; i++) {
                /* quantized head or embedding: compared as head_q / embed_q below (a table that
                 * no FP32 use reads is exported only packed) */
                if (!a.specs[i].numel || (qh && i == BB_P_LMHEAD) || (qe && i == BB_P_WTE)) continue;
                const float *x = a.wq.t[i] ? a.wq.t[i] : a.params.t[i], *y = b.wq.t[i] ? b.wq.t[i] : b.params.t[i];
                for (size_t e = 0; e < a.specs[i].numel; e++) wrong += x[e] != y[e];
            }
            CHECK(wrong == 0, "%s/%s: %zu weights differ after export -> load", bb_family_name(c.family),
                  bb_precisions[p].name, wrong);
            CHECK(b.cfg.quant_head == c.quant_head && b.cfg.quant_embed == c.quant_embed && (b.head_q != NULL) == qh &&
                      (b.embed_q != NULL) == qe,
                  "%s/%s quant_head %d quant_embed %d: loaded %d %d", bb_family_name(c.family), bb_precisions[p].name, qh,
                  qe, b.cfg.quant_head, b.cfg.quant_embed);
            const float *qa[2] = {a.head_q, a.embed_q}, *qb[2] = {b.head_q, b.embed_q};
            for (int k = 0; k < 2; k++) {
                if (!qa[k] || !qb[k]) continue;
                size_t n = (size_t)c.vocab_size * c.n_embd, qwrong = 0;
                for (size_t e = 0; e < n; e++) qwrong += qa[k][e] != qb[k][e];
                CHECK(qwrong == 0, "%s/%s: %zu of %zu quantized %s weights differ after export -> load",
                      bb_family_name(c.family), bb_precisions[p].name, qwrong, n, k ? "embedding" : "head");
            }
            {  /* the metadata documents the tables (export.h quant_tables) */
                bb_safetensors st;
                CHECK(bb_safetensors_open(&st, path, err, sizeof err) == 0, "%s", err);
                const char *doc = bb_safetensors_meta(&st, "quant_tables");
                bool want = qh || qe;
                CHECK((doc != NULL) == want && (!qh || strstr(doc, "head_q: ")) &&
                          (!qe || (qh && !b.params.lm_head) || strstr(doc, "embed_q: wte")),
                      "%s/%s quant_head %d quant_embed %d: quant_tables metadata '%.120s'", bb_family_name(c.family),
                      bb_precisions[p].name, qh, qe, doc ? doc : "(none)");
                bb_safetensors_close(&st);
            }
            if (qe && qh && !b.params.lm_head)  /* tied and both quantized: wte is in the file only packed */
                CHECK(memcmp(b.params.wte, b.head_q, (size_t)c.vocab_size * c.n_embd * sizeof(float)) == 0,
                      "%s: the loaded wte is not the dequantized table", bb_precisions[p].name);
            int in[32], tg[32];
            for (int i = 0; i < 32; i++) { in[i] = (i * 13 + 5) % 97; tg[i] = (i * 29 + 3) % 97; }
            float la = bb_model_forward(&a, in, tg, 2, 16), lb = bb_model_forward(&b, in, tg, 2, 16);
            CHECK(fabsf(la - lb) <= 1e-3f * fabsf(la), "%s/%s%s%s: packed loss %.7f vs QAT loss %.7f",
                  bb_family_name(c.family), bb_precisions[p].name, qh ? " quant_head" : "", qe ? " quant_embed" : "", lb,
                  la);
            if (b.use_kernels) CHECK(la == lb, "%s/%s: same kernels, different loss", bb_family_name(c.family),
                                     bb_precisions[p].name);
            unlink(path);
            bb_model_free(&a);
            bb_model_free(&b);
        }
}

static void test_bad_files(void) {
    bb_config c = {BB_FAMILY_GPT2, 1, 32, 2, 2, 50, 8, 0, 1e-5f, 10000.0f, BB_PREC_FP32, 32, BB_ACTQ_NONE, false, false, false, false};
    c.ffn_hidden = bb_config_default_ffn(c.family, c.n_embd);
    char err[400];
    bb_config_set_precision(&c, "int8", err, sizeof err);
    bb_model a, b;
    bb_model_init(&a, &c, &bb_backend_cpu, false, err, sizeof err);
    bb_model_init_weights(&a, 1);
    CHECK(bb_export_packed(&a, "test_export_bad.packed", NULL, NULL, err, sizeof err) == 0, "%s", err);
    CHECK(bb_checkpoint_load(&b, "test_export_bad.packed", &bb_backend_cpu, true, NULL, err, sizeof err) != 0 &&
              strstr(err, "no master weights"),
          "training from a packed file: '%s'", err);
    FILE *f = fopen("test_export_bad.packed", "r+b");
    fseek(f, -10, SEEK_END);
    fputc('x', f);
    fclose(f);
    truncate("test_export_bad.packed", 2000);
    CHECK(bb_checkpoint_load(&b, "test_export_bad.packed", &bb_backend_cpu, false, NULL, err, sizeof err) != 0,
          "a truncated packed file loaded");
    unlink("test_export_bad.packed");
    bb_model fp;
    bb_config c32 = c;
    c32.precision = BB_PREC_FP32;
    bb_model_init(&fp, &c32, &bb_backend_cpu, false, err, sizeof err);
    CHECK(bb_export_packed(&fp, "x.packed", NULL, NULL, err, sizeof err) != 0 && strstr(err, "fp32"),
          "fp32 export: '%s'", err);
    bb_model_free(&fp);
    bb_model_free(&a);
}

static const bb_test_case cases[] = {
    {"round_trip", test_round_trip},
    {"bad_files", test_bad_files},
};
BB_TEST_MAIN(cases)
