/* export.h — packed inference weights (`bitbench export`): a safetensors file whose
 * quantized linears (qkvw, attprojw, fcw, fcprojw, one tensor per layer) hold the packed
 * format of their precision as U8 bytes, everything else FP32, and whose metadata
 * documents the format:
 *   format     "bitbench-packed/1"
 *   config     the model config JSON (with precision, group, act_quant)
 *   packing    for each precision, the layout: "<precision>/compute-v1" (precisions/<p>.c)
 *              or, for b158, "b158/tq1-trits-v1" (5 trits per byte + fp32 scale, b158.c)
 *   nf4_layout, nf4_code   (nf4 only) the layout of its compute format in words, with the
 *              double quantization flag in config ("nf4_double_quant"), and the 16 NF4
 *              values (precisions/nf4.c)
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
int bb_load_packed(bb_model *m, const void *st, const char *path, const bb_backend *be, bb_ckpt_info *info, char *err,
                   size_t err_len);
