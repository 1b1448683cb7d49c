/* nf4.c — NF4, QLoRA's 4-bit NormalFloat (Dettmers et al. 2023; bitsandbytes, specs §3.2),
 * as a base-only format (precision.h): frozen base weights under LoRA, FP32 activations
 * (the compute dtype; activations are not quantized). Compiled once per ISA (formats.h);
 * the BB_ISA_LEVEL 0 copy holds the format, the references and the dispatch.
 *
 * Quantization (the `_ref` functions, and fake_weights = quantize -> dequantize):
 *   blocks of 64 consecutive inputs of a row (bnb's default 4-bit blocksize; bnb's blocks
 *   are 64 consecutive elements of the flattened tensor, the same blocks when C % 64 == 0;
 *   ours end at the row end, so the last block of a ragged row is short);
 *   a = max|w| over the block (fp32), inv = 1/a (0 when a == 0: all codes 7, value 0);
 *   code = number of NF4 midpoints m_i = (v_i + v_{i+1}) / 2 below w * inv, i.e. the nearest
 *   of the 16 NF4 values v (bb_nf4_values, the spec's table; a value exactly on a midpoint
 *   takes the lower code, as the first index of the default backend's argmin would for an
 *   exact tie; the float argmin can decide such ties either way, tests/ref/nf4_ref.py).
 *   bnb clamps w * inv to [-1, 1] first; that cannot change the nearest code, so it is left
 *   out. value = v[code] * a'.
 *   Without double quantization a' = a (fp32 constants: (64 x 4 + 32) bits per 64 weights =
 *   4.5 bits/weight).
 *   With it (QLoRA's default, bnb compress_statistics / bnb_4bit_use_double_quant):
 *     offset = mean of all a of the matrix (summed in double, rounded to fp32; torch sums
 *              in fp32, which may differ in the last bit);
 *     the a - offset (fp32) in blocks of 256 (in row-major (row, block) order, bnb's
 *     order of the absmax tensor): a2 = max|a - offset| (fp32), q = the index of the nearest
 *     value (first on ties, bnb default backend's argmin) of the 256-value signed dynamic
 *     map (bnb create_dynamic_map, bb_nf4_dq_code) to clamp((a - offset) * (1/a2), -1, 1);
 *     a' = dyn[q] * a2 + offset (fp32 multiply, then add: bnb dequantize_blockwise + offset).
 *     8 + 32/256 bits per 64 weights: 4 + 8/64 + 32/(64*256) = 4.127 bits/weight.
 *
 * Packed format (sizes from nf4_layout_of; the buffer is 64-byte aligned):
 *   codes  P = ceil(OC/16) panels x nb = ceil(C/64) bb_block_nf4x64 (blocks.h), block b of
 *          panel p = 8 chunks of 64 bytes; chunk j: the 32-bit lane of row r holds the codes
 *          of inputs 64b + 8j + k (k = 0..7) in nibble k (bits 4k..4k+3: the even input in
 *          the low nibble of a byte; bnb puts the first of a pair in the high nibble, but
 *          vpermps wants nibble k at the bottom after a shift by 4k). Code 7 (0.0) past C and
 *          past OC. These are P*nb*512 bytes: OC*C/2 when OC % 16 == 0 and C % 64 == 0.
 *   then, without double quantization: float a[OC][nb];
 *         with it: float offset; float a2[ceil(OC*nb/256)]; uint8_t q[OC][nb].
 *
 * Kernels (forward: y = x @ unpack(W)^T; every path: acc = fmaf(x[c], v[code] * a', acc) in
 * input order from 0, then out = acc or out + acc, so all give the same bits):
 *   avx512: a chunk load gives the codes of 8 inputs of 16 rows; vpermps with the 16-entry
 *     NF4 table in a register decodes one input of the 16 rows, times the 16 rows' a', FMA
 *     with the activation broadcast per token; tile 8 tokens x 2 panels.
 *   avx2: two 8-entry vpermps and a blend on the code's bit 3; 4 tokens x 1 panel.
 *   scalar: plain C.
 * backward_input: dx (+)= dy @ unpack(W): tiles of up to 256 rows x 1 MiB of W are
 * dequantized (the same decode, transposed) into a buffer and multiplied by OpenBLAS sgemm;
 * the whole matrix is never dequantized. */
#include "../common/parallel.h"
#include "blocks.h"
#include "formats.h"
#include "gemm.h"
#include "tiles.h"
#include <math.h>
#include <string.h>

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define FN(name) CAT(name, BB_ISA_SUFFIX)

typedef struct {
    int OC, C, P, nb;  /* panels of 16 rows, 64-input blocks per row */
    bool dq;           /* double quantization of the absmax constants */
    size_t nconst;     /* OC * nb block constants, row-major */
    size_t n2;         /* second-level blocks of 256 constants */
    size_t consts;     /* byte offset of the constants: after the codes */
    size_t total;
} nf4_layout;

static inline nf4_layout nf4_layout_of(int OC, int C, const bb_prec_opts *o) {
    nf4_layout l = {OC, C, bb_panels(OC), (C + BB_NF4_BLOCK - 1) / BB_NF4_BLOCK, !o->nf4_no_double_quant, 0, 0, 0, 0};
    l.nconst = (size_t)OC * l.nb;
    l.n2 = (l.nconst + 255) / 256;
    l.consts = (size_t)l.P * l.nb * sizeof(bb_block_nf4x64);
    l.total = l.consts + (l.dq ? sizeof(float) * (1 + l.n2) + l.nconst : sizeof(float) * l.nconst);
    return l;
}

