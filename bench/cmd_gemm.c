/* cmd_gemm.c — `bitbench bench gemm`: the packed-precision forward kernels (precisions/)
 * against references measured in the same run:
 *   gemm  the small preset's training linears (N = B*T = 2048 tokens): ops/s (2*N*C*OC per
 *         call, activation quantization included) and the ratio to OpenBLAS sgemm FLOP/s on
 *         the same shape;
 *   gemv  one token at Llama-7B shapes, weights cold (each call reads another copy; the
 *         copies of a kernel together exceed the last-level cache): weight bytes/s, the ratio
 *         to a STREAM triad (McCalpin: a = b + s*c, 12 bytes per element counted) and the
 *         speed-up over cblas_sgemv.
 * The same kernels at the same shapes are also rows of the Google Benchmark table
 * (kernels_packed.c), for `bench compare`; this command keeps its own sampling and the
 * issue's targets. One sample = enough calls for ~25 ms (a GEMV sample at least one pass
 * over the copies); samples of all kernels of a shape are interleaved so that the slow
 * phases of a shared, noisy machine hit every kernel alike. Ratios use the fastest single
 * call by default (--stat min: other jobs only ever add time; an OpenMP barrier waiting on
 * a descheduled thread adds whole milliseconds) or the median of the sample means; the
 * CSV has both. */
#include "../common/args.h"
#include "../common/check.h"
#include "../engine/alloc.h"
#include "../precisions/formats.h"
#include "cli.h"
#include "cpushare.h"
#include "progress.h"
#include "results.h"
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

typedef struct {
    const char *name;
    int N, C, OC;
} shape;

static const shape gemm_shapes[] = {
    {"qkv", 2048, 384, 1152}, {"attproj", 2048, 384, 384}, {"fc", 2048, 384, 1536}, {"fcproj", 2048, 1536, 384}};
static const shape gemv_shapes[] = {
    {"llama7b-attn", 1, 4096, 4096}, {"llama7b-ffn-up", 1, 4096, 11008}, {"llama7b-ffn-down", 1, 11008, 4096}};

/* Targets of issue #5: GEMM ops/s over sgemm FLOP/s; GEMV share of the triad. */
static double gemm_target(bb_precision p) {
    return p == BB_PREC_INT8 || p == BB_PREC_B158 ? 2.5 : p == BB_PREC_INT4 ? 2.0 : p == BB_PREC_BF16 ? 1.5 : 0;
}
#define GEMV_TRIAD_TARGET 0.70
#define GEMV_B158_SPEEDUP_TARGET 8.0
#define COLD_BYTES ((size_t)512 << 20) /* per GEMV kernel: its copies together */
#define TRIAD_N ((size_t)1 << 25)      /* 3 arrays of 128 MiB */

/* One kernel under test: run(k) performs one call (or one pass); a sample times reps of them. */
typedef struct kernel kernel;
struct kernel {
    const char *label;
    bb_precision prec;
    int is_ref;
    void (*run)(kernel *k);
    /* operands */
    const shape *s;
    const float *x;
    float *out;
    void **packed;  /* copies (GEMV) or one */
    int copies, next;
    size_t bytes;   /* of one packed weight matrix */
    bb_prec_opts o;
    float *ta, *tb, *tc; /* triad */
    const bb_gemm_kernels *force; /* a non-default kernel of the precision */
    int reps;
    double best;        /* fastest single call */
    double samples[32]; /* mean call time of each sample */
    int n_samples;
};

static void run_forward(kernel *k) {
    const bb_precision_traits *t = bb_precision_get(k->prec);
    if (k->force) bb_gemm_run(k->force, k->out, k->x, k->packed[k->next], k->s->N, k->s->C, k->s->OC, &k->o, 0);
    else t->forward(k->out, k->x, k->packed[k->next], k->s->N, k->s->C, k->s->OC, &k->o, 0);
    k->next = (k->next + 1) % k->copies;
}

static void run_sgemm(kernel *k) {
    const shape *s = k->s;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->N, s->OC, s->C, 1.0f, k->x, s->C, k->packed[0], s->C, 0.0f,
                k->out, s->OC);
}

static void run_sgemv(kernel *k) {
    const shape *s = k->s;
    cblas_sgemv(CblasRowMajor, CblasNoTrans, s->OC, s->C, 1.0f, k->packed[k->next], s->C, k->x, 1, 0.0f, k->out, 1);
    k->next = (k->next + 1) % k->copies;
}

