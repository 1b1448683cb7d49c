/* export.h — packed inference weights (`bitbench export`): a safetensors file whose
 * quantized linears (qkvw, attprojw, fcw, fcprojw, one tensor per layer) hold the packed
 * format of their precision as U8 bytes (and the quantized head / embedding tables when
 * configured), everything else FP32, and whose metadata
 * documents the format:
 *   format     "bitbench-packed/1"
 *   config     the model config JSON (with precision, group, act_quant)
 *   packing    for each precision, the layout: "<precision>/compute-v1" (precisions/<p>.c)
 *              or, for b158, "b158/tq1-trits-v1" (5 trits per byte + fp32 scale, b158.c)
 *   nf4_layout, nf4_code   (nf4 only) the layout of its compute format in words, with the
 *              double quantization flag in config ("nf4_double_quant"), and the 16 NF4
 *              values (precisions/nf4.c)
 *   quant_tables  (quant_head / quant_embed only, config.h) the (V, C) tables packed like a
 *              linear: head_q (the LM head: lm_head, or wte when tied) and embed_q (wte; a
 *              tied head and embedding quantized together are one table, head_q); an FP32
 *              tensor is stored only while the model still reads it in FP32
 *   tokenizer, step, producer as in checkpoints.
 * Loading (bb_checkpoint_load detects the format) restores the fake-quant weights bit for
 * bit, so a packed model computes what its QAT model computed; the masters are not kept
 * (the model cannot be trained further). */
#pragma once
#include "checkpoint.h"

int bb_export_packed(const bb_model *m, const char *path, const bb_ckpt_info *info, size_t *bytes_written, char *err,
                     size_t err_len);
/* Used by bb_checkpoint_load for "bitbench-packed/1" files. */
struct bb_safetensors;
/* The compute format of layer l of quantized linear k (model.c order) from an opened packed
 * file (bb_safetensors *) into dst, and its fake-quant values into wq (if not NULL).
 * m gives the shapes and precision. Returns 0 or -1 with one sentence. */
int bb_packed_read_matrix(const bb_model *m, const void *st, const char *path, int k, int l, uint8_t *dst, float *wq,
                          char *err, size_t err_len);
int bb_load_packed(bb_model *m, const void *st, const char *path, const bb_backend *be, const bb_model_opts *opts,
                   bb_ckpt_info *info, char *err, size_t err_len);