static inline const bb_block_nf4x64 *nf4_block(const void *pk, const nf4_layout *l, int p, int b) {
    return (const bb_block_nf4x64 *)pk + (size_t)p * l->nb + b;
}

/* a' of block idx = row * nb + block (dyn: bb_nf4_dq_code(), used only with dq). */
static inline float nf4_absmax(const void *pk, const nf4_layout *l, const float *dyn, size_t idx) {
    const uint8_t *c = (const uint8_t *)pk + l->consts;
    const float *f = (const float *)c;
    if (!l->dq) return f[idx];
    return dyn[c[sizeof(float) * (1 + l->n2) + idx]] * f[1 + idx / 256] + f[0];
}

/* The a' of the 16 rows of panel p in block b; 0 for rows past OC. */
static inline void nf4_scales16(const void *pk, const nf4_layout *l, const float *dyn, int p, int b, float *s) {
    for (int i = 0; i < BB_PANEL; i++) {
        int o = BB_PANEL * p + i;
        s[i] = o < l->OC ? nf4_absmax(pk, l, dyn, (size_t)o * l->nb + b) : 0.0f;
    }
}

/* specs §3.2 table (bitsandbytes get_4bit_type("nf4"), create_normal_map(0.9677083) in fp32) */
#define NF4_V0 -1.0f
#define NF4_V1 -0.6961928009986877f
#define NF4_V2 -0.5250730514526367f
#define NF4_V3 -0.39491748809814453f
#define NF4_V4 -0.28444138169288635f
#define NF4_V5 -0.18477343022823334f
#define NF4_V6 -0.09105003625154495f
#define NF4_V7 0.0f
#define NF4_V8 0.07958029955625534f
#define NF4_V9 0.16093020141124725f
#define NF4_V10 0.24611230194568634f
#define NF4_V11 0.33791524171829224f
#define NF4_V12 0.44070982933044434f
#define NF4_V13 0.5626170039176941f
#define NF4_V14 0.7229568362236023f
#define NF4_V15 1.0f
#define NF4_MID(a, b) (0.5f * (NF4_V##a + NF4_V##b)) /* fp32 sum, exact halving */

/* The per-ISA helpers of this file (kernels at the end). */
typedef struct {
    /* q[i] = NF4 code of x[i] * inv for i < n (bb_nf4_code_ref of every element) */
    void (*codes)(uint8_t *q, const float *x, int n, float inv);
    /* bt[c * ldb + 16 (p - p0) + r] = unpack(W)[16p + r][64 b0 + c] for panels p0..p0+np-1 and
     * blocks b0..b0+nbk-1, c < 64 nbk (0 past OC and past C) */
    void (*dequant_t)(float *bt, size_t ldb, const void *pk, const nf4_layout *l, int p0, int np, int b0, int nbk);
} nf4_helpers;

/* ---- format and references (one copy) ---------------------------------------------- */
#if BB_ISA_LEVEL == 0
#include "../common/check.h"
#include "../engine/alloc.h"
#include "../engine/cpu/isa.h"
#include <cblas.h>
#include <pthread.h>

const float bb_nf4_values[16] = {NF4_V0, NF4_V1, NF4_V2,  NF4_V3,  NF4_V4,  NF4_V5,  NF4_V6,  NF4_V7,
                                 NF4_V8, NF4_V9, NF4_V10, NF4_V11, NF4_V12, NF4_V13, NF4_V14, NF4_V15};
static const float nf4_mid[15] = {NF4_MID(0, 1),   NF4_MID(1, 2),   NF4_MID(2, 3),   NF4_MID(3, 4),  NF4_MID(4, 5),
                                  NF4_MID(5, 6),   NF4_MID(6, 7),   NF4_MID(7, 8),   NF4_MID(8, 9),  NF4_MID(9, 10),
                                  NF4_MID(10, 11), NF4_MID(11, 12), NF4_MID(12, 13), NF4_MID(13, 14), NF4_MID(14, 15)};
const float *bb_nf4_midpoints(void) { return nf4_mid; }

const char bb_nf4_layout_doc[] =
    "per (OC, C) matrix, nb = ceil(C/64) blocks of 64 inputs per row, P = ceil(OC/16) panels: "
    "codes P x nb x 512 bytes (block b of panel p: 8 chunks of 64 bytes; in chunk j the 4 bytes of row r "
    "(at byte 4r) hold the 4-bit codes of inputs 64b+8j+k, k=0..7, in nibble k = bits 4k..4k+3 of the "
    "little-endian uint32, i.e. the even input in the low nibble; code 7 (0.0) past OC and C); then, "
    "with nf4_double_quant true: float32 offset, float32 absmax2[ceil(OC*nb/256)], uint8 qabsmax[OC*nb] "
    "(row-major), absmax(r,b) = dyn[qabsmax] * absmax2[(r*nb+b)/256] + offset with dyn = bitsandbytes "
    "create_dynamic_map(signed=True); with false: float32 absmax[OC*nb] (row-major); "
    "weight = nf4_code[code] * absmax(r, c/64)";

int bb_nf4_code_ref(float s) {
    int q = 0;
    while (q < 15 && s > nf4_mid[q]) q++;
    return q;
}

