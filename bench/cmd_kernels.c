/* cmd_kernels.c — `bitbench bench kernels`: runs the registered kernel benchmarks
 * (kernels.h tables) under Google Benchmark through the C shim (gbench.h) and writes
 *   <out>.json  Google Benchmark's JSON, every repetition kept (compare needs them), its
 *               "context" extended with bitbench_* keys (ISA path, threads, commit, CPU,
 *               settings) and "bitbench_env" (the whole `bitbench env` object);
 *   <out>.csv   one row per kernel x shape x precision: median, mean, stddev, cv of the
 *               real time per iteration, GFLOP/s or GB/s at the median, the ratio to the
 *               in-run reference of its kind, the other kind's throughput where the row
 *               reports both (packed kernels), and the speed-up over its fp32 peer.
 * Times are wall-clock (UseRealTime): the kernels run on every OpenMP thread, so the
 * main thread's CPU time would undercount. Each row's setup runs once per row (not per
 * repetition) and is kept until the next row starts.
 *
 * Test hook: BITBENCH_BENCH_SLOWDOWN_US=N sleeps N microseconds inside the timed loop
 * of every non-reference kernel, to plant a regression (tests/kernels_test.sh). It is
 * announced on stderr and recorded in the context. */
#include "../common/args.h"
#include "../common/check.h"
#include "../common/io.h"
#include "../engine/alloc.h"
#include "cli.h"
#include "compare.h"
#include "gbench.h"
#include "gbench_json.h"
#include "kernels.h"
#include "model_args.h"
#include "results.h"
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef BB_SOURCE_ROOT
#define BB_SOURCE_ROOT "."
#endif

#define CMD "bench kernels"

typedef struct {
    const bb_kernel *k;
    char name[256];    /* Google Benchmark's name */
    char label[256];   /* the ratio base's name; "" for the bases */
} reg_row;

/* The state of the row being measured: Google Benchmark calls a benchmark function several
 * times (iteration-count probing, then each repetition), always consecutively. */
static struct {
    const bb_kernel *k;
    void *state;
} current;
static long slowdown_us;

static void release_current(void) {
    if (current.k) current.k->teardown(current.state);
    current.k = NULL;
    current.state = NULL;
}

/* Google Benchmark's counters: "flops" as a rate for compute, bytes_per_second for memory. */
static void report_work(gb_state *st, bb_kernel_kind kind, double total) {
    if (kind == BB_KERNEL_COMPUTE) gb_set_counter(st, "flops", total, GB_COUNTER_RATE);
    else gb_set_bytes_processed(st, (int64_t)total);
}

static void bench_row(gb_state *st, void *user) {
    const reg_row *r = user;
    const bb_kernel *k = r->k;
    int64_t args[BB_KERNEL_MAX_ARGS] = {0};
    for (int i = 0; i < k->n_args; i++) args[i] = gb_range(st, i);
    if (current.k != k) {
        release_current();
        current.state = k->setup(args);
        current.k = k;
    }
    bool slow = slowdown_us > 0 && !k->reference;
    struct timespec pause = {slowdown_us / 1000000, (slowdown_us % 1000000) * 1000};
    while (gb_keep_running(st)) {
        k->run(current.state, args);
        if (slow) nanosleep(&pause, NULL);
        gb_clobber_memory();
    }
    report_work(st, k->kind, k->work(args) * (double)gb_iterations(st));
    if (k->other_work) report_work(st, bb_kernel_other_kind(k->kind), k->other_work(args) * (double)gb_iterations(st));
    if (r->label[0]) gb_set_label(st, r->label);
}

/* ---- output -------------------------------------------------------------------- */

typedef struct {
    char *text;
    size_t len;
} json_text;

static void keep_json(const char *json, size_t len, void *ctx) {
    json_text *t = ctx;
    t->text = bb_alloc(BB_MEM_DATA, len + 1);
    memcpy(t->text, json, len);
    t->len = len;
}

