/* test_decode.c — KV-cache decoding: every step's logits match a full recompute of the
 * whole sequence, greedy decoding with the cache produces the same tokens as greedy
 * with full recomputes (both families; FP32, b158 and bf16, b158 with the quantized head and embedding, bf16 with the quantized head), and beam search
 * with width 1 is exactly greedy; the same on a training model in every checkpointing
 * mode (bench throughput decodes with the model it trained). */
#include "../engine/alloc.h"
#include "../engine/kvcache.h"
#include "../eval/decode.h"
#include "compare.h"
#include "tolerances.h"
#include <string.h>

static bb_model make_model(bb_family f, const char *precision) {
    bb_config c = {f, 2, 32, 4, f == BB_FAMILY_LLAMA ? 2 : 4, 53, 40, 0, 1e-5f, 10000.0f, BB_PREC_FP32, 32,
                   BB_ACTQ_NONE, false, false, false, false};
    c.ffn_hidden = bb_config_default_ffn(f, c.n_embd);
    char err[200], name[16];
    snprintf(name, sizeof name, "%s", precision);
    /* "P+head", "P+head+embed": the LM head (quant_head) and the embedding (quant_embed)
     * quantized too; "P+res": the residual stream in 16 bits (half_residual) */
    c.quant_head = strstr(name, "+head") != NULL;
    c.quant_embed = strstr(name, "+embed") != NULL;
    c.half_residual = strstr(name, "+res") != NULL;
    char *plus = strchr(name, '+');
    if (plus) *plus = '\0';
    bb_config_set_precision(&c, name, err, sizeof err);
    bb_model m;
    if (bb_model_init(&m, &c, &bb_backend_cpu, false, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    bb_model_init_weights(&m, 99);
    /* larger weights: sharper distributions, so argmax ties cannot blur the comparison */
    for (size_t k = 0; k < m.n_params; k++) m.params_mem[k] *= 6.0f;
    for (int i = 0; i < BB_N_PARAMS; i++)  /* keep norm gains at 1 */
        if (i == BB_P_LN1W || i == BB_P_LN2W || i == BB_P_LNFW || i == BB_P_SUBLN_ATTW || i == BB_P_SUBLN_FFNW)
            for (size_t k = 0; k < m.specs[i].numel; k++) m.params.t[i][k] = 1.0f;
    bb_model_requantize(&m);
    return m;
}

/* n_new greedy steps from a prefilled cache (logits: the prefill's): at each the cached
 * logits must equal a full forward over seq[0, len), whose argmax is appended to seq. */
static void decode_vs_recompute(bb_model *m, bb_kvcache *kv, const float *logits, int *seq, int P, int n_new,
                                const char *label) {
    int V = m->cfg.vocab_size;
    float *cached = bb_alloc(BB_MEM_OTHER, (size_t)V * sizeof(float));
    char name[192];
    for (int t = 0; t < n_new; t++) {
        memcpy(cached, logits, (size_t)V * sizeof(float));
        int len = P + t;
        bb_model_forward(m, seq, NULL, 1, len);
        const float *full = m->acts.logits + (size_t)(len - 1) * V;
        snprintf(name, sizeof name, "%s: decode logits at position %d", label, len - 1);
        EXPECT_CLOSE_F(name, cached, full, (size_t)V, bb_tol("fp32")->model_vs_ref);
        int tok = 0;
        for (int v = 1; v < V; v++) if (full[v] > full[tok]) tok = v;
        seq[len] = tok;
        logits = bb_kvcache_step(m, kv, &tok);
    }
    bb_free(cached);
}

static void test_cache_matches_recompute(void) {
    /* bf16: mixed precision rounds the qkv and MLP-in outputs (bb_model_round_output) and
     * prefill reads qkv from its 16-bit storage (model.h bb_acts qkv_h) */
    const char *precisions[] = {"fp32", "b158", "bf16", "b158+head+embed", "bf16+head", "bf16+res", "fp16+res"};
    for (int f = 0; f < BB_FAMILY_COUNT; f++)
        for (int pi = 0; pi < 7; pi++) {
            bb_model m = make_model((bb_family)f, precisions[pi]);
            int V = m.cfg.vocab_size, P = 5, n_new = 25, prompt[5] = {3, 17, 8, 42, 5};
            char err[200], name[96];
            bb_kvcache kv;
            CHECK(bb_kvcache_init(&kv, &m, 1, P + n_new, err, sizeof err) == 0, "%s", err);
            int seq[64];
            memcpy(seq, prompt, sizeof prompt);
            const float *logits = bb_kvcache_prefill(&m, &kv, prompt, P);
            CHECK(strcmp(precisions[pi], "bf16") != 0 || m.acts.qkv_h != NULL,
                  "%s/bf16: prefill did not go through the 16-bit qkv storage", bb_family_name((bb_family)f));
            snprintf(name, sizeof name, "%s/%s", bb_family_name((bb_family)f), precisions[pi]);
            decode_vs_recompute(&m, &kv, logits, seq, P, n_new, name);
            /* greedy through bb_decode (beam width 1) == greedy by full recompute, token for token */
            int a[32], b[32];
            bb_decode_opts o = {.beam = 1, .max_new = 20, .eos = -1, .length_penalty = 0.0f};
            int na = bb_decode(&m, &kv, prompt, P, &o, a);
            int nb = bb_decode_greedy_recompute(&m, prompt, P, 20, -1, b);
            CHECK(na == nb && memcmp(a, b, (size_t)na * sizeof(int)) == 0,
                  "%s/%s: beam-1 decode (%d tokens, first %d %d %d) differs from greedy recompute (%d: %d %d %d)",
                  bb_family_name((bb_family)f), precisions[pi], na, a[0], a[1], a[2], nb, b[0], b[1], b[2]);
            /* beam 4 is deterministic and within the length limit */
            bb_kvcache kv4;
            CHECK(bb_kvcache_init(&kv4, &m, 4, P + 20, err, sizeof err) == 0, "%s", err);
            bb_decode_opts o4 = {.beam = 4, .max_new = 20, .eos = 7, .length_penalty = 0.6f};
            int c1[32], c2[32];
            int n1 = bb_decode(&m, &kv4, prompt, P, &o4, c1), n2 = bb_decode(&m, &kv4, prompt, P, &o4, c2);
            CHECK(n1 == n2 && n1 <= 20 && memcmp(c1, c2, (size_t)n1 * sizeof(int)) == 0, "beam 4 not deterministic");
            for (int i = 0; i < n1; i++) CHECK(c1[i] != 7 && c1[i] >= 0 && c1[i] < V, "beam output holds token %d", c1[i]);
            bb_kvcache_free(&kv4);
            bb_kvcache_free(&kv);
            bb_model_free(&m);
        }
}

/* The throughput bench decodes with the model it trained (bench/cmd_throughput.c): a
 * training model, in its checkpointing mode, whose fp16/bf16 forward borrows the gradient
 * scratch (model.c ensure_acts). Prefill reads every layer's qkv from the forward's
 * tables; the cached logits must match full recomputes there too. */
static void test_cache_on_training_model(void) {
    const char *precisions[] = {"fp32", "bf16", "fp16+res"};
    for (int f = 0; f < BB_FAMILY_COUNT; f++)
        for (int pi = 0; pi < 3; pi++)
            for (int ck = 0; ck < BB_CKPT_COUNT; ck++) {
                bb_model src = make_model((bb_family)f, precisions[pi]), m;
                char err[200], name[128];
                CHECK(bb_model_init(&m, &src.cfg, &bb_backend_cpu, true, err, sizeof err) == 0, "%s", err);
                memcpy(m.params_mem, src.params_mem, src.n_params * sizeof(float));
                bb_model_requantize(&m);
                bb_model_free(&src);
                m.ckpt_mode = (bb_ckpt_mode)ck;
                m.logits_in_place = true;
                int V = m.cfg.vocab_size, P = 6, n_new = 6, seq[16] = {3, 17, 8, 42, 5, 11}, tg[16];
                for (int i = 0; i < 16; i++) tg[i] = (i * 5 + 1) % V;
                /* a training step first, as the bench runs */
                int in[12];
                memcpy(in, seq, sizeof in);
                bb_model_forward(&m, in, tg, 2, 6);
                bb_model_zero_grad(&m);
                bb_model_backward(&m, 1.0f);
                float *grads = bb_alloc(BB_MEM_OTHER, m.n_params * sizeof(float));
                memcpy(grads, m.grads_mem, m.n_params * sizeof(float));
                bb_kvcache kv;
                CHECK(bb_kvcache_init(&kv, &m, 1, P + n_new, err, sizeof err) == 0, "%s", err);
                snprintf(name, sizeof name, "%s/%s training model, checkpointing %s", bb_family_name((bb_family)f),
                         precisions[pi], bb_ckpt_names[ck]);
                decode_vs_recompute(&m, &kv, bb_kvcache_prefill(&m, &kv, seq, P), seq, P, n_new, name);
                /* and training goes on as before the decoding: the same step, the same bits */
                bb_model_forward(&m, in, tg, 2, 6);
                bb_model_zero_grad(&m);
                bb_model_backward(&m, 1.0f);
                CHECK(memcmp(grads, m.grads_mem, m.n_params * sizeof(float)) == 0,
                      "%s/%s training model, checkpointing %s: gradients differ after decoding",
                      bb_family_name((bb_family)f), precisions[pi], bb_ckpt_names[ck]);
                bb_free(grads);
                bb_kvcache_free(&kv);
                bb_model_free(&m);
            }
}

static const bb_test_case cases[] = {
    {"cache_matches_recompute", test_cache_matches_recompute},
    {"cache_on_training_model", test_cache_on_training_model},
};
BB_TEST_MAIN(cases)