/* bitsandbytes create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8), the
 * 8-bit code of double quantization: for i = 0..6, the 2^i means of adjacent points of
 * linspace(0.1, 1, 2^i + 1), times +-10^(i-6); plus 0 and 1; sorted (127 negative values
 * down to -0.99297, 0, 128 positive up to 1). fp32 throughout, linspace as torch's scalar
 * formula (start + step k below n/2, end - step (n-1-k) from there). torch's own linspace
 * differs in the last bits (8-wide vectors whose base is computed in double), so the map
 * bnb builds at run time depends on the torch build: torch 1.13 here gives 44 entries 1-2
 * ulps away from these (tests/ref/nf4_ref.py measures it), i.e. a dequantized absmax within
 * ~2.4e-7 relative of bnb's. */
static float dq_code[256];
static pthread_once_t dq_once = PTHREAD_ONCE_INIT;

static void dq_code_init(void) {
    static const float scale[7] = {1e-6f, 1e-5f, 1e-4f, 1e-3f, 1e-2f, 1e-1f, 1.0f};
    float pos[127];
    int n = 0;
    for (int i = 0; i < 7; i++) {
        int pts = (1 << i) + 1;
        float start = 0.1f, end = 1.0f, step = (end - start) / (float)(pts - 1), b[65];
        for (int k = 0; k < pts; k++) b[k] = k < pts / 2 ? start + step * (float)k : end - step * (float)(pts - 1 - k);
        for (int k = 0; k + 1 < pts; k++) pos[n++] = scale[i] * ((b[k] + b[k + 1]) / 2.0f);
    }
    /* each decade lies inside (10^(i-7), 10^(i-6)): pos is already ascending */
    for (int k = 0; k < 127; k++) dq_code[k] = -pos[126 - k];
    dq_code[127] = 0.0f;
    for (int k = 0; k < 127; k++) dq_code[128 + k] = pos[k];
    dq_code[255] = 1.0f;
}

const float *bb_nf4_dq_code(void) {
    pthread_once(&dq_once, dq_code_init);
    return dq_code;
}

/* Index of the value of the dynamic map nearest to s, the first on a tie (as torch.argmin
 * of |s - code| in bnb's default backend): the map is sorted, so the candidates are the
 * last value <= s and the next one. */
int bb_nf4_dq_nearest(float s) {
    const float *d = bb_nf4_dq_code();
    if (!(s >= d[0])) return 0;
    int lo = 0, hi = 255;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (d[mid] <= s) lo = mid;
        else hi = mid - 1;
    }
    return lo < 255 && fabsf(s - d[lo + 1]) < fabsf(s - d[lo]) ? lo + 1 : lo;
}

/* Double quantization of the n block absmax values a (specs §3.2). */
static void nf4_double_quant(const float *a, size_t n, float *offset, float *a2, uint8_t *q) {
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += a[i];
    float off = n ? (float)(sum / (double)n) : 0.0f;
    for (size_t k0 = 0; k0 < n; k0 += 256) {
        size_t k1 = n - k0 < 256 ? n : k0 + 256;
        float m = 0.0f;
        for (size_t i = k0; i < k1; i++) m = fmaxf(m, fabsf(a[i] - off));
        float inv = m > 0 ? 1.0f / m : 0.0f;
        for (size_t i = k0; i < k1; i++) q[i] = (uint8_t)bb_nf4_dq_nearest(fminf(1.0f, fmaxf(-1.0f, (a[i] - off) * inv)));
        a2[k0 / 256] = m;
    }
    *offset = off;
}

size_t bb_nf4_packed_size(int OC, int C, const bb_prec_opts *o) { return nf4_layout_of(OC, C, o).total; }

/* Byte and shift of the code of (row o, input c). */
static inline uint8_t *nf4_byte(void *pk, const nf4_layout *l, int o, int c, int *shift) {
    bb_block_nf4x64 *b = (bb_block_nf4x64 *)pk + (size_t)(o / BB_PANEL) * l->nb + c / BB_NF4_BLOCK;
    int k = c % 8;
    *shift = 4 * (k & 1);
    return &b->chunk[(c % BB_NF4_BLOCK) / 8].qs[o % BB_PANEL][k / 2];
}
static inline int nf4_code(const void *pk, const nf4_layout *l, int o, int c) {
    int sh;
    return (*nf4_byte((void *)pk, l, o, c, &sh) >> sh) & 15;
}

static float block_absmax(const float *x, int n) {
    float a = 0.0f;
    for (int c = 0; c < n; c++) a = fmaxf(a, fabsf(x[c]));
    return a;
}

static void pack_begin(void *packed, const nf4_layout *l) {
    memset(packed, 0x77, l->consts); /* code 7 (0.0) in every nibble */
    memset((char *)packed + l->consts, 0, l->total - l->consts);
}

/* The constants section from the block absmax values a (row-major, nconst). */
static void write_constants(void *packed, const nf4_layout *l, const float *a) {
    uint8_t *c = (uint8_t *)packed + l->consts;
    float *f = (float *)c;
    if (!l->dq) {
        memcpy(f, a, l->nconst * sizeof(float));
        return;
    }
    nf4_double_quant(a, l->nconst, &f[0], &f[1], c + sizeof(float) * (1 + l->n2));
}