/* Writes Google Benchmark's JSON with "bitbench_env" as the first key of "context". */
static void write_json(const char *path, const json_text *t, const bb_env *env) {
    static const char anchor[] = "\"context\": {";
    const char *at = strstr(t->text, anchor);
    if (!at) bb_fatal(__FILE__, __LINE__, "Google Benchmark's JSON has no context object");
    size_t split = (size_t)(at - t->text) + sizeof anchor - 1;
    /* the env object, indented two levels deeper */
    size_t cap = 1 << 16;
    char *envbuf = bb_alloc(BB_MEM_OTHER, cap);
    FILE *mf = fmemopen(envbuf, cap - 1, "w");
    BB_CHECK_IO(mf != NULL, "fmemopen");
    bb_json j;
    bb_json_init(&j, mf);
    bb_env_write_json(env, &j);
    BB_CHECK(fclose(mf) == 0);
    BB_CHECK(strlen(envbuf) + 2 < cap);  /* fmemopen truncates silently */
    bb_atomic_file af;
    FILE *f = bb_atomic_open(&af, path);
    if (!f) bb_user_error("cannot write %s: %s", path, strerror(errno));
    fwrite(t->text, 1, split, f);
    fputs("\n    \"bitbench_env\": ", f);
    size_t n = strlen(envbuf);
    while (n && envbuf[n - 1] == '\n') n--;
    for (size_t i = 0; i < n; i++) {
        fputc(envbuf[i], f);
        if (envbuf[i] == '\n') fputs("    ", f);
    }
    fputc(',', f);
    fwrite(t->text + split, 1, t->len - split, f);
    if (bb_atomic_commit(&af) != 0) bb_user_error("cannot write %s: %s", path, strerror(errno));
    bb_free(envbuf);
}

typedef struct {
    int reps;
    double median, mean, stddev, cv;  /* seconds; cv a fraction */
    double throughput;                /* GFLOP/s or GB/s at the median */
    double ratio;
    double other;                     /* the other kind's throughput (other_work), or NaN */
    double speedup;                   /* fp32 peer's median / this median, or NaN */
} row_stats;

