/* kd_dump.c — writes what tests/ref/kd_ref.py checks against PyTorch autograd: the
 * knowledge-distillation loss (backend.h kd_forward / kd_backward, bitbench's CPU backend)
 * and its gradient w.r.t. the student logits.
 *   op level     random student and teacher logits (N, V), targets with some masked (-1),
 *                a row whose teacher is one-hot to float precision (its other
 *                probabilities underflow) and a target of tiny probability; for each
 *                (alpha, T) of `settings` the mean loss over kept rows (op.loss.K) and
 *                dlogits with scale 1/n_kept (op.dlogits.K), as the model uses them
 *   model level  a tiny gpt2 b158 student and a tiny llama fp32 teacher (one vocabulary)
 *                through bb_model_forward_kd + bb_model_backward: the student's logits,
 *                the teacher's, the targets, the loss and the dlogits the backward
 *                started from (the probs buffer after backward), at alpha 0.3, T 3
 * Usage: kd_dump OUT.safetensors */
#include "../engine/alloc.h"
#include "../engine/distill.h"
#include "../engine/model.h"
#include "../engine/safetensors.h"
#include <stdio.h>
#include <string.h>

enum { N = 37, V = 257, B = 2, T = 12, MV = 67 };
static const float settings[][2] = {{0.5f, 2}, {0.9f, 2}, {0.5f, 4}, {0.5f, 1}, {0.0f, 3}, {1.0f, 2}, {0.3f, 0.5f},
                                    {0.7f, 10}};
enum { NS = sizeof settings / sizeof settings[0] };
static const float model_alpha = 0.3f, model_temp = 3.0f;

static unsigned long long rng = 0x2545F4914F6CDD1Dull;
static float frand(void) {  /* uniform in [-1, 1) */
    rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
    return (float)((rng * 0x2545F4914F6CDD1Dull) >> 40) / (float)(1 << 23) - 1.0f;
}