static void pack_row_ref(void *pk, const nf4_layout *l, const float *w, int o, float *amax) {
    for (int b = 0; b < l->nb; b++) {
        int c0 = b * BB_NF4_BLOCK, n = l->C - c0 < BB_NF4_BLOCK ? l->C - c0 : BB_NF4_BLOCK;
        const float *x = w + (size_t)o * l->C + c0;
        float a = block_absmax(x, n), inv = a > 0 ? 1.0f / a : 0.0f;
        for (int c = 0; c < n; c++) {
            int sh;
            uint8_t *byte = nf4_byte(pk, l, o, c0 + c, &sh);
            *byte = (uint8_t)((*byte & ~(15u << sh)) | (unsigned)bb_nf4_code_ref(x[c] * inv) << sh);
        }
        amax[(size_t)o * l->nb + b] = a;
    }
}

void bb_nf4_pack_ref(void *packed, const float *w, int OC, int C, const bb_prec_opts *o) {
    nf4_layout l = nf4_layout_of(OC, C, o);
    float *amax = bb_alloc(BB_MEM_WORKSPACE, (l.nconst + 1) * sizeof(float));
    pack_begin(packed, &l);
    for (int r = 0; r < OC; r++) pack_row_ref(packed, &l, w, r, amax);
    write_constants(packed, &l, amax);
    bb_free(amax);
}

extern const nf4_helpers bb_nf4_helpers_scalar, bb_nf4_helpers_avx2, bb_nf4_helpers_avx512;
static const nf4_helpers *nf4_helpers_active(void) {
    static const nf4_helpers *const by_isa[BB_ISA_COUNT] = {&bb_nf4_helpers_scalar, &bb_nf4_helpers_avx2,
                                                            &bb_nf4_helpers_avx512};
    return by_isa[bb_isa_active()];
}

/* One row with the ISA's code kernel; the nibbles of a chunk are assembled in registers. */
static void pack_row(void *pk, const nf4_layout *l, const nf4_helpers *h, const float *w, int o, float *amax) {
    const bb_eltwise_kernels *k = bb_eltwise();
    uint8_t q[BB_NF4_BLOCK];
    for (int b = 0; b < l->nb; b++) {
        int c0 = b * BB_NF4_BLOCK, n = l->C - c0 < BB_NF4_BLOCK ? l->C - c0 : BB_NF4_BLOCK;
        const float *x = w + (size_t)o * l->C + c0;
        float a = k->absmax(x, (size_t)n), inv = a > 0 ? 1.0f / a : 0.0f;
        memset(q, 7, sizeof q);
        h->codes(q, x, n, inv);
        bb_block_nf4x64 *blk = (bb_block_nf4x64 *)pk + (size_t)(o / BB_PANEL) * l->nb + b;
        for (int j = 0; j < BB_NF4_BLOCK / 8; j++)
            for (int m = 0; m < 4; m++)
                blk->chunk[j].qs[o % BB_PANEL][m] = (uint8_t)(q[8 * j + 2 * m] | q[8 * j + 2 * m + 1] << 4);
        amax[(size_t)o * l->nb + b] = a;
    }
}

void bb_nf4_pack(void *packed, const float *w, int OC, int C, const bb_prec_opts *o) {
    nf4_layout l = nf4_layout_of(OC, C, o);
    const nf4_helpers *h = nf4_helpers_active();
    float *amax = bb_alloc(BB_MEM_WORKSPACE, (l.nconst + 1) * sizeof(float));
    pack_begin(packed, &l);
#pragma omp parallel for schedule(static) if ((size_t)OC * C >= BB_PAR_MIN_WORK)
    for (int r = 0; r < OC; r++) pack_row(packed, &l, h, w, r, amax);
    write_constants(packed, &l, amax);
    bb_free(amax);
}

float bb_nf4_block_scale(const void *packed, int OC, int C, const bb_prec_opts *o, int row, int block) {
    nf4_layout l = nf4_layout_of(OC, C, o);
    return nf4_absmax(packed, &l, l.dq ? bb_nf4_dq_code() : NULL, (size_t)row * l.nb + block);
}

int bb_nf4_code_at(const void *packed, int OC, int C, const bb_prec_opts *o, int row, int col) {
    nf4_layout l = nf4_layout_of(OC, C, o);
    return nf4_code(packed, &l, row, col);
}

static inline float nf4_value(const void *pk, const nf4_layout *l, const float *dyn, int o, int c) {
    return bb_nf4_values[nf4_code(pk, l, o, c)] * nf4_absmax(pk, l, dyn, (size_t)o * l->nb + c / BB_NF4_BLOCK);
}

void bb_nf4_unpack(float *w, const void *packed, int OC, int C, const bb_prec_opts *o) {
    nf4_layout l = nf4_layout_of(OC, C, o);
    const float *dyn = l.dq ? bb_nf4_dq_code() : NULL;
    for (int r = 0; r < OC; r++)
        for (int c = 0; c < C; c++) w[(size_t)r * C + c] = nf4_value(packed, &l, dyn, r, c);
}

/* Quantize -> dequantize straight from the description above, sharing nothing with the
 * packed layout (so unpack(pack(W)) == fake_weights(W) tests the layout). wq may equal w. */
