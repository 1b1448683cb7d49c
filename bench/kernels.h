/* kernels.h — the kernel benchmark registration table (issue #4). One row = one kernel at
 * one shape and precision. A kernel file (kernels_fp32.c: the engine's FP32 kernels;
 * kernels_packed.c: the packed-precision forwards of every precision) exports a
 * bb_kernel_table; kernels.c lists the tables, and the driver (cmd_kernels.c) registers
 * every row with Google Benchmark without knowing what it is.
 *
 * Each row's state comes from setup(args) (all allocation and initialisation, untimed),
 * run(state, args) is one timed iteration, teardown(state) frees. work(args) is the FLOPs
 * (kind COMPUTE: the row reports GFLOP/s) or the bytes moved (kind MEMORY: GB/s) of one
 * run() call; bytes count each tensor read once and each written once ("+=" counts a
 * read and a write), the minimum traffic of the kernel. A row may also report the work of
 * the other kind (other_work, e.g. a packed GEMM's weight bytes next to its FLOPs): Google
 * Benchmark then shows both counters, the kind still decides the ratio base.
 *
 * In-run references: rows with `reference` set are measured in every run whatever the
 * filter; the one with `ratio_base` set for a kind (OpenBLAS sgemm for COMPUTE, the
 * STREAM triad for MEMORY, kernels_ref.c) is the denominator of every other row's ratio
 * of that kind, so numbers from a busy machine still compare.
 *
 * FP32 peers: a row of another precision than fp32 is compared with the fp32 row of the
 * same op and shape (bb_kernel_fp32_peer), e.g. gemm_forward/int8/small.qkv with
 * gemm_forward/fp32/small.qkv. The driver runs the peer whenever the row runs and reports
 * the speed-up (peer time / row time): packed vs FP32 on the same shape in the same run. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define BB_KERNEL_MAX_ARGS 4

typedef enum { BB_KERNEL_COMPUTE, BB_KERNEL_MEMORY, BB_KERNEL_KIND_COUNT } bb_kernel_kind;

typedef struct {
    const char *op;          /* "<op>_<forward|backward>[_<impl>]", e.g. "sgemm_forward" */
    const char *precision;   /* a name of the precision traits table: "fp32", "int8", ... */
    bb_kernel_kind kind;
    const char *shape;       /* where the shape comes from, e.g. "small.qkv", "gpt2-124m" */
    int n_args;
    const char *arg_names[BB_KERNEL_MAX_ARGS];
    int64_t args[BB_KERNEL_MAX_ARGS];
    void *(*setup)(const int64_t *args);
    void (*run)(void *state, const int64_t *args);
    void (*teardown)(void *state);
    double (*work)(const int64_t *args);   /* FLOPs or bytes per run() */
    bool reference;          /* always measured; never slowed by the test hook */
    bool ratio_base;         /* the denominator of its kind's ratios */
    double (*other_work)(const int64_t *args);  /* the other kind's work per run(), or NULL */
} bb_kernel;

typedef struct {
    const char *precision;   /* of all rows, or "all" for a table of several */
    const bb_kernel *rows;
    int n;
} bb_kernel_table;

#define BB_KERNEL_TABLE(prec, rows) {prec, rows, (int)(sizeof rows / sizeof rows[0])}

extern const bb_kernel_table bb_kernels_ref;   /* kernels_ref.c */
extern const bb_kernel_table bb_kernels_fp32;  /* kernels_fp32.c */
extern const bb_kernel_table bb_kernels_packed; /* kernels_packed.c */

/* All tables, references first. */
extern const bb_kernel_table *const bb_kernel_tables[];
extern const int bb_n_kernel_tables;

const char *bb_kernel_kind_name(bb_kernel_kind k);
/* "GFLOP/s" or "GB/s". */
const char *bb_kernel_kind_unit(bb_kernel_kind k);
/* Google Benchmark's name for the row: "<op>/<precision>/<shape>/<arg>:<v>.../real_time". */
void bb_kernel_name(const bb_kernel *k, char *out, int cap);
/* The ratio base of a kind, or NULL. */
const bb_kernel *bb_kernel_ratio_base(bb_kernel_kind kind);
/* The fp32 row of the same op and shape when k is of another precision, else NULL. */
const bb_kernel *bb_kernel_fp32_peer(const bb_kernel *k);
static inline bb_kernel_kind bb_kernel_other_kind(bb_kernel_kind k) {
    return k == BB_KERNEL_COMPUTE ? BB_KERNEL_MEMORY : BB_KERNEL_COMPUTE;
}

/* Fills n floats with deterministic values in [lo, hi) (xorshift from seed). */
void bb_kernel_fill(float *x, int64_t n, uint64_t seed, float lo, float hi);
