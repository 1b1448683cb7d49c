/* test_cuda_train.c — one training step of the `tiny` preset (both families) per precision
 * with every op on CUDA (bb_backend_cuda_staged, packed forwards included) against the
 * same step on the CPU backend: the loss, the gradient norm and every gradient (NMSE per
 * tensor) and the AdamW update of all weights (NMSE over the model), tolerances.h
 * bb_cuda_tolerances.train_*. fp16 runs its
 * dynamic loss scaling (bb_model_step_scaled) on both sides. fp32 runs once more with the
 * CUDA model under selective recomputation (attention probabilities recomputed in backward,
 * backend.h) against the CPU keeping them.
 * Without a CUDA device it prints why and exits 77 (meson: skipped). */
#include "../engine/alloc.h"
#include "../engine/config.h"
#include "../engine/cuda_backend.h"
#include "../engine/model.h"
#include "cuda_compare.h"
#include "tolerances.h"
#include <math.h>
#include <string.h>

int bb_test_failures = 0;

static void init(bb_model *m, const bb_config *c, const bb_backend *be) {
    char err[300];
    if (bb_model_init(m, c, be, true, err, sizeof err) != 0) {
        fprintf(stderr, "model init: %s\n", err);
        exit(1);
    }
    bb_model_init_weights(m, 11);
}

static void one_step(bb_family fam, bb_precision p, bb_ckpt_mode gpu_mode) {
    char err[300], name[128];
    bb_config c;
    if (bb_config_from_preset(&c, "tiny", err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); exit(1); }
    c.family = fam;
    c.ffn_hidden = bb_config_default_ffn(fam, c.n_embd);
    if (bb_config_set_precision(&c, bb_precisions[p].name, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); exit(1); }
    bb_model cpu, gpu;
    init(&cpu, &c, &bb_backend_cpu);
    init(&gpu, &c, &bb_backend_cuda_staged);
    gpu.ckpt_mode = gpu_mode;
    int B = 2, T = c.max_seq < 32 ? c.max_seq : 32;
    int *in = bb_alloc(BB_MEM_DATA, (size_t)B * T * sizeof(int)), *tg = bb_alloc(BB_MEM_DATA, (size_t)B * T * sizeof(int));
    for (int i = 0; i < B * T; i++) {
        in[i] = (int)((i * 7u + (unsigned)(i * i) % 5u) % (unsigned)c.vocab_size);
        tg[i] = (int)((i * 11u + 3u) % (unsigned)c.vocab_size);
    }
    bb_adamw opt = {1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f};
    bb_grad_scaler s1 = bb_grad_scaler_default(bb_precisions[p].loss_scaling), s2 = s1;
    float l1 = bb_model_forward(&cpu, in, tg, B, T), l2 = bb_model_forward(&gpu, in, tg, B, T), n1, n2;
    bb_model_zero_grad(&cpu);
    bb_model_zero_grad(&gpu);
    bb_model_backward(&cpu, bb_grad_scaler_factor(&s1));
    bb_model_backward(&gpu, bb_grad_scaler_factor(&s2));
    const bb_cuda_tolerance *tol = bb_cuda_tol(bb_precisions[p].name);
    char pn[64];
    const char *fn = bb_family_name(fam);
    snprintf(pn, sizeof pn, "%s%s%s", bb_precisions[p].name, gpu_mode ? " " : "", gpu_mode ? bb_ckpt_names[gpu_mode] : "");
    snprintf(name, sizeof name, "%s/%s.loss", fn, pn);
    EXPECT_NMSE(name, &l2, &l1, 1, tol->train_grad);
    for (int i = 0; i < BB_N_PARAMS; i++) {
        if (!cpu.specs[i].numel) continue;
        snprintf(name, sizeof name, "%s/%s.grad.%s", fn, pn, cpu.specs[i].name);
        EXPECT_NMSE(name, gpu.grads.t[i], cpu.grads.t[i], cpu.specs[i].numel, tol->train_grad);
    }
    /* The AdamW update of every parameter, over the whole model: one Adam step is about
     * lr * sign(g) wherever |g| >> eps, so an element whose gradient is round-off noise
     * (the key bias has an analytic gradient of 0: softmax ignores a per-row constant)
     * may take the opposite step on either side; per tensor that swamps a bias, over the
     * whole model it is a few elements in 1e4 (NMSE ~ 4x the flipped fraction). */
    size_t total = 0;
    for (int i = 0; i < BB_N_PARAMS; i++) total += cpu.specs[i].numel;
    float *before = bb_alloc(BB_MEM_OTHER, total * sizeof(float)), *d1 = bb_alloc(BB_MEM_OTHER, total * sizeof(float));
    float *d2 = bb_alloc(BB_MEM_OTHER, total * sizeof(float));
    for (int i = 0, off = 0; i < BB_N_PARAMS; off += (int)cpu.specs[i].numel, i++)
        if (cpu.specs[i].numel) memcpy(before + off, cpu.params.t[i], cpu.specs[i].numel * sizeof(float));
    bb_model_step_scaled(&cpu, &s1, &opt, opt.lr, &n1);
    bb_model_step_scaled(&gpu, &s2, &opt, opt.lr, &n2);
    snprintf(name, sizeof name, "%s/%s.grad_norm", fn, pn);
    EXPECT_NMSE(name, &n2, &n1, 1, tol->train_grad);
    for (int i = 0, off = 0; i < BB_N_PARAMS; off += (int)cpu.specs[i].numel, i++)
        for (size_t k = 0; k < cpu.specs[i].numel; k++) {
            d1[off + k] = cpu.params.t[i][k] - before[off + k];
            d2[off + k] = gpu.params.t[i][k] - before[off + k];
        }
    snprintf(name, sizeof name, "%s/%s.adamw_update(all params)", fn, pn);
    EXPECT_NMSE(name, d2, d1, total, tol->train_update);
    bb_free(before);
    bb_free(d1);
    bb_free(d2);
    bb_free(in);
    bb_free(tg);
    bb_model_free(&cpu);
    bb_model_free(&gpu);
}

int main(void) {
    char err[256];
    if (bb_cuda_init(err, sizeof err) != 0) {
        printf("SKIP: %s\n", err);
        return 77; /* meson: skipped */
    }
    for (int f = 0; f < BB_FAMILY_COUNT; f++)
        for (int p = 0; p <= BB_PREC_COUNT; p++) {
            /* the extra round: fp32 with selective recomputation on the GPU side */
            bb_precision prec = p == BB_PREC_COUNT ? BB_PREC_FP32 : (bb_precision)p;
            bb_ckpt_mode mode = p == BB_PREC_COUNT ? BB_CKPT_SELECTIVE : BB_CKPT_NONE;
            if (bb_precisions[prec].base_only) continue; /* nf4: no full training (precision.h) */
            int before = bb_test_failures;
            one_step((bb_family)f, prec, mode);
            printf("%s %s/%s%s%s\n", bb_test_failures == before ? "ok  " : "FAIL", bb_family_name((bb_family)f),
                   bb_precisions[prec].name, mode ? " " : "", mode ? bb_ckpt_names[mode] : "");
            fflush(stdout);
        }
    return bb_test_failures ? 1 : 0;
}