void bb_nf4_fake_weights(float *wq, const float *w, int OC, int C, const bb_prec_opts *o) {
    int nb = (C + BB_NF4_BLOCK - 1) / BB_NF4_BLOCK;
    size_t n = (size_t)OC * nb;
    float *a = bb_alloc(BB_MEM_WORKSPACE, (n + 1) * sizeof(float));
    uint8_t *codes = bb_alloc(BB_MEM_WORKSPACE, (size_t)OC * C + 1);
    for (int r = 0; r < OC; r++)
        for (int b = 0; b < nb; b++) {
            const float *x = w + (size_t)r * C + b * BB_NF4_BLOCK;
            int len = C - b * BB_NF4_BLOCK < BB_NF4_BLOCK ? C - b * BB_NF4_BLOCK : BB_NF4_BLOCK;
            float amax = block_absmax(x, len), inv = amax > 0 ? 1.0f / amax : 0.0f;
            for (int c = 0; c < len; c++) codes[(size_t)r * C + b * BB_NF4_BLOCK + c] = (uint8_t)bb_nf4_code_ref(x[c] * inv);
            a[(size_t)r * nb + b] = amax;
        }
    if (!o->nf4_no_double_quant) {
        size_t n2 = (n + 255) / 256;
        float off, *a2 = bb_alloc(BB_MEM_WORKSPACE, (n2 + 1) * sizeof(float));
        uint8_t *q = bb_alloc(BB_MEM_WORKSPACE, n + 1);
        const float *dyn = bb_nf4_dq_code();
        nf4_double_quant(a, n, &off, a2, q);
        for (size_t i = 0; i < n; i++) a[i] = dyn[q[i]] * a2[i / 256] + off;
        bb_free(a2);
        bb_free(q);
    }
    for (int r = 0; r < OC; r++)
        for (int c = 0; c < C; c++)
            wq[(size_t)r * C + c] = bb_nf4_values[codes[(size_t)r * C + c]] * a[(size_t)r * nb + c / BB_NF4_BLOCK];
    bb_free(a);
    bb_free(codes);
}

void bb_nf4_forward_ref(float *out, const float *x, const void *packed, int N, int C, int OC, const bb_prec_opts *o,
                        int accumulate) {
    nf4_layout l = nf4_layout_of(OC, C, o);
    const float *dyn = l.dq ? bb_nf4_dq_code() : NULL;
    for (int n = 0; n < N; n++)
        for (int r = 0; r < OC; r++) {
            float acc = 0.0f;
            for (int c = 0; c < C; c++) acc = fmaf(x[(size_t)n * C + c], nf4_value(packed, &l, dyn, r, c), acc);
            float *dst = out + (size_t)n * OC + r;
            *dst = accumulate ? *dst + acc : acc;
        }
}

extern const bb_gemm_kernels bb_nf4_kernels_scalar, bb_nf4_kernels_avx2, bb_nf4_kernels_avx512;
static const bb_gemm_kernels *const nf4_kernels[BB_ISA_COUNT] = {&bb_nf4_kernels_scalar, &bb_nf4_kernels_avx2,
                                                                 &bb_nf4_kernels_avx512};

const bb_gemm_kernels *bb_nf4_kernels(void) { return bb_gemm_pick(nf4_kernels, 0, 0); }

void bb_nf4_forward(float *out, const float *x, const void *packed, int N, int C, int OC, const bb_prec_opts *o,
                    int accumulate) {
    BB_CHECK(bb_prec_opts_error(BB_PREC_NF4, o) == NULL);
    bb_gemm_run(bb_nf4_kernels(), out, x, packed, N, C, OC, o, accumulate);
}

void bb_nf4_backward_input_ref(float *dx, const float *dy, const void *packed, int N, int C, int OC,
                               const bb_prec_opts *o, int accumulate) {
    nf4_layout l = nf4_layout_of(OC, C, o);
    const float *dyn = l.dq ? bb_nf4_dq_code() : NULL;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            float acc = 0.0f;
            for (int r = 0; r < OC; r++) acc = fmaf(dy[(size_t)n * OC + r], nf4_value(packed, &l, dyn, r, c), acc);
            float *dst = dx + (size_t)n * C + c;
            *dst = accumulate ? *dst + acc : acc;
        }
}

#define BWD_ROWS 256              /* rows of W per tile: sgemm's K (multiple of 16) */
#define BWD_FLOATS (256 * 1024)   /* floats of a dequantized tile (1 MiB) */

void bb_nf4_backward_input(float *dx, const float *dy, const void *packed, int N, int C, int OC,
                           const bb_prec_opts *o, int accumulate) {
    if (N <= 0 || C <= 0) return;
    nf4_layout l = nf4_layout_of(OC, C, o);
    if (OC <= 0) {
        if (!accumulate) memset(dx, 0, (size_t)N * C * sizeof(float));
        return;
    }
    const nf4_helpers *h = nf4_helpers_active();
    int R = BB_PANEL * l.P < BWD_ROWS ? BB_PANEL * l.P : BWD_ROWS;
    int nbk = BWD_FLOATS / R / BB_NF4_BLOCK;
    if (nbk > l.nb) nbk = l.nb;
    int Cb = nbk * BB_NF4_BLOCK;
    float *bt = bb_alloc(BB_MEM_WORKSPACE, (size_t)Cb * R * sizeof(float));
    for (int r0 = 0; r0 < OC; r0 += R) {
        int rows = OC - r0 < R ? OC - r0 : R, np = (rows + BB_PANEL - 1) / BB_PANEL;
        for (int c0 = 0; c0 < C; c0 += Cb) {
            int cols = C - c0 < Cb ? C - c0 : Cb, nbc = (cols + BB_NF4_BLOCK - 1) / BB_NF4_BLOCK;
            h->dequant_t(bt, (size_t)R, packed, &l, r0 / BB_PANEL, np, c0 / BB_NF4_BLOCK, nbc);
            /* dx[:, c0:c0+cols] (+)= dy[:, r0:r0+rows] @ W[r0:r0+rows, c0:c0+cols], W tile = bt^T */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, cols, rows, 1.0f, dy + r0, OC, bt, R,
                        r0 == 0 && !accumulate ? 0.0f : 1.0f, dx + c0, C);
        }
    }
    bb_free(bt);
}
#endif

