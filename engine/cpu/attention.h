/* attention.h — the CPU attention (attention.c) and the size of the per-thread scratch it
 * takes, which the memory calculator (bench/memcalc.c) and the tests read. */
#pragma once
#include "../backend.h"
#include <stdbool.h>
#include <stddef.h>

/* Query rows per block: scores and probabilities are computed this many rows at a time. */
#define BB_ATT_BLOCK 64

void bb_attention_forward_cpu(float *out, void *att, const float *qkv, int B, int T, int NH, int NKV, int hd,
                              bb_att_fmt fmt);
void bb_attention_backward_cpu(float *dqkv, const float *dout, const float *qkv, const void *att, int B, int T,
                               int NH, int NKV, int hd, bb_att_fmt fmt);
/* Floats of workspace each OpenMP thread of the op takes (BB_MEM_WORKSPACE, allocated and
 * freed within the call): forward one row block of probabilities (BB_ATT_BLOCK x T);
 * backward one row block of dP, plus one of probabilities when it does not read them as
 * floats from att (recomputed: att == NULL, selective recomputation; or widened from
 * 16-bit storage: half). */
size_t bb_attention_cpu_scratch_floats(int T, bool backward, bool recompute, bool half);
