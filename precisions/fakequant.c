/* fakequant.c — scalar reference fake quantizers for every precision (precision.h) and
 * the traits table. These define the numerics; packed formats and fast kernels must
 * reproduce them (tests check unpack(pack(W)) == fake_weights(W) bit for bit).
 * Sources: BitNet Tips PDF act_quant/weight_quant (specs §1.3), torchao 8da4w (§3.3),
 * half/bfloat16 round-to-nearest-even (IEEE 754-2008). */
#include "precision.h"
#include "formats.h"
#include <math.h>
#include <string.h>

/* ---- half / bfloat16 ------------------------------------------------------------ */

uint16_t bb_fp32_to_fp16(float f) {
    /* round to nearest even, with overflow to inf and gradual underflow (as F16C vcvtps2ph) */
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000, mant = x & 0x7fffff;
    int exp = (int)((x >> 23) & 0xff);
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 | (mant >> 13) : 0));
    int e = exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        mant |= 0x800000;
        int shift = 14 - e;
        uint32_t half = mant >> shift, rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | (uint32_t)e << 10 | (mant >> 13), rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++;  /* may carry into the exponent: correct */
    return (uint16_t)half;
}

float bb_fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, x;
    if (exp == 0) {
        if (!mant) x = sign;
        else {
            int e = -1;
            do { mant <<= 1; e++; } while (!(mant & 0x400));
            x = sign | (uint32_t)(127 - 15 - e) << 23 | (mant & 0x3ff) << 13;
        }
    } else if (exp == 31) {
        x = sign | 0x7f800000 | mant << 13;
    } else {
        x = sign | (exp + 127 - 15) << 23 | mant << 13;
    }
    float f;
    memcpy(&f, &x, 4);
    return f;
}

uint16_t bb_fp32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 0x40);  /* quiet NaN */
    x += 0x7fff + ((x >> 16) & 1);                                              /* nearest even */
    return (uint16_t)(x >> 16);
}

float bb_bf16_to_fp32(uint16_t h) {
    uint32_t x = (uint32_t)h << 16;
    float f;
    memcpy(&f, &x, 4);
    return f;
}

/* ---- weights ---------------------------------------------------------------------- */

static void fake_weights_fp32(float *wq, const float *w, int OC, int C, const bb_prec_opts *o) {
    (void)o;
    if (wq != w) memcpy(wq, w, (size_t)OC * C * sizeof *w);
}

static void fake_weights_fp16(float *wq, const float *w, int OC, int C, const bb_prec_opts *o) {
    (void)o;
    for (size_t i = 0; i < (size_t)OC * C; i++) wq[i] = bb_fp16_to_fp32(bb_fp32_to_fp16(w[i]));
}

static void fake_weights_bf16(float *wq, const float *w, int OC, int C, const bb_prec_opts *o) {
    (void)o;
    for (size_t i = 0; i < (size_t)OC * C; i++) wq[i] = bb_bf16_to_fp32(bb_fp32_to_bf16(w[i]));
}

static void fake_weights_int8(float *wq, const float *w, int OC, int C, const bb_prec_opts *o) {
    (void)o;
    for (int r = 0; r < OC; r++) {
        const float *row = w + (size_t)r * C;
        float amax = 0.0f;
        for (int c = 0; c < C; c++) amax = fmaxf(amax, fabsf(row[c]));
        float s = amax / 127.0f, inv = s > 0 ? 1.0f / s : 0.0f;
        for (int c = 0; c < C; c++) {
            float q = fminf(127.0f, fmaxf(-127.0f, roundf(row[c] * inv)));
            wq[(size_t)r * C + c] = q * s;
        }
    }
}

static void fake_weights_int4(float *wq, const float *w, int OC, int C, const bb_prec_opts *o) {
    int G = o->group;
    for (int r = 0; r < OC; r++)
        for (int g0 = 0; g0 < C; g0 += G) {
            int n = C - g0 < G ? C - g0 : G;
            const float *x = w + (size_t)r * C + g0;
            float amax = 0.0f;
            for (int c = 0; c < n; c++) amax = fmaxf(amax, fabsf(x[c]));
            float s = fmaxf(amax / 7.5f, 1e-9f), inv = 1.0f / s;
            for (int c = 0; c < n; c++) {
                float q = fminf(7.0f, fmaxf(-8.0f, roundf(x[c] * inv)));
                wq[(size_t)r * C + g0 + c] = q * s;
            }
        }
}

static void fake_weights_b158(float *wq, const float *w, int OC, int C, const bb_prec_opts *o) {
    (void)o;
    size_t n = (size_t)OC * C;
    float g = fmaxf((float)(bb_abssum_lanes8(w, n) / (double)n), 1e-5f), inv = 1.0f / g;
    for (size_t i = 0; i < n; i++) wq[i] = fminf(1.0f, fmaxf(-1.0f, roundf(w[i] * inv))) * g;
}

/* ---- activations ------------------------------------------------------------------ */

float bb_quant_row_int8(int8_t *q, const float *x, int C) {
    float amax = 0.0f;
    for (int c = 0; c < C; c++) amax = fmaxf(amax, fabsf(x[c]));
    float s = fmaxf(amax, 1e-5f) / 127.0f, inv = 127.0f / fmaxf(amax, 1e-5f);
    for (int c = 0; c < C; c++) q[c] = (int8_t)fminf(127.0f, fmaxf(-128.0f, roundf(x[c] * inv)));
    return s;
}