/* ---- kernels of this ISA ------------------------------------------------------------- */

#if BB_ISA_LEVEL == 2
#define MR 8
#define NV 2
#else
#define MR 4
#define NV 1
#endif

static bb_gemm_geom nf4_geometry(int C, const bb_prec_opts *o) {
    (void)C, (void)o;
    return (bb_gemm_geom){.elem = 4, .cpad = 1, .nscale = 0, .nsum = 0};
}

/* FP32 activations copied into token panels [c][MR] (no quantization). */
static void nf4_act_copy(const bb_gemm_call *g, int n0, int n1) {
    for (int n = n0; n < n1; n++) {
        float *dst = (float *)(g->act + (size_t)(n / MR) * MR * g->lda) + n % MR;
        const float *x = g->x + (size_t)n * g->C;
        for (int c = 0; c < g->C; c++) dst[(size_t)c * MR] = x[c];
    }
}

#if BB_ISA_LEVEL == 2
BB_INLINE void nf4_tile(const bb_gemm_call *g, int n0, int p0, const int mr, const int nv) {
    const nf4_layout l = nf4_layout_of(g->OC, g->C, g->o);
    const float *dyn = l.dq ? bb_nf4_dq_code() : NULL;
    const float *A = (const float *)(g->act + (size_t)n0 * g->lda);
    const __m512 lut = _mm512_loadu_ps(bb_nf4_values), zero = _mm512_setzero_ps();
#define DECL(i) __m512 c##i##0 = zero, c##i##1 = zero;
    BB_REP8(DECL)
#undef DECL
    for (int b = 0; b < l.nb; b++) {
        float sa[2][16];
        nf4_scales16(g->w, &l, dyn, p0, b, sa[0]);
        if (nv > 1) nf4_scales16(g->w, &l, dyn, p0 + 1, b, sa[1]);
        const __m512 s0 = _mm512_loadu_ps(sa[0]), s1 = nv > 1 ? _mm512_loadu_ps(sa[1]) : zero;
        const bb_block_nf4x64 *B0 = nf4_block(g->w, &l, p0, b), *B1 = B0 + l.nb;
        const int c0 = BB_NF4_BLOCK * b, cn = g->C - c0 < BB_NF4_BLOCK ? g->C - c0 : BB_NF4_BLOCK;
        for (int j = 0; 8 * j < cn; j++) {
            __m512i v0 = _mm512_loadu_si512(&B0->chunk[j]), v1 = _mm512_setzero_si512();
            if (nv > 1) v1 = _mm512_loadu_si512(&B1->chunk[j]);
            const float *Aj = A + (size_t)(c0 + 8 * j) * MR;
            const int kn = cn - 8 * j < 8 ? cn - 8 * j : 8;
#define STEP(i)                                                  \
    if (i < mr) {                                                \
        __m512 a = _mm512_set1_ps(Ak[i]);                        \
        c##i##0 = _mm512_fmadd_ps(w0, a, c##i##0);               \
        if (nv > 1) c##i##1 = _mm512_fmadd_ps(w1, a, c##i##1);   \
    }
#define INPUT(k)                                                                   \
    {                                                                              \
        const float *Ak = Aj + (size_t)(k) * MR;                                   \
        __m512 w0 = _mm512_mul_ps(_mm512_permutexvar_ps(v0, lut), s0), w1 = zero;  \
        v0 = _mm512_srli_epi32(v0, 4);                                             \
        if (nv > 1) {                                                              \
            w1 = _mm512_mul_ps(_mm512_permutexvar_ps(v1, lut), s1);                \
            v1 = _mm512_srli_epi32(v1, 4);                                         \
        }                                                                          \
        BB_REP8(STEP)                                                              \
    }
            if (kn == 8) {
                INPUT(0) INPUT(1) INPUT(2) INPUT(3) INPUT(4) INPUT(5) INPUT(6) INPUT(7)
            } else {
                for (int k = 0; k < kn; k++) INPUT(k)
            }
#undef INPUT
#undef STEP
        }
    }
#define EPI(i)                                                    \
    if (i < mr) {                                                 \
        bb_tile_store16(g, n0 + i, p0, c##i##0);                  \
        if (nv > 1) bb_tile_store16(g, n0 + i, p0 + 1, c##i##1);  \
    }
    BB_REP8(EPI)
#undef EPI
}
BB_TILES(nf4_tile, BB_MR8, BB_NV2)

static void nf4_codes(uint8_t *q, const float *x, int n, float inv) {
    /* binary search over the 15 midpoints (padded to 16): 4 vpermps + compares */
    const float *m = bb_nf4_midpoints();
    float mp[16];
    memcpy(mp, m, 15 * sizeof(float));
    mp[15] = INFINITY;
    const __m512 mid = _mm512_loadu_ps(mp), vinv = _mm512_set1_ps(inv);
    for (int i = 0; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 s = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), vinv);
        __m512i idx = _mm512_setzero_si512();
        for (int step = 8; step >= 1; step /= 2) {
            __m512i cand = _mm512_add_epi32(idx, _mm512_set1_epi32(step));
            __m512 t = _mm512_permutexvar_ps(_mm512_sub_epi32(cand, _mm512_set1_epi32(1)), mid);
            idx = _mm512_mask_mov_epi32(idx, _mm512_cmp_ps_mask(s, t, _CMP_GT_OQ), cand);
        }
        _mm512_mask_cvtepi32_storeu_epi8(q + i, k, idx);
    }
}

