/* kernels_packed.c — the forward of every precision of the traits table
 * (precisions/precision.h: traits->forward on its packed weights, activation quantization
 * included; fp32's is OpenBLAS sgemm, or sgemv for one token) as rows of the kernel
 * benchmark table (kernels.h), at the shapes issue #5 sets its targets on:
 *   gemm_forward      the four linears of a `small` block at its training shape
 *                     (engine/config.c: C=384, MLP 4C; N = B*T = 8*256 tokens as
 *                     `bitbench train` runs it): qkv C->3C, attproj C->C, fc C->4C,
 *                     fcproj 4C->C. Kind compute: GFLOP/s vs the in-run sgemm 2048^3.
 *   gemv_forward      one token (N=1) at the Llama-7B linears (engine/config.c llama-7b:
 *                     C=4096, SwiGLU 11008): attn 4096->4096 (q, k, v, o), up 4096->11008
 *                     (gate, up), down 11008->4096. Kind memory: weight GB/s vs the
 *                     in-run STREAM triad.
 *   gemv_forward_ref  the scalar forward_ref of each precision at llama-7b.attn only (a
 *                     scalar GEMM at the small shapes takes ~1 s a call): how much the
 *                     SIMD path buys. Ordinary rows, run when the filter asks; "reference"
 *                     in kernels.h means the in-run ratio bases, which always run.
 * Every row reports both counters: GFLOP/s with 2*N*C*OC operations per call (integer
 * multiply-adds counted like float ones) and the effective weight bandwidth, packed bytes
 * (traits->packed_size) per call over the time; x and out (N*(C+OC) floats, 0.1% of a
 * GEMV's bytes) are not counted. Each non-fp32 row runs next to its fp32 peer (kernels.h),
 * which gives its speed-up over FP32 on the same shape in the same run.
 *
 * Setup (untimed) fills W and x deterministically and packs W once. GEMV weights are cold,
 * as in `bench gemm` (cmd_gemm.c): enough copies of the packed matrix to cover COLD_BYTES,
 * past the last-level cache, and each call reads the next copy; the GEMMs (and the scalar
 * GEMVs) reuse one copy, which stays in L2 across token blocks as in training. int4 runs with group 32
 * (the G argument in its names); every precision uses its default activation format.
 * tests/test_kernels.c checks the shapes against the presets. */
#include "../common/check.h"
#include "../engine/alloc.h"
#include "../precisions/gemm.h"
#include "kernels.h"
#include <string.h>

/* small (gpt2: C=384, MLP 4C) at B=8, T=256 */
#define S_N (8 * 256)
#define S_C 384
/* llama-7b (C=4096, SwiGLU hidden 11008) */
#define L_C 4096
#define L_F 11008
#define INT4_GROUP 32
#define COLD_BYTES ((size_t)512 << 20) /* per GEMV row, all its copies together (cmd_gemm.c) */

typedef struct {
    const bb_precision_traits *t;
    bb_prec_opts o;
    int N, C, OC;
    float *x, *out;
    void **packed; /* copies of the packed weights */
    int copies, next;
} packed_state;

static bb_prec_opts opts_of(bb_precision p, const int64_t *a) {
    bb_prec_opts o = bb_prec_default_opts(p);
    if (a[3]) o.group = (int)a[3];
    BB_CHECK(bb_prec_opts_error(p, &o) == NULL);
    return o;
}

static size_t packed_bytes(bb_precision p, const int64_t *a) {
    bb_prec_opts o = opts_of(p, a);
    return bb_precision_get(p)->packed_size((int)a[2], (int)a[1], &o);
}

/* args: N, C, OC [, G]; cold: copies of the weights that cover COLD_BYTES (at least 2). */
static void *setup(bb_precision p, const int64_t *a, bool cold) {
    packed_state *s = bb_alloc(BB_MEM_WORKSPACE, sizeof *s);
    *s = (packed_state){.t = bb_precision_get(p), .o = opts_of(p, a), .N = (int)a[0], .C = (int)a[1], .OC = (int)a[2]};
    size_t bytes = packed_bytes(p, a);
    s->copies = cold ? (int)((COLD_BYTES + bytes - 1) / bytes) : 1;
    if (cold && s->copies < 2) s->copies = 2;
    s->x = bb_alloc(BB_MEM_WORKSPACE, (size_t)s->N * s->C * sizeof(float));
    s->out = bb_alloc(BB_MEM_WORKSPACE, (size_t)s->N * s->OC * sizeof(float));
    bb_kernel_fill(s->x, (int64_t)s->N * s->C, 11, -1.0f, 1.0f);
    float *w = bb_alloc(BB_MEM_WORKSPACE, (size_t)s->OC * s->C * sizeof(float));
    bb_kernel_fill(w, (int64_t)s->OC * s->C, 12, -0.05f, 0.05f);
    s->packed = bb_alloc(BB_MEM_WORKSPACE, (size_t)s->copies * sizeof(void *));
    for (int c = 0; c < s->copies; c++) {
        s->packed[c] = bb_alloc(BB_MEM_WORKSPACE, bytes);
        if (c == 0) s->t->pack(s->packed[0], w, s->OC, s->C, &s->o);
        else memcpy(s->packed[c], s->packed[0], bytes);
    }
    bb_free(w);
    return s;
}