static void fake_row_int8(float *x, int C) {
    float amax = 0.0f;
    for (int c = 0; c < C; c++) amax = fmaxf(amax, fabsf(x[c]));
    float s = fmaxf(amax, 1e-5f) / 127.0f, inv = 127.0f / fmaxf(amax, 1e-5f);
    for (int c = 0; c < C; c++) x[c] = fminf(127.0f, fmaxf(-128.0f, roundf(x[c] * inv))) * s;
}

void bb_fake_acts(float *x, int N, int C, bb_act_quant mode, int block) {
    size_t n = (size_t)N * C;
    switch (mode) {
    case BB_ACTQ_NONE: break;
    case BB_ACTQ_FP16:
        for (size_t i = 0; i < n; i++) x[i] = bb_fp16_to_fp32(bb_fp32_to_fp16(x[i]));
        break;
    case BB_ACTQ_BF16:
        for (size_t i = 0; i < n; i++) x[i] = bb_bf16_to_fp32(bb_fp32_to_bf16(x[i]));
        break;
    case BB_ACTQ_INT8_TOKEN:
        for (int r = 0; r < N; r++) fake_row_int8(x + (size_t)r * C, C);
        break;
    case BB_ACTQ_INT8_BLOCK:
        for (int r = 0; r < N; r++)
            for (int c0 = 0; c0 < C; c0 += block) fake_row_int8(x + (size_t)r * C + c0, C - c0 < block ? C - c0 : block);
        break;
    }
}

/* ---- the table -------------------------------------------------------------------- */

#define BB_PACKED_FNS(p)                                                                                 \
    bb_##p##_packed_size, bb_##p##_pack_ref, bb_##p##_pack, bb_##p##_unpack, bb_##p##_forward, bb_##p##_forward_ref
#define BB_BACKWARD_FNS(p) .backward_input = bb_##p##_backward_input, .backward_input_ref = bb_##p##_backward_input_ref

const bb_precision_traits bb_precisions[BB_PREC_COUNT] = {
    [BB_PREC_FP32] = {BB_PREC_FP32, "fp32", "IEEE single", "IEEE single", BB_ACTQ_NONE, false, false, 32.0,
                      fake_weights_fp32, BB_PACKED_FNS(fp32), BB_BACKWARD_FNS(fp32)},
    [BB_PREC_FP16] = {BB_PREC_FP16, "fp16", "IEEE half copies of FP32 masters", "IEEE half", BB_ACTQ_FP16, false,
                      true, 16.0, fake_weights_fp16, BB_PACKED_FNS(fp16), BB_BACKWARD_FNS(fp16)},
    [BB_PREC_BF16] = {BB_PREC_BF16, "bf16", "bfloat16 copies of FP32 masters", "bfloat16", BB_ACTQ_BF16, false, false,
                      16.0, fake_weights_bf16, BB_PACKED_FNS(bf16), BB_BACKWARD_FNS(bf16)},
    [BB_PREC_INT8] = {BB_PREC_INT8, "int8", "int8, per-output-channel absmax scale", "int8, per-token absmax",
                      BB_ACTQ_INT8_TOKEN, false, false, 8.0, fake_weights_int8, BB_PACKED_FNS(int8), BB_BACKWARD_FNS(int8)},
    [BB_PREC_INT4] = {BB_PREC_INT4, "int4", "int4 symmetric, group 32/64/128, fp32 group scales",
                      "int8, per-token (or per-block) absmax", BB_ACTQ_INT8_TOKEN, false, false, 5.0,
                      fake_weights_int4, BB_PACKED_FNS(int4), BB_BACKWARD_FNS(int4)},
    [BB_PREC_B158] = {BB_PREC_B158, "b158", "ternary {-1,0,1}, per-tensor absmean scale (2-bit packed)",
                      "int8, per-token absmax", BB_ACTQ_INT8_TOKEN, true, false, 2.0, fake_weights_b158,
                      BB_PACKED_FNS(b158), bb_b158_storage_size, bb_b158_storage_pack, bb_b158_storage_unpack,
                      bb_b158_storage_to_packed, BB_BACKWARD_FNS(b158)},
    [BB_PREC_NF4] = {BB_PREC_NF4, "nf4", "NF4 (QLoRA NormalFloat4), blocks of 64, absmax double-quantized (8-bit, blocks of 256)",
                     "IEEE single (not quantized)", BB_ACTQ_NONE, false, false, 4.127, bb_nf4_fake_weights,
                     BB_PACKED_FNS(nf4), BB_BACKWARD_FNS(nf4), .base_only = true},
};

const bb_precision_traits *bb_precision_get(bb_precision p) { return &bb_precisions[p]; }

int bb_precision_parse(const char *name) {
    for (int i = 0; i < BB_PREC_COUNT; i++)
        if (strcmp(name, bb_precisions[i].name) == 0) return i;
    return -1;
}

bb_prec_opts bb_prec_default_opts(bb_precision p) {
    bb_prec_opts o = {.group = 32, .act = bb_precisions[p].default_act};
    return o;
}

const char *bb_prec_opts_error(bb_precision p, const bb_prec_opts *o) {
    if (p == BB_PREC_INT4) {
        if (o->group != 32 && o->group != 64 && o->group != 128) return "the int4 group size must be 32, 64 or 128";
        if (o->act != BB_ACTQ_INT8_TOKEN && o->act != BB_ACTQ_INT8_BLOCK)
            return "int4 activations must be int8 per token or per block of the group size";
        return NULL;
    }
    if (p == BB_PREC_NF4 && o->act != BB_ACTQ_NONE)
        return "nf4 takes FP32 activations (QLoRA's compute dtype): no activation quantization";
    if (o->act != bb_precisions[p].default_act) return "this precision supports only its own activation format";
    return NULL;
}