static void nf4_dequant_t(float *bt, size_t ldb, const void *pk, const nf4_layout *l, int p0, int np, int b0, int nbk) {
    const float *dyn = l->dq ? bb_nf4_dq_code() : NULL;
    const __m512 lut = _mm512_loadu_ps(bb_nf4_values);
#pragma omp parallel for schedule(static) if ((size_t)np * nbk * BB_PANEL * BB_NF4_BLOCK >= BB_PAR_MIN_WORK)
    for (int p = p0; p < p0 + np; p++)
        for (int b = b0; b < b0 + nbk; b++) {
            float sa[16];
            nf4_scales16(pk, l, dyn, p, b, sa);
            const __m512 s = _mm512_loadu_ps(sa);
            const bb_block_nf4x64 *B = nf4_block(pk, l, p, b);
            float *dst = bt + (size_t)(b - b0) * BB_NF4_BLOCK * ldb + (size_t)(p - p0) * BB_PANEL;
            for (int j = 0; j < BB_NF4_BLOCK / 8; j++) {
                __m512i v = _mm512_loadu_si512(&B->chunk[j]);
                for (int k = 0; k < 8; k++, v = _mm512_srli_epi32(v, 4))
                    _mm512_storeu_ps(dst + (size_t)(8 * j + k) * ldb, _mm512_mul_ps(_mm512_permutexvar_ps(v, lut), s));
            }
        }
}

#elif BB_ISA_LEVEL == 1
/* v[code] of the 8 lanes' low nibbles: two 8-entry vpermps, blended on bit 3. */
static inline __m256 nf4_decode8(__m256i v, __m256 lo, __m256 hi) {
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(lo, v), _mm256_permutevar8x32_ps(hi, v),
                            _mm256_castsi256_ps(_mm256_slli_epi32(v, 28)));
}

BB_INLINE void nf4_tile(const bb_gemm_call *g, int n0, int p0, const int mr, const int nv) {
    (void)nv;
    const nf4_layout l = nf4_layout_of(g->OC, g->C, g->o);
    const float *dyn = l.dq ? bb_nf4_dq_code() : NULL;
    const float *A = (const float *)(g->act + (size_t)n0 * g->lda);
    const __m256 lo = _mm256_loadu_ps(bb_nf4_values), hi = _mm256_loadu_ps(bb_nf4_values + 8);
    __m256 acc[MR][2];
#pragma GCC unroll 4
    for (int i = 0; i < mr; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int b = 0; b < l.nb; b++) {
        float sa[16];
        nf4_scales16(g->w, &l, dyn, p0, b, sa);
        const __m256 s0 = _mm256_loadu_ps(sa), s1 = _mm256_loadu_ps(sa + 8);
        const bb_block_nf4x64 *B = nf4_block(g->w, &l, p0, b);
        const int c0 = BB_NF4_BLOCK * b, cn = g->C - c0 < BB_NF4_BLOCK ? g->C - c0 : BB_NF4_BLOCK;
        for (int j = 0; 8 * j < cn; j++) {
            __m256i v0 = _mm256_loadu_si256((const __m256i *)&B->chunk[j].qs[0][0]);
            __m256i v1 = _mm256_loadu_si256((const __m256i *)&B->chunk[j].qs[8][0]);
            const int kn = cn - 8 * j < 8 ? cn - 8 * j : 8;
            for (int k = 0; k < kn; k++) {
                const float *Ak = A + (size_t)(c0 + 8 * j + k) * MR;
                __m256 w0 = _mm256_mul_ps(nf4_decode8(v0, lo, hi), s0), w1 = _mm256_mul_ps(nf4_decode8(v1, lo, hi), s1);
                v0 = _mm256_srli_epi32(v0, 4);
                v1 = _mm256_srli_epi32(v1, 4);
#pragma GCC unroll 4
                for (int i = 0; i < mr; i++) {
                    __m256 a = _mm256_set1_ps(Ak[i]);
                    acc[i][0] = _mm256_fmadd_ps(w0, a, acc[i][0]);
                    acc[i][1] = _mm256_fmadd_ps(w1, a, acc[i][1]);
                }
            }
        }
    }
    for (int i = 0; i < mr; i++) {
        float y[16];
        _mm256_storeu_ps(y, acc[i][0]);
        _mm256_storeu_ps(y + 8, acc[i][1]);
        bb_tile_store16_c(g, n0 + i, p0, y);
    }
}
BB_TILES(nf4_tile, BB_MR4, BB_NV1)

static void nf4_codes(uint8_t *q, const float *x, int n, float inv) {
    /* count of midpoints below s: 15 compares, each mask (-1) subtracted */
    const float *m = bb_nf4_midpoints();
    const __m256 vinv = _mm256_set1_ps(inv);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 s = _mm256_mul_ps(_mm256_loadu_ps(x + i), vinv);
        __m256i cnt = _mm256_setzero_si256();
        for (int t = 0; t < 15; t++)
            cnt = _mm256_sub_epi32(cnt, _mm256_castps_si256(_mm256_cmp_ps(s, _mm256_set1_ps(m[t]), _CMP_GT_OQ)));
        int32_t c[8];
        _mm256_storeu_si256((__m256i *)c, cnt);
        for (int k = 0; k < 8; k++) q[i + k] = (uint8_t)c[k];
    }
    for (; i < n; i++) q[i] = (uint8_t)bb_nf4_code_ref(x[i] * inv);
}