/* Google Benchmark's statistics (src/statistics.cc): sample standard deviation. */
static row_stats stats_of(const bb_gb_run *run, const reg_row *r) {
    row_stats s = {0, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    double *t = bb_alloc(BB_MEM_WORKSPACE, (size_t)(run->n + 1) * sizeof *t);
    for (int i = 0; i < run->n; i++) {
        const bb_gb_entry *e = &run->e[i];
        if (!e->aggregate && !e->error && e->has_times && strcmp(e->name, r->name) == 0)
            t[s.reps++] = e->real_time * bb_gb_unit_seconds(e->time_unit);
    }
    if (s.reps > 0) {
        double sum = 0, sq = 0;
        for (int i = 0; i < s.reps; i++) sum += t[i], sq += t[i] * t[i];
        s.mean = sum / s.reps;
        s.stddev = s.reps > 1 ? sqrt(fmax(0.0, (sq / s.reps - s.mean * s.mean) * s.reps / (s.reps - 1))) : 0.0;
        s.cv = s.stddev / s.mean;
        s.median = bb_median(t, s.reps);
        s.throughput = r->k->work(r->k->args) / s.median / 1e9;
        if (r->k->other_work) s.other = r->k->other_work(r->k->args) / s.median / 1e9;
    }
    bb_free(t);
    return s;
}

static void fmt_time(char *out, size_t cap, double s) {
    if (!isfinite(s)) snprintf(out, cap, "-");
    else if (s >= 1.0) snprintf(out, cap, "%.3f s", s);
    else if (s >= 1e-3) snprintf(out, cap, "%.3f ms", s * 1e3);
    else snprintf(out, cap, "%.2f us", s * 1e6);
}

static void args_text(const bb_kernel *k, char *out, size_t cap) {
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < k->n_args && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%s=%lld", i ? " " : "", k->arg_names[i], (long long)k->args[i]);
}

static void write_csv(const char *path, const reg_row *rows, const row_stats *st, int n, const bb_env *env,
                      long threads) {
    bb_atomic_file af;
    FILE *f = bb_atomic_open(&af, path);
    if (!f) bb_user_error("cannot write %s: %s", path, strerror(errno));
    char cpu[256], args[128], other[32], peer[256], speedup[32];
    bb_csv_clean(cpu, sizeof cpu, env->cpu_model);
    fprintf(f, "name,op,precision,kind,shape,args,repetitions,median_s,mean_s,stddev_s,cv,work_per_iter,throughput,"
               "throughput_unit,reference,ratio_to_reference,other_throughput,other_throughput_unit,fp32_peer,"
               "speedup_vs_fp32,isa,threads,cpu,commit\n");
    for (int i = 0; i < n; i++) {
        const bb_kernel *k = rows[i].k;
        const bb_kernel *p = bb_kernel_fp32_peer(k);
        args_text(k, args, sizeof args);
        other[0] = peer[0] = speedup[0] = '\0';
        if (k->other_work) snprintf(other, sizeof other, "%.6g", st[i].other);
        if (p) bb_kernel_name(p, peer, sizeof peer);
        if (p) snprintf(speedup, sizeof speedup, "%.4f", st[i].speedup);
        fprintf(f, "%s,%s,%s,%s,%s,%s,%d,%.6e,%.6e,%.6e,%.6f,%.6e,%.4f,%s,%s,%.4f,%s,%s,%s,%s,%s,%ld,%s,%s\n",
                rows[i].name, k->op, k->precision, bb_kernel_kind_name(k->kind), k->shape, args, st[i].reps,
                st[i].median, st[i].mean, st[i].stddev, st[i].cv, k->work(k->args), st[i].throughput,
                bb_kernel_kind_unit(k->kind), rows[i].label[0] ? rows[i].label : rows[i].name, st[i].ratio, other,
                k->other_work ? bb_kernel_kind_unit(bb_kernel_other_kind(k->kind)) : "", peer, speedup,
                env->simd_path, threads, cpu, env->git_commit);
    }
    if (bb_atomic_commit(&af) != 0) bb_user_error("cannot write %s: %s", path, strerror(errno));
}

/* "Intel(R) Xeon(R) Gold 6430" -> "intel-xeon-gold-6430": the baseline file's name. */
static void cpu_slug(char *out, size_t cap, const char *model) {
    size_t n = 0;
    for (const char *p = model; *p && n + 1 < cap; p++) {
        if (strncmp(p, "(R)", 3) == 0 || strncmp(p, "(r)", 3) == 0) { p += 2; continue; }
        if (strncmp(p, "(TM)", 4) == 0 || strncmp(p, "(tm)", 4) == 0) { p += 3; continue; }
        char c = *p;
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (alnum) out[n++] = c;
        else if (n && out[n - 1] != '-') out[n++] = '-';
    }
    while (n && out[n - 1] == '-') n--;
    out[n] = '\0';
    if (!n) snprintf(out, cap, "unknown-cpu");
}

/* ---- the command ----------------------------------------------------------------- */

static long slowdown_from_env(void) {
    const char *s = getenv("BITBENCH_BENCH_SLOWDOWN_US");
    if (!s || !*s) return 0;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < 0 || v > 10000000)
        bb_user_error("BITBENCH_BENCH_SLOWDOWN_US must be microseconds between 0 and 10000000, got '%s'", s);
    return v;
}

