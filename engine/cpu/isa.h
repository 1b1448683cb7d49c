/* isa.h — SIMD path selection (DESIGN.md: scalar, AVX2 and AVX-512 chosen once at run
 * time from CPUID; BITBENCH_ISA=scalar|avx2|avx512 forces one so tests cover each).
 * Kernels that need more than the compiler's baseline live in files compiled once per
 * ISA (eltwise.c) and are reached through the table of the selected ISA. */
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef enum { BB_ISA_SCALAR, BB_ISA_AVX2, BB_ISA_AVX512, BB_ISA_COUNT } bb_isa;

/* Elementwise spans: each processes n contiguous elements; callers parallelise. */
typedef struct {
    const char *name;
    void (*gelu_forward)(float *out, const float *inp, size_t n);
    void (*gelu_backward)(float *dinp, const float *inp, const float *dout, size_t n);   /* += */
    void (*swiglu_forward)(float *out, const float *gate, const float *up, size_t n);
    void (*swiglu_backward)(float *dgate, float *dup, const float *gate, const float *up, const float *dout,
                            size_t n);                                                     /* += */
    /* p[i] = exp(z[i] - shift); returns the sum of p. */
    float (*exp_shift_sum)(float *p, const float *z, float shift, size_t n);
    void (*adamw)(float *params, const float *grads, float *m, float *v, size_t n, float lr, float beta1, float beta2,
                  float eps, float decay, float bc1, float bc2);
    /* Activation fake quantization, bit-exact with bb_fake_acts (precisions/fakequant.c):
     * int8 absmax over each block of `block` values of a row of C; fp16 / bf16 rounding. */
    void (*fake_int8)(float *x, int C, int block);
    void (*fake_fp16)(float *x, size_t n);
    void (*fake_bf16)(float *x, size_t n);
    /* Weight fake quantization primitives: max|x|, sum|x| (double), and
     * wq = clamp(roundf(w * inv), lo, hi) * s. */
    float (*absmax)(const float *x, size_t n);
    double (*abssum)(const float *x, size_t n);
    void (*fake_block)(float *wq, const float *w, size_t n, float inv, float s, float lo, float hi);
    /* sum a[i] b[i] in a fixed 32-lane order (the same bits from every ISA copy): the
     * tiny matmuls that run on the calling thread (ops.c matmul_forward_cpu) */
    float (*dot)(const float *a, const float *b, size_t n);
    /* RMSNorm rows (Zhang & Sennrich 2019; ops_ref.c has the scalar reference):
     * forward y = x r w with r = 1 / sqrt(mean(x^2) + eps), returning r; backward
     * dx += r w dy - x r^3 / n * sum(x w dy); weight gradient dw += x r dy over one span. */
    float (*rmsnorm_row)(float *y, const float *x, const float *w, size_t n, float eps);
    void (*rmsnorm_row_backward)(float *dx, const float *dy, const float *x, const float *w, float r, size_t n);
    void (*rmsnorm_dweight)(float *dw, const float *x, const float *dy, float r, size_t n);
    /* Half storage of values already rounded to fp16 / bf16 (the fake-quantized inputs of
     * fp16/bf16 linears): exact both ways. bf16 keeps the upper 16 bits. */
    void (*to_half)(uint16_t *dst, const float *src, size_t n, int bf16);
    void (*from_half)(float *dst, const uint16_t *src, size_t n, int bf16);
} bb_eltwise_kernels;

bb_isa bb_isa_best_supported(void);
/* Extensions some kernels need beyond their ISA level (precisions/: VNNI vpdpbusd,
 * AVX512_BF16 vdpbf16ps, F16C vcvtph2ps); bits of bb_cpu_features(). */
enum { BB_CPU_AVX512_VNNI = 1u << 0, BB_CPU_AVX512_BF16 = 1u << 1, BB_CPU_F16C = 1u << 2, BB_CPU_AMX_BF16 = 1u << 3 };
/* BB_CPU_AMX_BF16: AMX-TILE + AMX-BF16 in CPUID, tile state enabled in XCR0, and Linux
 * granted this process the tile data state (arch_prctl ARCH_REQ_XCOMP_PERM, asked once).
 * BITBENCH_AMX=0 clears it (to measure or test the AVX-512 kernels on an AMX machine). */
unsigned bb_cpu_features(void);
/* The active ISA: BITBENCH_ISA if set (an unsupported or unknown value is an error),
 * else the best the CPU supports. Decided on first use. */
bb_isa bb_isa_active(void);
/* Tests: switch the active ISA (must be supported). */
void bb_isa_force(bb_isa isa);
const char *bb_isa_name(bb_isa isa);
const bb_eltwise_kernels *bb_eltwise(void);
const bb_eltwise_kernels *bb_eltwise_for(bb_isa isa);