static void nf4_dequant_t(float *bt, size_t ldb, const void *pk, const nf4_layout *l, int p0, int np, int b0, int nbk) {
    const float *dyn = l->dq ? bb_nf4_dq_code() : NULL;
    const __m256 lo = _mm256_loadu_ps(bb_nf4_values), hi = _mm256_loadu_ps(bb_nf4_values + 8);
#pragma omp parallel for schedule(static) if ((size_t)np * nbk * BB_PANEL * BB_NF4_BLOCK >= BB_PAR_MIN_WORK)
    for (int p = p0; p < p0 + np; p++)
        for (int b = b0; b < b0 + nbk; b++) {
            float sa[16];
            nf4_scales16(pk, l, dyn, p, b, sa);
            const __m256 s0 = _mm256_loadu_ps(sa), s1 = _mm256_loadu_ps(sa + 8);
            const bb_block_nf4x64 *B = nf4_block(pk, l, p, b);
            float *dst = bt + (size_t)(b - b0) * BB_NF4_BLOCK * ldb + (size_t)(p - p0) * BB_PANEL;
            for (int j = 0; j < BB_NF4_BLOCK / 8; j++) {
                __m256i v0 = _mm256_loadu_si256((const __m256i *)&B->chunk[j].qs[0][0]);
                __m256i v1 = _mm256_loadu_si256((const __m256i *)&B->chunk[j].qs[8][0]);
                for (int k = 0; k < 8; k++) {
                    float *d = dst + (size_t)(8 * j + k) * ldb;
                    _mm256_storeu_ps(d, _mm256_mul_ps(nf4_decode8(v0, lo, hi), s0));
                    _mm256_storeu_ps(d + 8, _mm256_mul_ps(nf4_decode8(v1, lo, hi), s1));
                    v0 = _mm256_srli_epi32(v0, 4);
                    v1 = _mm256_srli_epi32(v1, 4);
                }
            }
        }
}

#else
static inline int nf4_code_in(const bb_block_nf4x64 *B, int r, int c) {
    return (B->chunk[c / 8].qs[r][(c % 8) / 2] >> (4 * (c & 1))) & 15;
}

BB_INLINE void nf4_tile(const bb_gemm_call *g, int n0, int p0, const int mr, const int nv) {
    (void)nv;
    const nf4_layout l = nf4_layout_of(g->OC, g->C, g->o);
    const float *dyn = l.dq ? bb_nf4_dq_code() : NULL;
    const float *A = (const float *)(g->act + (size_t)n0 * g->lda);
    float acc[MR][16] = {{0}};
    for (int b = 0; b < l.nb; b++) {
        float s[16];
        nf4_scales16(g->w, &l, dyn, p0, b, s);
        const bb_block_nf4x64 *B = nf4_block(g->w, &l, p0, b);
        const int c0 = BB_NF4_BLOCK * b, cn = g->C - c0 < BB_NF4_BLOCK ? g->C - c0 : BB_NF4_BLOCK;
        for (int c = 0; c < cn; c++)
            for (int r = 0; r < 16; r++) {
                float w = bb_nf4_values[nf4_code_in(B, r, c)] * s[r];
                for (int i = 0; i < mr; i++) acc[i][r] = fmaf(A[(size_t)(c0 + c) * MR + i], w, acc[i][r]);
            }
    }
    for (int i = 0; i < mr; i++) bb_tile_store16_c(g, n0 + i, p0, acc[i]);
}
BB_TILES(nf4_tile, BB_MR4, BB_NV1)

static void nf4_codes(uint8_t *q, const float *x, int n, float inv) {
    for (int i = 0; i < n; i++) q[i] = (uint8_t)bb_nf4_code_ref(x[i] * inv);
}

static void nf4_dequant_t(float *bt, size_t ldb, const void *pk, const nf4_layout *l, int p0, int np, int b0, int nbk) {
    const float *dyn = l->dq ? bb_nf4_dq_code() : NULL;
#pragma omp parallel for schedule(static) if ((size_t)np * nbk * BB_PANEL * BB_NF4_BLOCK >= BB_PAR_MIN_WORK)
    for (int p = p0; p < p0 + np; p++)
        for (int b = b0; b < b0 + nbk; b++) {
            float s[16];
            nf4_scales16(pk, l, dyn, p, b, s);
            const bb_block_nf4x64 *B = nf4_block(pk, l, p, b);
            for (int c = 0; c < BB_NF4_BLOCK; c++)
                for (int r = 0; r < 16; r++)
                    bt[(size_t)((b - b0) * BB_NF4_BLOCK + c) * ldb + (size_t)(p - p0) * BB_PANEL + r] =
                        bb_nf4_values[nf4_code_in(B, r, c)] * s[r];
        }
}
#endif

const bb_gemm_kernels FN(bb_nf4_kernels) = {
    .name = BB_ISA_NAME, .mr = MR, .nv = NV, .geometry = nf4_geometry, .act_quant = nf4_act_copy, .tile = nf4_tile_any,
};
const nf4_helpers FN(bb_nf4_helpers) = {.codes = nf4_codes, .dequant_t = nf4_dequant_t};