static void run_triad(kernel *k) {
    float *a = k->ta, *b = k->tb, *c = k->tc;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < TRIAD_N; i++) a[i] = b[i] + 3.0f * c[i];
}

static double sample_once(kernel *k) {
    double total = 0;
    for (int r = 0; r < k->reps; r++) {
        double t0 = bb_now();
        k->run(k);
        double dt = bb_now() - t0;
        total += dt;
        if (dt < k->best) k->best = dt;
    }
    return total / k->reps;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int stat_min = 1; /* --stat */

static double median(kernel *k) {
    double v[32];
    memcpy(v, k->samples, (size_t)k->n_samples * sizeof *v);
    qsort(v, (size_t)k->n_samples, sizeof *v, cmp_double);
    return k->n_samples % 2 ? v[k->n_samples / 2] : 0.5 * (v[k->n_samples / 2 - 1] + v[k->n_samples / 2]);
}

/* The time the tables use: the fastest single call (--stat min, the default: on a shared
 * machine the other jobs only ever add time) or the median of the sample means. */
static double stat_time(kernel *k) { return stat_min ? k->best : median(k); }

/* Warm-up, calibrate reps to ~min_sample seconds (a GEMV sample is at least one pass over
 * all copies), then interleaved samples of every kernel. */
static void measure(kernel *ks, int nk, int samples, double min_sample) {
    for (int i = 0; i < nk; i++) {
        kernel *k = &ks[i];
        k->reps = 1;
        k->best = INFINITY;
        sample_once(k);
        double t = sample_once(k);
        int reps = (int)ceil(min_sample / (t > 1e-9 ? t : 1e-9));
        if (reps < k->copies) reps = k->copies;
        k->reps = reps < 1 ? 1 : reps > 100000 ? 100000 : reps;
        k->best = INFINITY;
    }
    for (int s = 0; s < samples; s++)
        for (int i = 0; i < nk; i++) ks[i].samples[ks[i].n_samples++] = sample_once(&ks[i]);
}

static float *rand_floats(size_t n, float scale, uint64_t seed) {
    float *p = bb_alloc(BB_MEM_WORKSPACE, n * sizeof *p);
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
        /* sum of two uniforms: a bell-ish shape without outliers */
        uint64_t r = s * 0x2545F4914F6CDD1Dull;
        p[i] = scale * ((float)(r >> 40) / (float)(1 << 24) + (float)((r >> 16) & 0xffffff) / (float)(1 << 24) - 1.0f);
    }
    return p;
}

/* The kernels the precision's forward dispatches for N tokens (bf16: AMX from 16 tokens). */
static const char *kernel_desc(bb_precision p, int N, char *buf, size_t cap) {
    const bb_gemm_kernels *bf16 = N >= 16 ? bb_bf16_kernels() : bb_bf16_kernels_fma();
    const bb_gemm_kernels *k = p == BB_PREC_FP16 ? bb_fp16_kernels() : p == BB_PREC_BF16 ? bf16
                               : p == BB_PREC_INT8 ? bb_int8_kernels() : p == BB_PREC_INT4 ? bb_int4_kernels()
                               : p == BB_PREC_B158 ? bb_b158_kernels() : p == BB_PREC_NF4 ? bb_nf4_kernels() : NULL;
    if (!k) snprintf(buf, cap, "openblas");
    else snprintf(buf, cap, "%s %dx%d", k->name, k->mr, 16 * k->nv);
    return buf;
}

typedef struct {
    FILE *csv;
    char cpu[256];
    const char *commit;
    int threads;
} sink;

