/* gbench_check.c — checks a `bitbench bench kernels` JSON file for tests/kernels_test.sh:
 * it parses (after the NaN/Infinity rewrite), its context has the bitbench keys and the
 * env object, and each named kernel has REPS iteration rows with the right counter
 * (flops for compute, bytes_per_second for memory; both for the packed kernels
 * gemm_forward* and gemv_forward*, bench/kernels_packed.c), positive times in us, the
 * label of its in-run reference, and the mean/median/stddev/cv aggregates when REPS >= 2.
 * The kind comes from the name, independently of the table: sgemm, attention, ref_sgemm
 * and gemm_forward are compute; everything else memory. For the packed kernels the flops
 * counter must be 2*N*C*OC (from the name) per real time, and the fp32 ones' bytes 4*C*OC.
 * Usage: gbench_check FILE.json REPS THREADS NAME...   (exit 0 ok, 1 with reasons) */
#include "../bench/gbench_json.h"
#include "../common/io.h"
#include "../common/json_parse.h"
#include "../engine/alloc.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fails;
#define EXPECT(cond, ...) \
    do { if (!(cond)) { fprintf(stderr, "gbench_check: " __VA_ARGS__); fputc('\n', stderr); fails++; } } while (0)

static const char *const ctx_keys[] = {"bitbench_git_commit", "bitbench_cpu_model", "bitbench_isa", "bitbench_threads",
                                       "bitbench_repetitions", "bitbench_min_time_s", "library_build_type"};
static const char *const aggregates[] = {"mean", "median", "stddev", "cv"};

/* The value of "/<key>:<v>" in a benchmark name, or -1. */
static double name_arg(const char *name, const char *key) {
    char pat[32];
    snprintf(pat, sizeof pat, "/%s:", key);
    const char *p = strstr(name, pat);
    return p ? atof(p + strlen(pat)) : -1;
}

static bool near(double a, double b) { return fabs(a - b) <= 1e-6 * fabs(b); }

int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: gbench_check FILE.json REPS THREADS NAME...\n"); return 2; }
    int reps = atoi(argv[2]);
    char *text, err[400];
    size_t len;
    if (bb_read_file(argv[1], &text, &len) != 0) { perror(argv[1]); return 1; }
    /* the whole document, strictly, to see the nested env object */
    size_t clean_len;
    char *clean = bb_gbench_sanitize(text, len, &clean_len);
    bb_json_doc *doc = bb_json_parse(clean, clean_len, err, sizeof err);
    EXPECT(doc != NULL, "%s does not parse: %s", argv[1], err);
    if (!doc) return 1;
    const bb_json_node *ctx = bb_json_get(bb_json_doc_root(doc), "context");
    const bb_json_node *env = bb_json_get(ctx, "bitbench_env");
    EXPECT(env && env->type == BB_JSON_OBJECT, "context.bitbench_env is not an object");
    EXPECT(bb_json_get(env, "simd_path") && bb_json_get(env, "git_commit") && bb_json_get(env, "openblas"),
           "bitbench_env lacks simd_path/git_commit/openblas");
    bb_json_doc_free(doc);
    bb_free(clean);

    bb_gb_run run;
    EXPECT(bb_gb_run_parse(&run, text, len, err, sizeof err) == 0, "%s", err);
    bb_free(text);
    for (size_t i = 0; i < sizeof ctx_keys / sizeof ctx_keys[0]; i++)
        EXPECT(bb_gb_run_context(&run, ctx_keys[i]) != NULL, "context has no %s", ctx_keys[i]);
    const char *th = bb_gb_run_context(&run, "bitbench_threads");
    EXPECT(th && strcmp(th, argv[3]) == 0, "bitbench_threads is %s, want %s", th ? th : "(none)", argv[3]);
    for (int a = 4; a < argc; a++) {
        const char *name = argv[a];
        int iters = 0, aggs = 0;
        for (int i = 0; i < run.n; i++) {
            const bb_gb_entry *e = &run.e[i];
            size_t nl = strlen(name);
            if (e->aggregate && strncmp(e->name, name, nl) == 0 && e->name[nl] == '_') {
                for (size_t k = 0; k < 4; k++) aggs += e->aggregate_name && strcmp(e->aggregate_name, aggregates[k]) == 0;
                continue;
            }
            if (strcmp(e->name, name) != 0 || e->aggregate) continue;
            iters++;
            bool packed = strncmp(name, "gemm_forward", 12) == 0 || strncmp(name, "gemv_forward", 12) == 0;
            bool compute = strncmp(name, "sgemm", 5) == 0 || strncmp(name, "attention", 9) == 0 ||
                           strncmp(name, "ref_sgemm", 9) == 0 || strncmp(name, "gemm_forward", 12) == 0;
            EXPECT(e->has_times && e->real_time > 0 && e->cpu_time > 0 && strcmp(e->time_unit, "us") == 0,
                   "%s: times %g/%g %s", name, e->real_time, e->cpu_time, e->time_unit);
            if (packed) {
                EXPECT(e->flops > 0 && e->bytes_per_second > 0, "%s: flops %g and bytes_per_second %g", name, e->flops,
                       e->bytes_per_second);
                double N = name_arg(name, "N"), C = name_arg(name, "C"), OC = name_arg(name, "OC"),
                       secs = e->real_time * bb_gb_unit_seconds(e->time_unit);
                EXPECT(N > 0 && C > 0 && OC > 0 && near(e->flops, 2 * N * C * OC / secs),
                       "%s: flops %g, want 2*N*C*OC / real time = %g", name, e->flops, 2 * N * C * OC / secs);
                if (strstr(name, "/fp32/"))
                    EXPECT(near(e->bytes_per_second, 4 * C * OC / secs), "%s: bytes_per_second %g, want 4*C*OC / %g s",
                           name, e->bytes_per_second, secs);
            }
            else if (compute) EXPECT(e->flops > 0 && isnan(e->bytes_per_second), "%s: flops counter %g", name, e->flops);
            else EXPECT(e->bytes_per_second > 0 && isnan(e->flops), "%s: bytes_per_second %g", name, e->bytes_per_second);
            bool base = strncmp(name, "ref_sgemm/", 10) == 0 || strncmp(name, "ref_triad/", 10) == 0;
            if (base) EXPECT(e->label == NULL, "%s: a ratio base has no label", name);
            else EXPECT(e->label && strncmp(e->label, compute ? "ref_sgemm/" : "ref_triad/", 10) == 0,
                        "%s: label '%s' should name its reference", name, e->label ? e->label : "(none)");
        }
        EXPECT(iters == reps, "%s: %d repetition rows, want %d", name, iters, reps);
        EXPECT(reps < 2 || aggs == 4, "%s: %d of the mean/median/stddev/cv aggregates", name, aggs);
    }
    bb_gb_run_free(&run);
    if (!fails) printf("gbench_check: %s ok (%d kernels)\n", argv[1], argc - 4);
    return fails ? 1 : 0;
}
