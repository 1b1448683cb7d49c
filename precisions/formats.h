/* formats.h — the functions of each packed precision (precisions/<name>.c) that the traits
 * table (fakequant.c) points to; precision.h documents the contract they share. Each
 * <name>.c is compiled once per ISA (meson, as engine/cpu/eltwise.c): the copy with
 * BB_ISA_LEVEL 0 also holds the format, the references and the dispatch. */
#pragma once
#include "gemm.h"
#include "precision.h"

#define BB_FORMAT_DECLS(p)                                                                                  \
    size_t bb_##p##_packed_size(int OC, int C, const bb_prec_opts *o);                                   \
    void bb_##p##_pack_ref(void *packed, const float *w, int OC, int C, const bb_prec_opts *o);          \
    void bb_##p##_pack(void *packed, const float *w, int OC, int C, const bb_prec_opts *o);              \
    void bb_##p##_unpack(float *w, const void *packed, int OC, int C, const bb_prec_opts *o);            \
    void bb_##p##_forward(float *out, const float *x, const void *packed, int N, int C, int OC,           \
                          const bb_prec_opts *o, int accumulate);                                         \
    void bb_##p##_forward_ref(float *out, const float *x, const void *packed, int N, int C, int OC,       \
                              const bb_prec_opts *o, int accumulate);

BB_FORMAT_DECLS(fp32)
BB_FORMAT_DECLS(fp16)
BB_FORMAT_DECLS(bf16)
BB_FORMAT_DECLS(int8)
BB_FORMAT_DECLS(int4)
BB_FORMAT_DECLS(b158)
BB_FORMAT_DECLS(nf4)

/* b158 storage (export) format: 1.6-bit trits, b158.c. */
size_t bb_b158_storage_size(int OC, int C);
void bb_b158_storage_pack(void *dst, const float *w, int OC, int C);
void bb_b158_storage_unpack(float *w, const void *src, int OC, int C);
/* Storage -> compute format without going through floats (loading an exported model). */
void bb_b158_storage_to_packed(void *packed, const void *src, int OC, int C);

/* nf4 (nf4.c): the fake quantizer (quantize -> dequantize, the reference numerics), the
 * input gradient through a frozen nf4 base, and the pieces tests and tools look at. */
void bb_nf4_fake_weights(float *wq, const float *w, int OC, int C, const bb_prec_opts *o);
void bb_nf4_backward_input(float *dx, const float *dy, const void *packed, int N, int C, int OC, const bb_prec_opts *o,
                           int accumulate);
void bb_nf4_backward_input_ref(float *dx, const float *dy, const void *packed, int N, int C, int OC,
                               const bb_prec_opts *o, int accumulate);
extern const float bb_nf4_values[16];       /* the NF4 code book (specs §3.2), ascending */
const float *bb_nf4_midpoints(void);        /* its 15 midpoints (fp32) */
const float *bb_nf4_dq_code(void);          /* bnb's 256-value signed dynamic map, ascending */
int bb_nf4_code_ref(float s);               /* NF4 code of a scaled weight s = w / absmax */
int bb_nf4_dq_nearest(float s);             /* index of the dynamic-map value nearest to s */
/* Code of weight (row, col) and the dequantized absmax a' of (row, block of 64) of a packed matrix. */
int bb_nf4_code_at(const void *packed, int OC, int C, const bb_prec_opts *o, int row, int col);
float bb_nf4_block_scale(const void *packed, int OC, int C, const bb_prec_opts *o, int row, int block);
/* The packed layout in words (export metadata "nf4_layout"). */
extern const char bb_nf4_layout_doc[];

/* The kernels the dispatched forward of each packed precision uses now (isa.h choice). */
const bb_gemm_kernels *bb_fp16_kernels(void);
const bb_gemm_kernels *bb_bf16_kernels(void);
const bb_gemm_kernels *bb_bf16_kernels_vdpbf16ps(void); /* the vdpbf16ps kernel (bf16.c on why not default) */
const bb_gemm_kernels *bb_bf16_kernels_fma(void);       /* the FMA kernels of the active ISA */
const bb_gemm_kernels *bb_bf16_kernels_amx(void);       /* the AMX kernel (bf16_amx.c), or NULL without AMX */
const bb_gemm_kernels *bb_int8_kernels(void);
const bb_gemm_kernels *bb_int4_kernels(void);
const bb_gemm_kernels *bb_b158_kernels(void);
const bb_gemm_kernels *bb_nf4_kernels(void);
