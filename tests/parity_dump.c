/* parity_dump.c — writes the files tests/ref/torch_parity.py checks (contract in
 * tests/ref/README.md): a tiny model of one family, one batch with some targets masked,
 * our logits, loss and every gradient, and the losses of 10 AdamW steps (warmup +
 * cosine, clipping on) on that batch.
 * Usage: parity_dump gpt2|llama MODEL.safetensors IO.safetensors [PRECISION]
 * With a precision (fp16, bf16, int8, int4, b158) the model is the QAT model of
 * precisions/precision.h: the config JSON then carries "precision", "group" and
 * "act_quant", and the reference applies the same fake quantizers with the identity STE. */
#include "../engine/alloc.h"
#include "../engine/checkpoint.h"
#include "../engine/model.h"
#include "../engine/safetensors.h"
#include "../engine/schedule.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

enum { B = 2, T = 16, STEPS = 10 };

static bb_st_tensor f32(const char *name, const float *data, int ndim, const size_t *shape) {
    bb_st_tensor t = {.name = name, .dtype = BB_DT_F32, .ndim = ndim, .data = data};
    for (int d = 0; d < ndim; d++) t.shape[d] = (int64_t)shape[d];
    return t;
}

int main(int argc, char **argv) {
    if ((argc != 4 && argc != 5) || (strcmp(argv[1], "gpt2") && strcmp(argv[1], "llama"))) {
        fprintf(stderr, "usage: parity_dump gpt2|llama MODEL.safetensors IO.safetensors [PRECISION]\n");
        return 2;
    }
    bb_family fam = strcmp(argv[1], "gpt2") == 0 ? BB_FAMILY_GPT2 : BB_FAMILY_LLAMA;
    bb_config cfg = {fam, 2, 32, 4, fam == BB_FAMILY_LLAMA ? 2 : 4, 67, T, 0, 1e-5f, 10000.0f, BB_PREC_FP32, 32, BB_ACTQ_NONE};
    cfg.ffn_hidden = bb_config_default_ffn(fam, cfg.n_embd);
    char err[400];
    if (argc == 5 && bb_config_set_precision(&cfg, argv[4], err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    bb_model m;
    if (bb_model_init(&m, &cfg, &bb_backend_cpu, true, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }
    bb_model_init_weights(&m, 2024);
    /* larger-than-init weights and non-trivial gains/biases so every gradient matters */
    for (size_t k = 0; k < m.n_params; k++) m.params_mem[k] *= 2.0f;
    for (int i = 0; i < BB_N_PARAMS; i++)
        if (m.specs[i].numel && m.specs[i].ndim <= 2 && i != BB_P_WTE && i != BB_P_WPE && i != BB_P_LMHEAD)
            for (size_t k = 0; k < m.specs[i].numel; k++) m.params.t[i][k] += 0.2f * sinf((float)(3 * k + i));
    bb_model_requantize(&m);

    const char *cfg_keys[] = {"config"};
    char cfg_json[512];
    bb_config_to_json(&cfg, cfg_json, sizeof cfg_json);
    const char *cfg_vals[] = {cfg_json};
    bb_st_tensor params[BB_N_PARAMS];
    int np = 0;
    for (int i = 0; i < BB_N_PARAMS; i++)
        if (m.specs[i].numel) { params[np] = f32(m.specs[i].name, m.params.t[i], m.specs[i].ndim, m.specs[i].shape); np++; }
    if (bb_safetensors_write(argv[2], params, np, cfg_keys, cfg_vals, 1, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }

    int inputs[B * T], targets[B * T];
    for (int i = 0; i < B * T; i++) {
        inputs[i] = (i * 17 + 5) % cfg.vocab_size;
        targets[i] = i % 4 == 1 ? -1 : (i * 29 + 11) % cfg.vocab_size;  /* a masked (target-only) loss */
    }
    float loss = bb_model_forward(&m, inputs, targets, B, T);
    bb_model_zero_grad(&m);
    bb_model_backward(&m, 1.0f);
    size_t V = (size_t)cfg.vocab_size, logits_n = (size_t)B * T * V;
    float *logits = bb_alloc(BB_MEM_OTHER, logits_n * sizeof(float));
    memcpy(logits, m.acts.logits, logits_n * sizeof(float));
    float *grads = bb_alloc(BB_MEM_OTHER, m.n_params * sizeof(float));
    memcpy(grads, m.grads_mem, m.n_params * sizeof(float));

    bb_adamw opt = {1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f};
    bb_schedule sched = {BB_SCHED_COSINE, 1e-2f, 0.1f, 3, STEPS};
    float train_losses[STEPS], train_lrs[STEPS];
    for (int s = 0; s < STEPS; s++) {
        train_lrs[s] = bb_schedule_lr(&sched, s);
        train_losses[s] = bb_model_forward(&m, inputs, targets, B, T);
        bb_model_zero_grad(&m);
        bb_model_backward(&m, 1.0f);
        float norm = bb_model_step(&m, &opt, train_lrs[s]);
        fprintf(stderr, "step %d loss %.6f grad norm %.4f%s\n", s, train_losses[s], norm,
                norm > opt.grad_clip ? " (clipped)" : "");
    }

    bb_st_tensor io[8 + BB_N_PARAMS];
    char names[BB_N_PARAMS][64];
    int n = 0;
    size_t bt[2] = {B, T}, btv[3] = {B, T, V}, one[1] = {1}, steps[1] = {STEPS};
    io[n++] = (bb_st_tensor){.name = "inputs", .dtype = BB_DT_I32, .ndim = 2, .shape = {B, T}, .data = inputs};
    io[n++] = (bb_st_tensor){.name = "targets", .dtype = BB_DT_I32, .ndim = 2, .shape = {B, T}, .data = targets};
    (void)bt;
    io[n++] = f32("logits", logits, 3, btv);
    io[n++] = f32("loss", &loss, 1, one);
    io[n++] = f32("train_losses", train_losses, 1, steps);
    io[n++] = f32("train_lrs", train_lrs, 1, steps);
    float *g = grads;
    for (int i = 0; i < BB_N_PARAMS; i++) {
        if (!m.specs[i].numel) continue;
        snprintf(names[i], sizeof names[i], "grad.%s", m.specs[i].name);
        io[n++] = f32(names[i], g, m.specs[i].ndim, m.specs[i].shape);
        g += m.specs[i].numel;
    }
    char adamw[256];
    snprintf(adamw, sizeof adamw,
             "{\"beta1\": %.9g, \"beta2\": %.9g, \"eps\": %.9g, \"weight_decay\": %.9g, \"grad_clip\": %.9g}",
             (double)opt.beta1, (double)opt.beta2, (double)opt.eps, (double)opt.weight_decay, (double)opt.grad_clip);
    const char *io_keys[] = {"adamw"}, *io_vals[] = {adamw};
    if (bb_safetensors_write(argv[3], io, n, io_keys, io_vals, 1, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    bb_free(logits);
    bb_free(grads);
    bb_model_free(&m);
    return 0;
}