static bb_st_tensor f32(const char *name, const float *data, int ndim, int64_t d0, int64_t d1, int64_t d2) {
    bb_st_tensor t = {.name = name, .dtype = BB_DT_F32, .ndim = ndim, .shape = {d0, d1, d2}, .data = data};
    return t;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: kd_dump OUT.safetensors\n");
        return 2;
    }
    char err[400];
    /* ---- op level ---- */
    float *zs = bb_alloc(BB_MEM_OTHER, (size_t)N * V * sizeof(float));
    float *zt = bb_alloc(BB_MEM_OTHER, (size_t)N * V * sizeof(float));
    float *probs = bb_alloc(BB_MEM_OTHER, (size_t)N * V * sizeof(float));
    float *dl = bb_alloc(BB_MEM_OTHER, (size_t)NS * N * V * sizeof(float)), losses[N], loss[NS];
    int targets[N], kept = 0;
    for (int i = 0; i < N * V; i++) {
        zs[i] = 4.0f * frand();
        zt[i] = 0.7f * zs[i] + 3.0f * frand();  /* a teacher that mostly agrees */
    }
    for (int n = 0; n < N; n++) {
        targets[n] = n % 6 == 4 ? -1 : (n * 53 + 7) % V;
        kept += targets[n] >= 0;
    }
    for (int v = 0; v < V; v++) zt[3 * V + v] = v == 9 ? 60.0f : -60.0f;  /* one-hot teacher (row 3 kept) */
    zs[5 * V + targets[5]] = -40.0f;                                       /* a near-impossible target */
    for (int k = 0; k < NS; k++) {
        bb_backend_cpu.kd_forward(losses, probs, zs, zt, targets, settings[k][0], settings[k][1], N, V);
        double sum = 0;
        for (int n = 0; n < N; n++) sum += losses[n];
        loss[k] = (float)(sum / kept);
        bb_backend_cpu.kd_backward(probs, probs, zs, zt, targets, settings[k][0], settings[k][1], 1.0f / (float)kept,
                                   N, V);
        memcpy(dl + (size_t)k * N * V, probs, (size_t)N * V * sizeof(float));
    }

    /* ---- model level ---- */
    bb_config sc = {BB_FAMILY_GPT2, 2, 32, 4, 4, MV, T, 0, 1e-5f, 10000.0f, BB_PREC_FP32, 32, BB_ACTQ_NONE, false, false, false, false};
    sc.ffn_hidden = bb_config_default_ffn(sc.family, sc.n_embd);
    if (bb_config_set_precision(&sc, "b158", err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }
    bb_config tc = {BB_FAMILY_LLAMA, 3, 48, 4, 2, MV, 16, 0, 1e-5f, 10000.0f, BB_PREC_FP32, 32, BB_ACTQ_NONE, false, false, false, false};
    tc.ffn_hidden = bb_config_default_ffn(tc.family, tc.n_embd);
    bb_model s, t;
    if (bb_model_init(&s, &sc, &bb_backend_cpu, true, err, sizeof err) != 0 ||
        bb_teacher_init(&t, &tc, &bb_backend_cpu, err, sizeof err) != 0 ||
        bb_teacher_check(&tc, &sc, T, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    bb_model_init_weights(&s, 3);
    bb_model_init_weights(&t, 4);
    for (size_t k = 0; k < t.n_params; k++) t.params_mem[k] *= 10.0f;  /* logits far from uniform */
    int in[B * T], tg[B * T];
    for (int i = 0; i < B * T; i++) {
        in[i] = (i * 17 + 5) % MV;
        tg[i] = i % 5 == 1 ? -1 : (i * 29 + 11) % MV;
    }
    const float *tl = bb_teacher_logits(&t, in, B, T);
    float mloss = bb_model_forward_kd(&s, in, tg, tl, model_alpha, model_temp, B, T);
    bb_model_zero_grad(&s);
    bb_model_backward(&s, 1.0f);

    /* ---- write ---- */
    char names[NS][2][32], meta[512];
    bb_st_tensor io[8 + 2 * NS];
    int n = 0;
    io[n++] = f32("op.logits", zs, 2, N, V, 0);
    io[n++] = f32("op.tlogits", zt, 2, N, V, 0);
    io[n++] = (bb_st_tensor){.name = "op.targets", .dtype = BB_DT_I32, .ndim = 1, .shape = {N}, .data = targets};
    for (int k = 0; k < NS; k++) {
        snprintf(names[k][0], sizeof names[k][0], "op.loss.%d", k);
        snprintf(names[k][1], sizeof names[k][1], "op.dlogits.%d", k);
        io[n++] = f32(names[k][0], &loss[k], 1, 1, 0, 0);
        io[n++] = f32(names[k][1], dl + (size_t)k * N * V, 2, N, V, 0);
    }
    io[n++] = f32("model.logits", s.acts.logits, 3, B, T, MV);
    io[n++] = f32("model.tlogits", tl, 3, B, T, MV);
    io[n++] = (bb_st_tensor){.name = "model.targets", .dtype = BB_DT_I32, .ndim = 2, .shape = {B, T}, .data = tg};
    io[n++] = f32("model.loss", &mloss, 1, 1, 0, 0);
    io[n++] = f32("model.dlogits", s.acts.probs, 3, B, T, MV);
    int len = snprintf(meta, sizeof meta, "[");
    for (int k = 0; k < NS; k++)
        len += snprintf(meta + len, sizeof meta - (size_t)len, "%s[%.9g, %.9g]", k ? ", " : "", (double)settings[k][0],
                        (double)settings[k][1]);
    snprintf(meta + len, sizeof meta - (size_t)len, "]");
    char model_meta[64];
    snprintf(model_meta, sizeof model_meta, "[%.9g, %.9g]", (double)model_alpha, (double)model_temp);
    const char *keys[] = {"settings", "model_setting"}, *vals[] = {meta, model_meta};
    if (bb_safetensors_write(argv[1], io, n, keys, vals, 2, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    fprintf(stderr, "kd_dump: %d settings on (%d, %d), %d rows kept; model loss %.6f\n", NS, N, V, kept, mloss);
    bb_model_free(&s);
    bb_model_free(&t);
    bb_free(zs); bb_free(zt); bb_free(probs); bb_free(dl);
    return 0;
}
