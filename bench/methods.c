/* methods.c — see methods.h. `full` trains every parameter: FP32 masters, gradients and
 * AdamW moments, with QAT (fake-quant forward through the packed kernels, straight-through
 * backward) for the quantized precisions; this is what `bitbench train` does. */
#include "methods.h"
#include "../engine/distill.h"
#include "../engine/lora.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int full_init(bb_method_run *r, const bb_method_setup *s, char *err, size_t err_len) {
    memset(r, 0, sizeof *r);
    if (bb_model_init(&r->model, s->cfg, s->be ? s->be : &bb_backend_cpu, true, err, err_len) != 0) return -1;
    bb_model_init_weights(&r->model, s->seed);
    r->model.ckpt_mode = s->ckpt_mode;
    r->model.logits_in_place = true;  /* as bitbench train (KD keeps both: its backward reads both) */
    r->scaler = bb_grad_scaler_default(bb_precisions[s->cfg->precision].loss_scaling);
    r->opt = s->opt;
    return 0;
}

static float full_step(bb_method_run *r, const int *inputs, const int *targets, int B, int T, float lr) {
    float loss = bb_model_forward(&r->model, inputs, targets, B, T), norm;
    bb_model_zero_grad(&r->model);
    bb_model_backward(&r->model, bb_grad_scaler_factor(&r->scaler));
    bb_model_step_scaled(&r->model, &r->scaler, &r->opt, lr, &norm);
    return loss;
}

static void full_free(bb_method_run *r) { bb_model_free(&r->model); }

/* kd: the student trains as `full` does, on the distillation loss against a forward-only
 * teacher loaded from base_ckpt (engine/distill.h), with the spec's default alpha 0.5, T 2
 * (evaluation.md §5.3: the HF guide's lambda 0.5; DistilBERT-style T 2). */
static int kd_init(bb_method_run *r, const bb_method_setup *s, char *err, size_t err_len) {
    if (!s->base_ckpt) {
        snprintf(err, err_len, "kd needs a teacher checkpoint");
        return -1;
    }
    if (full_init(r, s, err, err_len) != 0) return -1;
    bb_model *teacher = calloc(1, sizeof *teacher);
    bb_ckpt_info info;
    if (!teacher || bb_teacher_load(teacher, s->base_ckpt, &bb_backend_cpu, &info, err, err_len) != 0 ||
        bb_teacher_check(&teacher->cfg, s->cfg, s->cfg->max_seq, err, err_len) != 0) {
        if (teacher) bb_model_free(teacher);
        free(teacher);
        bb_model_free(&r->model);
        return -1;
    }
    r->priv = teacher;
    return 0;
}

static float kd_step(bb_method_run *r, const int *inputs, const int *targets, int B, int T, float lr) {
    const float *tlogits = bb_teacher_logits(r->priv, inputs, B, T);
    float loss = bb_model_forward_kd(&r->model, inputs, targets, tlogits, BB_KD_ALPHA_DEFAULT, BB_KD_TEMP_DEFAULT, B, T),
          norm;
    bb_model_zero_grad(&r->model);
    bb_model_backward(&r->model, bb_grad_scaler_factor(&r->scaler));
    bb_model_step_scaled(&r->model, &r->scaler, &r->opt, lr, &norm);
    return loss;
}

static void kd_free(bb_method_run *r) {
    bb_model_free(r->priv);
    free(r->priv);
    bb_model_free(&r->model);
}

/* lora: r 8, alpha 16 on every quantized linear (QLoRA's all-linear targets; PEFT init,
 * no dropout so runs are deterministic) over a frozen base packed at the precision. The
 * base is base_ckpt, the fp32 full model, where the precision can take it. b158 needs a
 * b158-trained base (its SubLN gains): bench quality hands it the b158 full model of the
 * same run (base_precision b158); the speed and memory sweeps, whose fp32 base is random
 * anyway, use the random b158 model from the seed. */
static bb_lora_config harness_lora(void) {
    bb_lora_config lc = bb_lora_config_default();
    lc.r = 8;
    lc.alpha = 16.0f;
    lc.targets = BB_LORA_ALL;
    return lc;
}

static int lora_init(bb_method_run *r, const bb_method_setup *s, char *err, size_t err_len) {
    memset(r, 0, sizeof *r);
    const bb_config *c = s->cfg;
    const bb_backend *be = s->be ? s->be : &bb_backend_cpu;
    bb_prec_opts po = bb_config_prec_opts(c);
    if (s->base_ckpt && (!bb_precisions[c->precision].subln || s->base_precision == c->precision)) {
        bb_ckpt_info info;
        char sha[65];
        if (bb_lora_load_base(&r->model, s->base_ckpt, (int)c->precision, &po, be, &info, sha, err, err_len) != 0)
            return -1;
    } else {
        bb_model src;
        if (bb_model_init(&src, c, be, false, err, err_len) != 0) return -1;
        bb_model_init_weights(&src, s->seed);
        int rc = bb_lora_base_from_model(&r->model, &src, err, err_len);
        bb_model_free(&src);
        if (rc != 0) return -1;
    }
    r->model.ckpt_mode = s->ckpt_mode;
    r->model.logits_in_place = true;
    bb_lora_config lc = harness_lora();
    if (bb_lora_attach(&r->model, &lc, s->seed, err, err_len) != 0) {
        bb_model_free(&r->model);
        return -1;
    }
    bb_lora_set_training(&r->model, true);
    r->scaler = bb_grad_scaler_default(false); /* a frozen base's gradients are FP32: nothing underflows */
    r->opt = s->opt;
    return 0;
}

static void lora_predict(const bb_config *c, int B, int T, bb_ckpt_mode ckpt, bb_memcalc *out) {
    bb_lora_config lc = harness_lora();
    bb_memcalc_lora(c, &lc, B, T, ckpt, out);
}

/* The teacher is the fp32 full model of the same preset (the drivers make it). */
static void kd_predict(const bb_config *c, int B, int T, bb_ckpt_mode ckpt, bb_memcalc *out) {
    bb_config t = *c;
    char err[160];
    bb_config_set_precision(&t, "fp32", err, sizeof err);
    bb_memcalc_kd(c, &t, B, T, ckpt, out);
}

const bb_method bb_methods[] = {
    {"full", "every parameter trained (QAT with FP32 masters for the quantized precisions)", false, false, NULL,
     full_init, full_step, full_free, bb_memcalc_full},
    {"lora", "LoRA r 8, alpha 16, all linears, on the fp32 full model frozen at the precision (b158: on the b158 one)",
     true, true, NULL, lora_init, full_step, full_free, lora_predict},
    {"kd", "knowledge distillation (alpha 0.5, T 2) of a student in the precision from the fp32 full model", true,
     false, NULL, kd_init, kd_step, kd_free, kd_predict},
};
const int bb_n_methods = (int)(sizeof bb_methods / sizeof bb_methods[0]);

const bb_method *bb_method_find(const char *name) {
    for (int i = 0; i < bb_n_methods; i++)
        if (strcmp(bb_methods[i].name, name) == 0) return &bb_methods[i];
    return NULL;
}

bb_adamw bb_method_default_opt(float lr) { return (bb_adamw){lr, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f}; }