static void bench_gemm_shapes(const bool *want, int samples, sink *out) {
    printf("\nGEMM (N tokens x C inputs -> OC outputs): ops/s vs OpenBLAS sgemm on the same shape, same run\n");
    printf("%-8s %5s %5s %5s  %-6s %-18s %10s %10s %8s %7s\n", "shape", "N", "C", "OC", "prec", "kernel", "ms",
           "Gop/s", "x sgemm", "target");
    for (size_t si = 0; si < sizeof gemm_shapes / sizeof gemm_shapes[0]; si++) {
        const shape *s = &gemm_shapes[si];
        float *x = rand_floats((size_t)s->N * s->C, 1.0f, 1 + si), *w = rand_floats((size_t)s->OC * s->C, 0.05f, 100 + si);
        float *outb = bb_alloc(BB_MEM_WORKSPACE, (size_t)s->N * s->OC * sizeof(float));
        kernel ks[BB_PREC_COUNT + 2];
        void *wp[BB_PREC_COUNT + 2];
        int nk = 0;
        ks[nk] = (kernel){.label = "sgemm", .prec = BB_PREC_FP32, .is_ref = 1, .run = run_sgemm, .s = s, .x = x,
                          .out = outb, .copies = 1};
        wp[nk] = w;
        ks[nk].packed = &wp[nk];
        nk++;
        for (int p = 1; p < BB_PREC_COUNT; p++) {
            if (!want[p]) continue;
            const bb_precision_traits *t = bb_precision_get((bb_precision)p);
            kernel *k = &ks[nk];
            *k = (kernel){.label = t->name, .prec = (bb_precision)p, .run = run_forward, .s = s, .x = x, .out = outb,
                          .copies = 1, .o = bb_prec_default_opts((bb_precision)p)};
            k->bytes = t->packed_size(s->OC, s->C, &k->o);
            wp[nk] = bb_alloc(BB_MEM_WORKSPACE, k->bytes);
            t->pack(wp[nk], w, s->OC, s->C, &k->o);
            k->packed = &wp[nk];
            nk++;
            const bb_gemm_kernels *dp = p == BB_PREC_BF16 ? bb_bf16_kernels_vdpbf16ps() : NULL;
            if (dp && dp != bb_bf16_kernels() && strcmp(dp->name, "avx512bf16") == 0) {
                ks[nk] = *k;
                ks[nk].force = dp;
                wp[nk] = bb_alloc(BB_MEM_WORKSPACE, k->bytes);
                memcpy(wp[nk], wp[nk - 1], k->bytes);
                ks[nk].packed = &wp[nk];
                nk++;
            }
        }
        bb_cpu_mark m0 = bb_cpu_mark_now();
        measure(ks, nk, samples, 0.025);
        double load = bb_cpu_other_share(m0, bb_cpu_mark_now());
        printf("  (other processes took %.1f%% of the CPUs meanwhile)\n", 100 * load);
        double flops = 2.0 * s->N * s->C * s->OC, ref = flops / stat_time(&ks[0]) / 1e9;
        for (int i = 0; i < nk; i++) {
            kernel *k = &ks[i];
            char desc[64];
            double t = stat_time(k), gops = flops / t / 1e9, ratio = gops / ref, target = gemm_target(k->prec);
            kernel_desc(k->prec, s->N, desc, sizeof desc);
            if (k->force) snprintf(desc, sizeof desc, "%s %dx%d", k->force->name, k->force->mr, 16 * k->force->nv);
            if (k->is_ref) snprintf(desc, sizeof desc, "openblas sgemm");
            char tgt[16] = "";
            if (target > 0) snprintf(tgt, sizeof tgt, "%.1f %s", target, ratio >= target ? "ok" : "MISS");
            printf("%-8s %5d %5d %5d  %-6s %-18s %10.3f %10.1f %8.2f %7s\n", s->name, s->N, s->C, s->OC,
                   k->is_ref ? "fp32" : k->label, desc, 1e3 * t, gops, ratio, tgt);
            fprintf(out->csv, "gemm,%s,%s,%d,%d,%d,%s,%d,%s,%.6e,%.6e,%.3f,%.3f,%.4f,%.2f,,,,,,,%.4f,%s,%s\n",
                    k->is_ref ? "fp32-sgemm" : k->label, s->name, s->N, s->C, s->OC, desc, out->threads,
                    stat_min ? "min" : "median", t, median(k), gops, ref, ratio, target, load, out->cpu, out->commit);
            if (i > 0) bb_free(wp[i]);
        }
        fflush(stdout);
        bb_free(x); bb_free(w); bb_free(outb);
    }
}