static void run_forward(void *p, const int64_t *a) {
    (void)a;
    packed_state *s = p;
    s->t->forward(s->out, s->x, s->packed[s->next], s->N, s->C, s->OC, &s->o, 0);
    s->next = (s->next + 1) % s->copies;
}

static void run_forward_ref(void *p, const int64_t *a) {
    (void)a;
    packed_state *s = p;
    s->t->forward_ref(s->out, s->x, s->packed[s->next], s->N, s->C, s->OC, &s->o, 0);
    s->next = (s->next + 1) % s->copies;
}

static void teardown(void *p) {
    packed_state *s = p;
    for (int c = 0; c < s->copies; c++) bb_free(s->packed[c]);
    bb_free(s->packed);
    bb_free(s->x);
    bb_free(s->out);
    bb_free(s);
    bb_gemm_scratch_release(); /* the activation scratch of the packed forwards (gemm.c) */
}

static double flops(const int64_t *a) { return 2.0 * (double)a[0] * (double)a[1] * (double)a[2]; }

/* X(name, precision, int4 group or 0): the precisions, in the traits table's order. */
#define PRECISIONS(X)                                                                                        \
    X(fp32, BB_PREC_FP32, 0) X(fp16, BB_PREC_FP16, 0) X(bf16, BB_PREC_BF16, 0) X(int8, BB_PREC_INT8, 0)      \
        X(int4, BB_PREC_INT4, INT4_GROUP) X(b158, BB_PREC_B158, 0) X(nf4, BB_PREC_NF4, 0)

/* Per precision, since setup() and work() only get the args: setup_<name> (one copy of
 * the weights), setup_cold_<name> (GEMV) and packed_bytes_<name>. */
#define PRECISION_FNS(name, P, G)                                                                            \
    static void *setup_##name(const int64_t *a) { return setup(P, a, false); }                              \
    static void *setup_cold_##name(const int64_t *a) { return setup(P, a, true); }                          \
    static double packed_bytes_##name(const int64_t *a) { return (double)packed_bytes(P, a); }
PRECISIONS(PRECISION_FNS)

#define ROW(op_, setup_, run_, kind_, name, G, shape_, N, C, OC, work_, other_)                            \
    {.op = op_, .precision = #name, .kind = kind_, .shape = shape_, .n_args = (G) ? 4 : 3,                   \
     .arg_names = {"N", "C", "OC", "G"}, .args = {N, C, OC, G}, .setup = setup_, .run = run_,                \
     .teardown = teardown, .work = work_, .reference = false, .ratio_base = false, .other_work = other_}
#define GEMM(name, G, layer, C, OC)                                                                          \
    ROW("gemm_forward", setup_##name, run_forward, BB_KERNEL_COMPUTE, name, G, "small." layer, S_N, C, OC,  \
        flops, packed_bytes_##name)
#define GEMV(name, G, layer, C, OC)                                                                          \
    ROW("gemv_forward", setup_cold_##name, run_forward, BB_KERNEL_MEMORY, name, G, "llama-7b." layer, 1, C, \
        OC, packed_bytes_##name, flops)
/* scalar: compute-bound at ~1 GFLOP/s, cold copies would change nothing */
#define GEMV_REF(name, G, layer, C, OC)                                                                      \
    ROW("gemv_forward_ref", setup_##name, run_forward_ref, BB_KERNEL_MEMORY, name, G, "llama-7b." layer, 1, \
        C, OC, packed_bytes_##name, flops)

/* The shapes, for one precision. */
#define PRECISION_ROWS(name, P, G)                                                                           \
    GEMM(name, G, "qkv", S_C, 3 * S_C), GEMM(name, G, "attproj", S_C, S_C), GEMM(name, G, "fc", S_C, 4 * S_C), \
        GEMM(name, G, "fcproj", 4 * S_C, S_C),                                                               \
        GEMV(name, G, "attn", L_C, L_C), GEMV(name, G, "up", L_C, L_F), GEMV(name, G, "down", L_F, L_C),     \
        GEMV_REF(name, G, "attn", L_C, L_C),

static const bb_kernel rows[] = {PRECISIONS(PRECISION_ROWS)};

const bb_kernel_table bb_kernels_packed = BB_KERNEL_TABLE("all", rows);
