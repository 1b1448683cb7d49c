/* memcalc.h — predicted memory of a training configuration by category, from the model
 * shapes alone (no allocation): what bitbench's engine would allocate for `full`
 * training (QAT for quantized precisions) at batch B and length T, as the training
 * drivers run it (model.h logits_in_place: the probabilities over the logits). The prediction is
 * validated against the tracked allocator (tests/test_memcalc.c). Not included: the
 * packed kernels' reusable activation cache (precisions/gemm.c, at most about
 * 1.25 x B*T x max(C, F) x 2 bytes) and transient buffers freed within an op. Methods:
 * `full`, and `kd` = full + the teacher (BB_MEM_TEACHER): its weights as the engine holds
 * them (FP32, plus the fake-quant copy and packed format for a quantized teacher) and its
 * forward-only activation tables (one layer slot and the logits, model.h bb_model_opts).
 * The KD loss's backward reads the student's logits and probabilities, so KD keeps both
 * (B*T*V floats more than full, which writes the probabilities over the logits). `lora` = adapters on a frozen packed base (engine/lora.h).
 * Also not included: backward_input's transient dequantized panel (64 x C floats; nf4's
 * tile, at most 1 MiB), and the CPU attention's per-thread row blocks (allocated and freed
 * within the op, engine/cpu/attention.h), which att_scratch_per_thread gives apart.
 * Checkpointing (model.h bb_ckpt_mode): none keeps every layer's activations, selective
 * all but the attention probabilities (B NH T T floats a layer), block one layer slot. */
#pragma once
#include "../engine/config.h"
#include "../engine/lora.h"
#include "../engine/model.h"
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    double parameters, packed, gradients, optimizer, activations, workspace;  /* bytes */
    double activations_16bit;  /* full, kd: the part of activations held in 16 bits (fp16/bf16) */
    double teacher;        /* KD: the teacher's bytes (0 for full) */
    double frozen, adapters, adapter_grads, adapter_optim;  /* lora only */
    double n_trainable;    /* lora: the adapters' parameters */
    double total;
    double packed_export;  /* bytes of the packed inference export of the quantized linears */
    double n_params;
    double att_scratch_per_thread;  /* bytes: the CPU attention backward's transient row blocks, per
                                       OpenMP thread (not in total; more with selective recomputation) */
} bb_memcalc;

void bb_memcalc_full(const bb_config *c, int B, int T, bb_ckpt_mode ckpt, bb_memcalc *out);
/* The bytes of a forward-only KD teacher with config t at batch B, length T. */
double bb_memcalc_teacher(const bb_config *t, int B, int T);
/* Full training of the student plus the teacher (out->teacher, included in out->total). */
void bb_memcalc_kd(const bb_config *student, const bb_config *teacher, int B, int T, bb_ckpt_mode ckpt,
                   bb_memcalc *out);

/* The weights alone at the config's precision (a frozen base, e.g. nf4 under LoRA, or an
 * inference export): the quantized linears in their packed format (packed_size, exact, as
 * `bitbench export` writes them), everything else FP32 as the engine keeps it. */
typedef struct {
    double linear_params, other_params;  /* quantized linears; embeddings, head, norms, biases */
    double linear_bytes;                 /* the linears packed */
    double bits_per_weight;              /* 8 linear_bytes / linear_params */
    double engine_bytes;                 /* linear_bytes + 4 other_params */
    double all_at_bits_bytes;            /* every parameter at bits_per_weight: the convention of
                                          * specs/precisions.md §5.2's "weights only" table */
} bb_memcalc_weights;

void bb_memcalc_weights_of(const bb_config *c, bb_memcalc_weights *out);
/* LoRA (engine/lora.h): the base's quantized linears packed at c->precision (fp32: W
 * itself; nf4 included), the other tensors FP32 and frozen (out->frozen), adapters with
 * grads and AdamW moments, the activation table (the linears' inputs in FP32: the
 * adapters read them) plus h (and dropout masks) per adapted linear. */
void bb_memcalc_lora(const bb_config *c, const bb_lora_config *lc, int B, int T, bb_ckpt_mode ckpt, bb_memcalc *out);