int bb_cmd_bench_kernels(int argc, char **argv) {
    const char *filter = NULL, *out = NULL;
    long reps = 9, threads = 0;
    double min_time = 0.05;
    bool list = false, baseline = false;
    const bb_arg args[] = {
        {"filter", BB_ARG_STR, &filter, "REGEX", "run the kernels whose name matches (POSIX extended regex)", 0, -1},
        {"repetitions", BB_ARG_INT, &reps, "N", "repetitions per kernel (the gate needs 9)", 1, 1000},
        {"min-time", BB_ARG_DOUBLE, &min_time, "S", "minimum seconds per repetition", 0, -1},
        {"threads", BB_ARG_INT, &threads, "N", "OpenMP/OpenBLAS threads (0: all cores)", 0, 1024},
        {"out", BB_ARG_STR, &out, "FILE.json", "write FILE.json and FILE.csv (default: a results/runs/ folder)", 0, -1},
        {"baseline", BB_ARG_FLAG, &baseline, NULL, "write results/baselines/kernels-<cpu>.json (and .csv)", 0, -1},
        {"list", BB_ARG_FLAG, &list, NULL, "list the kernels and exit", 0, -1},
    };
    const bb_cmd_spec spec = {
        CMD,
        "Measure the registered kernels (sgemm at the small and gpt2-124m training shapes, norms,\n"
        "activations, softmax, attention, AdamW, cross-entropy; the packed forward of every\n"
        "precision as GEMM at small's training shapes and GEMV at Llama-7B's) with Google\n"
        "Benchmark, next to in-run references (OpenBLAS sgemm, STREAM triad and copy).",
        "[--filter REGEX] [--repetitions N] [--min-time S] [--threads N] [--out FILE.json]", args,
        (int)(sizeof args / sizeof args[0]), 0, 0,
        "Names are <op>/<precision>/<shape>/<arg>:<value>.../real_time. The references always run;\n"
        "a kernel of another precision than fp32 runs with the fp32 kernel of its op and shape.\n"
        "Compare two runs with 'bitbench bench compare BASE.json NEW.json'."};
    bb_args_parse(&spec, argc, argv, NULL);
    if (!(min_time > 0 && min_time <= 60)) bb_usage_error(CMD, "--min-time must be in (0, 60] seconds, got %g", min_time);
    if (out && baseline) bb_usage_error(CMD, "--out and --baseline are mutually exclusive");
    regex_t re;
    if (filter) {
        int rc = regcomp(&re, filter, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char why[200];
            regerror(rc, &re, why, sizeof why);
            bb_usage_error(CMD, "--filter '%s' is not a valid regular expression: %s", filter, why);
        }
    }
    slowdown_us = slowdown_from_env();

    /* The rows to register, in table order: every reference, the filter's matches, and the
     * fp32 peer of each match (kernels.h). */
    int total = 0;
    for (int t = 0; t < bb_n_kernel_tables; t++) total += bb_kernel_tables[t]->n;
    reg_row *rows = bb_alloc(BB_MEM_OTHER, (size_t)total * sizeof *rows);
    enum { SKIP, HIT, PEER } *why = bb_alloc(BB_MEM_OTHER, (size_t)total * sizeof *why);
    for (int t = 0, a = 0; t < bb_n_kernel_tables; t++)
        for (int i = 0; i < bb_kernel_tables[t]->n; i++, a++) {
            rows[a].k = &bb_kernel_tables[t]->rows[i];
            bb_kernel_name(rows[a].k, rows[a].name, sizeof rows[a].name);
            why[a] = !filter || regexec(&re, rows[a].name, 0, NULL, 0) == 0 ? HIT : SKIP;
        }
    if (filter) regfree(&re);
    int matched = 0;
    for (int a = 0; a < total; a++) {
        if (why[a] != HIT) continue;
        matched++;
        const bb_kernel *p = bb_kernel_fp32_peer(rows[a].k);
        for (int b = 0; p && b < total; b++)
            if (rows[b].k == p && why[b] == SKIP) why[b] = PEER;
    }
    int n = 0;
    for (int a = 0; a < total; a++) {
        const bb_kernel *k = rows[a].k;
        if (why[a] == SKIP && !k->reference) continue;
        if (list)
            printf("%s%s\n", rows[a].name, k->reference ? "   (reference, always runs)"
                                           : why[a] == PEER ? "   (fp32 peer, runs with a match)" : "");
        rows[n] = rows[a];
        const bb_kernel *base = bb_kernel_ratio_base(k->kind);
        BB_CHECK(base != NULL);
        rows[n].label[0] = '\0';
        if (base != k) bb_kernel_name(base, rows[n].label, sizeof rows[n].label);
        n++;
    }
    bb_free(why);
    if (list) { bb_free(rows); return 0; }
    if (matched == 0) bb_usage_error(CMD, "--filter '%s' matches no kernel (see --list)", filter);

    bb_set_threads(threads);
    long nthreads = omp_get_max_threads();
    char json_path[4200], csv_path[4200], slug[128];
    bb_env env;
    if (out || baseline) {
        bb_env_collect(&env);
        cpu_slug(slug, sizeof slug, env.cpu_model);
        if (baseline) snprintf(json_path, sizeof json_path, "%s/results/baselines/kernels-%s.json", BB_SOURCE_ROOT, slug);
        else snprintf(json_path, sizeof json_path, "%s", out);
        size_t len = strlen(json_path);
        if (len > 5 && strcmp(json_path + len - 5, ".json") == 0) len -= 5;
        snprintf(csv_path, sizeof csv_path, "%.*s.csv", (int)len, json_path);
        char dir[4200];
        snprintf(dir, sizeof dir, "%s", json_path);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
            *slash = '\0';
            if (bb_mkdir_p(dir) != 0) bb_user_error("cannot create %s: %s", dir, strerror(errno));
        }
    } else {
        bb_run run;
        bb_run_create(&run, "kernels", NULL, argc, argv);
        env = run.env;
        cpu_slug(slug, sizeof slug, env.cpu_model);
        snprintf(json_path, sizeof json_path, "%s/kernels.json", run.dir);
        snprintf(csv_path, sizeof csv_path, "%s/kernels.csv", run.dir);
    }

    /* Repetitions and min time as flags, not per-benchmark setters: Repetitions() and
     * MinTime() append "/repeats:N" and "/min_time:X" to every name, and a baseline must
     * match runs made with other settings. 1.7.1 takes --benchmark_min_time as a bare
     * double ("0.05"; "0.05s" is refused); 1.8+ takes "0.05s" and still accepts a bare
     * number with a warning (shared/specs/evaluation.md §4.5). */
    char rep_flag[64], time_flag[64];
    snprintf(rep_flag, sizeof rep_flag, "--benchmark_repetitions=%ld", reps);
    snprintf(time_flag, sizeof time_flag, "--benchmark_min_time=%g", min_time);
    char *gargv[] = {"bitbench", rep_flag, time_flag, NULL};
    int gargc = 3;
    gb_initialize(&gargc, gargv);
    if (gb_report_unrecognized(gargc, gargv))
        bb_fatal(__FILE__, __LINE__, "this Google Benchmark did not take %s %s", rep_flag, time_flag);
    char buf[64];
    gb_add_context("bitbench_git_commit", env.git_commit);
    gb_add_context("bitbench_cpu_model", env.cpu_model);
    gb_add_context("bitbench_cpu_slug", slug);
    gb_add_context("bitbench_isa", env.simd_path);
    snprintf(buf, sizeof buf, "%ld", nthreads);
    gb_add_context("bitbench_threads", buf);
    gb_add_context("bitbench_openblas_core", env.openblas_core);
    snprintf(buf, sizeof buf, "%ld", reps);
    gb_add_context("bitbench_repetitions", buf);
    snprintf(buf, sizeof buf, "%g", min_time);
    gb_add_context("bitbench_min_time_s", buf);
    if (slowdown_us) {
        snprintf(buf, sizeof buf, "%ld", slowdown_us);
        gb_add_context("bitbench_planted_slowdown_us", buf);
        fprintf(stderr, "bitbench %s: BITBENCH_BENCH_SLOWDOWN_US=%ld: every kernel is slowed on purpose (test hook)\n",
                CMD, slowdown_us);
    }
    int n_refs = 0;
    for (int i = 0; i < n; i++) {
        const bb_kernel *k = rows[i].k;
        char base[256];
        snprintf(base, sizeof base, "%s/%s/%s", k->op, k->precision, k->shape);
        gb_benchmark *b = gb_register(base, bench_row, &rows[i]);
        gb_args(b, k->args, k->n_args);
        gb_arg_names(b, k->arg_names, k->n_args);
        gb_unit(b, GB_US);
        gb_use_real_time(b);
        n_refs += k->reference;
    }
    printf("bitbench %s: %d kernels + %d references, %ld repetitions, min time %g s, %ld threads, ISA %s, commit %s\n",
           CMD, n - n_refs, n_refs, reps, min_time, nthreads, env.simd_path, env.git_commit);
    fflush(stdout);
    json_text jt = {NULL, 0};
    size_t ran = gb_run_json(NULL, keep_json, &jt);
    release_current();
    gb_shutdown();
    if (ran != (size_t)n || !jt.text) bb_fatal(__FILE__, __LINE__, "Google Benchmark ran %zu of %d benchmarks", ran, n);
    write_json(json_path, &jt, &env);

    bb_gb_run run;
    char err[400];
    if (bb_gb_run_parse(&run, jt.text, jt.len, err, sizeof err) != 0)
        bb_fatal(__FILE__, __LINE__, "cannot read back Google Benchmark's JSON: %s", err);
    row_stats *st = bb_alloc(BB_MEM_OTHER, (size_t)n * sizeof *st);
    for (int i = 0; i < n; i++) {
        st[i] = stats_of(&run, &rows[i]);
        if (st[i].reps == 0) bb_fatal(__FILE__, __LINE__, "no result named %s in the JSON", rows[i].name);
    }
    for (int i = 0; i < n; i++) {
        const bb_kernel *base = bb_kernel_ratio_base(rows[i].k->kind), *peer = bb_kernel_fp32_peer(rows[i].k);
        for (int j = 0; j < n; j++) {
            if (rows[j].k == base) st[i].ratio = st[i].throughput / st[j].throughput;
            if (rows[j].k == peer) st[i].speedup = st[j].median / st[i].median;
        }
    }
    write_csv(csv_path, rows, st, n, &env, nthreads);

    int width = 0;
    for (int i = 0; i < n; i++) width = (int)strlen(rows[i].name) > width ? (int)strlen(rows[i].name) : width;
    printf("\n%-*s %12s %7s %16s %9s %16s %8s\n", width, "kernel (real time per iteration)", "median", "cv",
           "throughput", "ratio", "other", "x fp32");
    for (int i = 0; i < n; i++) {
        const bb_kernel *k = rows[i].k;
        char t[32], thr[32], other[32] = "", speedup[32] = "";
        fmt_time(t, sizeof t, st[i].median);
        snprintf(thr, sizeof thr, "%.2f %s", st[i].throughput, bb_kernel_kind_unit(k->kind));
        if (k->other_work)
            snprintf(other, sizeof other, "%.2f %s", st[i].other, bb_kernel_kind_unit(bb_kernel_other_kind(k->kind)));
        if (bb_kernel_fp32_peer(k)) snprintf(speedup, sizeof speedup, "%.3f", st[i].speedup);
        printf("%-*s %12s %6.2f%% %16s %9.3f %16s %8s\n", width, rows[i].name, t, 100 * st[i].cv, thr, st[i].ratio,
               other, speedup);
    }
    printf("\nratio = throughput / the in-run reference of the same kind (%s for compute, %s for memory)\n"
           "x fp32 = the fp32 kernel's median time at the same op and shape / this kernel's (speed-up)\n",
           bb_kernel_ratio_base(BB_KERNEL_COMPUTE)->op, bb_kernel_ratio_base(BB_KERNEL_MEMORY)->op);
    printf("json: %s\ncsv:  %s\n", json_path, csv_path);
    bb_gb_run_free(&run);
    bb_free(st);
    bb_free(jt.text);
    bb_free(rows);
    return 0;
}