static void bench_gemv_shapes(const bool *want, int samples, sink *out) {
    printf("\nGEMV (one token), weights cold (copies cycled past the cache): weight GB/s vs STREAM triad, same run\n");
    kernel triad = {.label = "triad", .is_ref = 1, .run = run_triad, .copies = 1};
    triad.ta = bb_alloc(BB_MEM_WORKSPACE, TRIAD_N * sizeof(float));
    triad.tb = rand_floats(TRIAD_N, 1.0f, 7);
    triad.tc = rand_floats(TRIAD_N, 1.0f, 8);
    printf("%-17s %5s %5s  %-6s %-18s %10s %8s %8s %8s %7s\n", "shape", "C", "OC", "prec", "kernel", "us", "GB/s",
           "x triad", "x sgemv", "target");
    for (size_t si = 0; si < sizeof gemv_shapes / sizeof gemv_shapes[0]; si++) {
        const shape *s = &gemv_shapes[si];
        float *x = rand_floats((size_t)s->C, 1.0f, 11 + si), *w = rand_floats((size_t)s->OC * s->C, 0.05f, 200 + si);
        float *outb = bb_alloc(BB_MEM_WORKSPACE, (size_t)s->OC * sizeof(float));
        kernel ks[BB_PREC_COUNT + 1];
        int nk = 0;
        ks[nk++] = triad;
        for (int p = 0; p < BB_PREC_COUNT; p++) {
            if (p != BB_PREC_FP32 && !want[p]) continue;
            const bb_precision_traits *t = bb_precision_get((bb_precision)p);
            kernel *k = &ks[nk++];
            *k = (kernel){.label = t->name, .prec = (bb_precision)p, .is_ref = p == BB_PREC_FP32,
                          .run = p == BB_PREC_FP32 ? run_sgemv : run_forward, .s = s, .x = x, .out = outb,
                          .o = bb_prec_default_opts((bb_precision)p)};
            k->bytes = t->packed_size(s->OC, s->C, &k->o);
            k->copies = (int)((COLD_BYTES + k->bytes - 1) / k->bytes);
            if (k->copies < 2) k->copies = 2;
            k->packed = bb_alloc(BB_MEM_WORKSPACE, (size_t)k->copies * sizeof(void *));
            for (int c = 0; c < k->copies; c++) {
                k->packed[c] = bb_alloc(BB_MEM_WORKSPACE, k->bytes);
                if (c == 0) t->pack(k->packed[0], w, s->OC, s->C, &k->o);
                else memcpy(k->packed[c], k->packed[0], k->bytes);
            }
        }
        bb_cpu_mark m0 = bb_cpu_mark_now();
        measure(ks, nk, samples, 0.04);
        double load = bb_cpu_other_share(m0, bb_cpu_mark_now());
        printf("  (other processes took %.1f%% of the CPUs meanwhile)\n", 100 * load);
        double tri = 12.0 * TRIAD_N / stat_time(&ks[0]) / 1e9, t_sgemv = 0;
        for (int i = 1; i < nk; i++)
            if (ks[i].prec == BB_PREC_FP32) t_sgemv = stat_time(&ks[i]);
        printf("%-17s %5s %5s  %-6s %-18s %10s %8.1f\n", s->name, "", "", "triad", "omp a=b+s*c", "", tri);
        fprintf(out->csv, "triad,,%s,,,,omp a=b+s*c,%d,%s,%.6e,%.6e,,,,,%zu,%.3f,%.3f,1.0,,,%.4f,%s,%s\n", s->name,
                out->threads, stat_min ? "min" : "median", stat_time(&ks[0]), median(&ks[0]), 12 * TRIAD_N, tri, tri,
                load, out->cpu, out->commit);
        for (int i = 1; i < nk; i++) {
            kernel *k = &ks[i];
            char desc[64], tgt[24] = "";
            double t = stat_time(k), gbs = (double)k->bytes / t / 1e9, rt = gbs / tri, sp = t_sgemv / t;
            kernel_desc(k->prec, s->N, desc, sizeof desc);
            if (k->is_ref) snprintf(desc, sizeof desc, "openblas sgemv");
            if (!k->is_ref)
                snprintf(tgt, sizeof tgt, "%.2f%s %s", GEMV_TRIAD_TARGET, k->prec == BB_PREC_B158 ? "+8x" : "",
                         rt >= GEMV_TRIAD_TARGET && (k->prec != BB_PREC_B158 || sp >= GEMV_B158_SPEEDUP_TARGET)
                             ? "ok" : "MISS");
            printf("%-17s %5d %5d  %-6s %-18s %10.1f %8.1f %8.2f %8.2f %7s\n", s->name, s->C, s->OC, k->label, desc,
                   1e6 * t, gbs, rt, sp, tgt);
            fprintf(out->csv, "gemv,%s,%s,%d,%d,%d,%s,%d,%s,%.6e,%.6e,%.3f,,,,%zu,%.3f,%.3f,%.4f,%.6e,%.3f,%.4f,%s,%s\n",
                    k->label, s->name, s->N, s->C, s->OC, desc, out->threads, stat_min ? "min" : "median", t,
                    median(k), 2.0 * s->C * s->OC / t / 1e9, k->bytes, gbs, tri, rt, t_sgemv, sp, load, out->cpu,
                    out->commit);
            for (int c = 0; c < k->copies; c++) bb_free(k->packed[c]);
            bb_free(k->packed);
        }
        fflush(stdout);
        bb_free(x); bb_free(w); bb_free(outb);
    }
    bb_free(triad.ta); bb_free(triad.tb); bb_free(triad.tc);
}

int bb_cmd_bench_gemm(int argc, char **argv) {
    const char *prec = "all", *shapes = "all", *out = NULL, *stat = "min";
    long samples = 7;
    const bb_arg args[] = {
        {"precision", BB_ARG_STR, &prec, "P", "all, or one of fp16 bf16 int8 int4 b158 nf4", 0, -1},
        {"shapes", BB_ARG_STR, &shapes, "SET", "small (training GEMMs), llama7b-gemv, or all", 0, -1},
        {"samples", BB_ARG_INT, &samples, "N", "timed samples per kernel", 1, 31},
        {"stat", BB_ARG_STR, &stat, "S", "min (fastest call) or median (of the sample means) for the ratios", 0, -1},
        {"out", BB_ARG_STR, &out, "DIR", "results folder (default results/runs/<time>-gemm)", 0, -1},
    };
    const bb_cmd_spec spec = {
        "bench gemm",
        "Packed-precision forward kernels vs in-run references: GEMM at the small preset's\n"
        "training shapes against OpenBLAS sgemm, GEMV at Llama-7B shapes against a STREAM triad\n"
        "and sgemv. Prints a table and writes gemm.csv into a results folder.",
        "[--precision all|P] [--shapes small|llama7b-gemv|all] [--out DIR]", args,
        (int)(sizeof args / sizeof args[0]), 0, 0,
        "Threads: OMP_NUM_THREADS (all cores by default); BITBENCH_ISA=scalar|avx2|avx512 picks the SIMD path."};
    bb_args_parse(&spec, argc, argv, NULL);
    bool want[BB_PREC_COUNT] = {false};
    if (strcmp(prec, "all") == 0) {
        for (int p = 1; p < BB_PREC_COUNT; p++) want[p] = true;
    } else {
        int p = bb_precision_parse(prec);
        if (p <= 0) bb_usage_error("bench gemm", "--precision must be all or one of fp16 bf16 int8 int4 b158 nf4, not '%s'", prec);
        want[p] = true;
    }
    if (strcmp(stat, "min") != 0 && strcmp(stat, "median") != 0)
        bb_usage_error("bench gemm", "--stat must be min or median, not '%s'", stat);
    stat_min = strcmp(stat, "min") == 0;
    bool do_gemm = strcmp(shapes, "small") == 0 || strcmp(shapes, "all") == 0;
    bool do_gemv = strcmp(shapes, "llama7b-gemv") == 0 || strcmp(shapes, "all") == 0;
    if (!do_gemm && !do_gemv) bb_usage_error("bench gemm", "--shapes must be small, llama7b-gemv or all, not '%s'", shapes);

    bb_run run;
    bb_run_create(&run, "gemm", out, argc, argv);
    sink s = {.commit = run.env.git_commit, .threads = omp_get_max_threads()};
    bb_csv_clean(s.cpu, sizeof s.cpu, run.env.cpu_model);
    printf("bench gemm: %s; %d threads; SIMD path %s; OpenBLAS %s (%s); commit %s\n", run.env.cpu_model, s.threads,
           run.env.simd_path, run.env.openblas_core, run.env.openblas_threading, run.env.git_commit);
    bb_atomic_file af;
    s.csv = bb_run_open(&run, "gemm.csv", &af);
    fprintf(s.csv, "kind,precision,shape,N,C,OC,kernel,threads,stat,seconds,seconds_median,gops,sgemm_gflops,"
                   "ratio_vs_sgemm,target_ratio,"
                   "weight_bytes,weight_gbps,triad_gbps,ratio_vs_triad,sgemv_seconds,speedup_vs_sgemv,other_cpu_share,cpu,commit\n");
    if (do_gemm) bench_gemm_shapes(want, (int)samples, &s);
    if (do_gemv) bench_gemv_shapes(want, (int)samples, &s);
    bb_run_commit(&af);
    bb_gemm_scratch_release();
    printf("\nresults: %s/gemm.csv\n", run.dir);
    return 0;
}
