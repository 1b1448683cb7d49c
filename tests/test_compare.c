/* test_compare.c — the Mann–Whitney U test and `bench compare` against
 * shared/vectors/gbench-compare.md (V1 rows, V2 filters, V3 rows with U test, V4
 * p-values to 1e-6), the exact null distribution against brute-force enumeration, the
 * regression gate, --ratio and NaN/Infinity input. Fixtures: tests/data/gbench/. */
#include "../bench/compare.h"
#include "../bench/gbench_json.h"
#include "../bench/mannwhitney.h"
#include "../engine/alloc.h"
#include "test.h"
#include <math.h>

#ifndef BB_SOURCE_ROOT
#define BB_SOURCE_ROOT "."
#endif
#define FIXTURE(f) BB_SOURCE_ROOT "/tests/data/gbench/" f

/* ---- Mann–Whitney -------------------------------------------------------------------- */

typedef struct {
    double x[9], y[9];
    int n1, n2;
    double u, p_auto, p_exact, p_asym;  /* NAN: not given by the vectors */
} mwu_vector;

/* V4: scipy 1.10.1 mannwhitneyu(x, y, alternative="two-sided"). */
static const mwu_vector v4[] = {
    {{9, 8}, {10, 7}, 2, 2, 2.0, 1.0, 1.0, 1.0},
    {{90, 86}, {89, 72}, 2, 2, 3.0, 0.666667, 0.666667, 0.698535},
    {{8, 8}, {7, 4.54, 800}, 2, 3, 4.0, 0.767097, 0.8, 0.767097},
    {{80, 77}, {75, 66.6, 1}, 2, 3, 6.0, 0.2, 0.2, 0.148915},
    {{10.0, 10.2, 9.9, 10.1, 10.05, 9.95, 10.0, 10.3, 9.8},
     {10.5, 10.6, 10.4, 10.7, 10.55, 10.45, 10.5, 10.65, 10.35}, 9, 9, 0.0, 0.000406639, NAN, NAN},
};

/* Beyond the vectors: computed here with scipy 1.10.1 (pip) to cover the exact method with
 * one large sample and the tie-corrected normal approximation at 10 vs 11. */
static void test_mwu_scipy_extra(void) {
    double y30[30];
    for (int i = 0; i < 30; i++) y30[i] = i;
    static const double x5[5] = {1.5, 3.5, 7.5, 12.5, 20.5};
    static const double x8[8] = {0.3, 1.1, 2.9, 4.2, 5.0, 6.6, 7.7, 8.1};
    static const double y10[10] = {2.2, 3.3, 9.9, 10.4, 11.0, 12.5, 13.1, 14.2, 15.0, 16.3};
    static const double t10[10] = {1, 2, 2, 3, 3, 3, 4, 4, 5, 6}, t11[11] = {3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 9};
    struct { bb_mwu_result r; double u, p; } c[3] = {
        {bb_mannwhitneyu(x5, 5, y30, 30, BB_MWU_AUTO), 48.0, 0.21904802976909235},
        {bb_mannwhitneyu(x8, 8, y10, 10, BB_MWU_AUTO), 11.0, 0.008547008547008548},
        {bb_mannwhitneyu(t10, 10, t11, 11, BB_MWU_AUTO), 15.5, 0.005546635042371022},
    };
    for (int i = 0; i < 3; i++)
        CHECK(c[i].r.u1 == c[i].u && fabs(c[i].r.p - c[i].p) < 1e-12, "case %d: U %g p %.17g, scipy %g %.17g", i,
              c[i].r.u1, c[i].r.p, c[i].u, c[i].p);
    CHECK(c[0].r.exact && c[1].r.exact && !c[2].r.exact, "methods");
}

static void test_mwu_vectors(void) {
    for (size_t i = 0; i < sizeof v4 / sizeof v4[0]; i++) {
        const mwu_vector *v = &v4[i];
        bb_mwu_result a = bb_mannwhitneyu(v->x, (size_t)v->n1, v->y, (size_t)v->n2, BB_MWU_AUTO);
        CHECK(a.u1 == v->u, "row %zu: U %g, want %g", i + 1, a.u1, v->u);
        /* the vectors print 6 decimals (row 5: 9 significant digits) */
        double tol = i == 4 ? 1e-9 : 1e-6;
        CHECK(fabs(a.p - v->p_auto) <= tol, "row %zu: auto p %.9f, want %.9f", i + 1, a.p, v->p_auto);
        if (!isnan(v->p_exact)) {
            double p = bb_mannwhitneyu(v->x, (size_t)v->n1, v->y, (size_t)v->n2, BB_MWU_EXACT).p;
            CHECK(fabs(p - v->p_exact) <= 1e-6, "row %zu: exact p %.9f, want %.6f", i + 1, p, v->p_exact);
        }
        if (!isnan(v->p_asym)) {
            double p = bb_mannwhitneyu(v->x, (size_t)v->n1, v->y, (size_t)v->n2, BB_MWU_ASYMPTOTIC).p;
            CHECK(fabs(p - v->p_asym) <= 1e-6, "row %zu: asymptotic p %.9f, want %.6f", i + 1, p, v->p_asym);
        }
    }
    /* auto picks exact only without ties and with a sample of <= 8 */
    CHECK(bb_mannwhitneyu(v4[1].x, 2, v4[1].y, 2, BB_MWU_AUTO).exact, "row 2 should be exact");
    CHECK(!bb_mannwhitneyu(v4[2].x, 2, v4[2].y, 3, BB_MWU_AUTO).exact, "row 3 has ties: asymptotic");
    CHECK(!bb_mannwhitneyu(v4[4].x, 9, v4[4].y, 9, BB_MWU_AUTO).exact, "row 5: both > 8");
}

/* Enumerate every way to pick which n1 of the n1+n2 ranks belong to x; U = sum over x
 * of the y values below it. */
static void brute_counts(int n1, int n2, double *count) {
    int n = n1 + n2;
    for (int k = 0; k <= n1 * n2; k++) count[k] = 0;
    for (unsigned mask = 0; mask < (1u << n); mask++) {
        if (__builtin_popcount(mask) != n1) continue;
        int u = 0, ys = 0;
        for (int b = 0; b < n; b++) {
            if (mask & (1u << b)) u += ys;
            else ys++;
        }
        count[u] += 1;
    }
}

static void test_mwu_exact_brute_force(void) {
    double count[200];
    for (int n1 = 1; n1 <= 7; n1++)
        for (int n2 = 1; n2 <= 8; n2++) {
            brute_counts(n1, n2, count);
            double total = 0;
            for (int k = 0; k <= n1 * n2; k++) total += count[k];
            double tail = 0;
            for (int k = n1 * n2; k >= 0; k--) {
                tail += count[k];
                double sf = bb_mwu_exact_sf(k, (size_t)n1, (size_t)n2);
                CHECK(fabs(sf - tail / total) < 1e-12, "n1=%d n2=%d k=%d: sf %.15f, brute force %.15f", n1, n2, k, sf,
                      tail / total);
            }
        }
    /* large samples: exact and asymptotic agree roughly, p symmetric in x and y */
    double x[8], y[200];
    for (int i = 0; i < 8; i++) x[i] = 1.5 + 2.0 * i;
    for (int i = 0; i < 200; i++) y[i] = 0.1 * i;
    bb_mwu_result e = bb_mannwhitneyu(x, 8, y, 200, BB_MWU_EXACT), a = bb_mannwhitneyu(x, 8, y, 200, BB_MWU_ASYMPTOTIC);
    bb_mwu_result s = bb_mannwhitneyu(y, 200, x, 8, BB_MWU_EXACT);
    CHECK(fabs(e.p - a.p) < 0.02, "8 vs 200: exact %.6f asymptotic %.6f", e.p, a.p);
    CHECK(fabs(e.p - s.p) < 1e-12, "swapping samples changed p: %.15f vs %.15f", e.p, s.p);
    /* all values tied: p = 1 (scipy: z = -inf) */
    double t1[3] = {5, 5, 5}, t2[4] = {5, 5, 5, 5};
    CHECK(bb_mannwhitneyu(t1, 3, t2, 4, BB_MWU_AUTO).p == 1.0, "all tied should give p = 1");
    double nanv[2] = {1, NAN};
    CHECK(isnan(bb_mannwhitneyu(nanv, 2, t2, 4, BB_MWU_AUTO).p), "NaN input should give NaN p");
}

/* ---- report rows ------------------------------------------------------------------- */

/* Prints the report, drops the two header lines and compares each line's
 * whitespace-separated tokens with the expected line's (report.py's unit tests do the same). */
static void check_rows(const bb_cmp_report *rep, const char *const *want, int n_want, const char *what) {
    FILE *f = tmpfile();
    bb_cmp_print(rep, f);
    rewind(f);
    char line[1024];
    int got = -2;
    while (fgets(line, sizeof line, f)) {
        if (got++ < 0) continue;
        if (got > n_want) {
            CHECK(0, "%s: extra line %s", what, line);
            continue;
        }
        char a[1024], b[1024];
        /* normalise whitespace of both to single spaces */
        int ka = 0, kb = 0;
        for (const char *p = line; *p; p++)
            if (*p != ' ' && *p != '\n') a[ka++] = *p;
            else if (ka && a[ka - 1] != ' ') a[ka++] = ' ';
        while (ka && a[ka - 1] == ' ') ka--;
        a[ka] = '\0';
        for (const char *p = want[got - 1]; *p; p++)
            if (*p != ' ') b[kb++] = *p;
            else if (kb && b[kb - 1] != ' ') b[kb++] = ' ';
        while (kb && b[kb - 1] == ' ') kb--;
        b[kb] = '\0';
        CHECK(strcmp(a, b) == 0, "%s line %d:\n      got  '%s'\n      want '%s'", what, got, a, b);
    }
    CHECK(got == n_want, "%s: %d rows, want %d", what, got, n_want);
    fclose(f);
}

static void load(bb_gb_run *r, const char *path) {
    char err[512];
    if (bb_gb_run_load(r, path, err, sizeof err) != 0) {
        CHECK(0, "%s", err);
        exit(1);
    }
}

static void test_v1_rows(void) {
    static const char *const want[] = {
        "BM_SameTimes +0.0000 +0.0000 10 10 10 10",
        "BM_2xFaster -0.5000 -0.5000 50 25 50 25",
        "BM_2xSlower +1.0000 +1.0000 50 100 50 100",
        "BM_1PercentFaster -0.0100 -0.0100 100 99 100 99",
        "BM_1PercentSlower +0.0100 +0.0100 100 101 100 101",
        "BM_10PercentFaster -0.1000 -0.1000 100 90 100 90",
        "BM_10PercentSlower +0.1000 +0.1000 100 110 100 110",
        "BM_100xSlower +99.0000 +99.0000 100 10000 100 10000",
        "BM_100xFaster -0.9900 -0.9900 10000 100 10000 100",
        "BM_10PercentCPUToTime +0.1000 -0.1000 100 110 100 90",
        "BM_ThirdFaster -0.3333 -0.3334 100 67 100 67",
        "BM_NotBadTimeUnit -0.9000 +0.2000 0 0 0 1",
        "BM_hasLabel +0.0000 +0.0000 1 1 1 1",
        "OVERALL_GEOMEAN -0.8113 -0.7779 0 0 0 0",
    };
    bb_gb_run a, b;
    load(&a, FIXTURE("test1_run1.json"));
    load(&b, FIXTURE("test1_run2.json"));
    bb_cmp_report rep;
    bb_cmp_report_build(&rep, &a, &b);
    check_rows(&rep, want, (int)(sizeof want / sizeof want[0]), "V1");
    /* geomean to a relative tolerance (the vectors note last-ulp differences) */
    CHECK(fabs(rep.geomean.time_change - -0.8113) < 5e-5, "V1 geomean time change %.6f", rep.geomean.time_change);
    for (int i = 0; i < rep.n; i++) CHECK(!rep.rows[i].utest, "V1 has one repetition: no U test for %s", rep.rows[i].name);
    bb_cmp_report_free(&rep);
    bb_gb_run_free(&a);
    bb_gb_run_free(&b);
}

static void test_v2_filters(void) {
    static const char *const want[] = {
        ". -0.5000 -0.5000 10 5 10 5",
        "./4 -0.5000 -0.5000 40 20 40 20",
        "Prefix/. -0.5000 -0.5000 20 10 20 10",
        "Prefix/./3 -0.5000 -0.5000 30 15 30 15",
        "OVERALL_GEOMEAN -0.5000 -0.5000 0 0 0 0",
    };
    bb_gb_run a, b;
    char err[256];
    load(&a, FIXTURE("test2_run.json"));
    load(&b, FIXTURE("test2_run.json"));
    CHECK(bb_gb_run_filter(&a, "BM_Zero", ".", err, sizeof err) == 0, "%s", err);
    CHECK(bb_gb_run_filter(&b, "BM_One", ".", err, sizeof err) == 0, "%s", err);
    bb_cmp_report rep;
    bb_cmp_report_build(&rep, &a, &b);
    check_rows(&rep, want, (int)(sizeof want / sizeof want[0]), "V2");
    bb_cmp_report_free(&rep);
    CHECK(bb_gb_run_filter(&a, "(", ".", err, sizeof err) == -1, "a bad regex must fail");
    CHECK(strstr(err, "bad regular expression") != NULL, "reason: %s", err);
    bb_gb_run_free(&a);
    bb_gb_run_free(&b);
}

static void test_v3_utest(void) {
    static const char *const want[] = {
        "BM_One -0.1000 +0.1000 10 9 100 110",
        "BM_Two +0.1111 -0.0111 9 10 90 89",
        "BM_Two -0.1250 -0.1628 8 7 86 72",
        "BM_Two_pvalue 1.0000 0.6667 U Test, Repetitions: 2 vs 2. WARNING: Results unreliable! 9+ repetitions recommended.",
        "short -0.1250 -0.0625 8 7 80 75",
        "short -0.4325 -0.1351 8 5 77 67",
        "short_pvalue 0.7671 0.2000 U Test, Repetitions: 2 vs 3. WARNING: Results unreliable! 9+ repetitions recommended.",
        "medium -0.3750 -0.3375 8 5 80 53",
        "OVERALL_GEOMEAN +1.6405 -0.6985 0 0 0 0",
    };
    bb_gb_run a, b;
    load(&a, FIXTURE("test3_run0.json"));
    load(&b, FIXTURE("test3_run1.json"));
    bb_cmp_report rep;
    bb_cmp_report_build(&rep, &a, &b);
    check_rows(&rep, want, (int)(sizeof want / sizeof want[0]), "V3");
    /* p-values to 1e-6 (V4 rows 1-4 are these samples) */
    for (int i = 0; i < rep.n; i++) {
        const bb_cmp_row *r = &rep.rows[i];
        if (strcmp(r->name, "short") == 0) {
            CHECK(fabs(r->p_time - 0.767097) < 1e-6 && fabs(r->p_cpu - 0.2) < 1e-6, "short p %.7f %.7f", r->p_time,
                  r->p_cpu);
            CHECK(r->n_old == 2 && r->n_new == 3 && r->n_m == 2, "short pairing %d vs %d, %d rows", r->n_old, r->n_new,
                  r->n_m);
        }
        if (strcmp(r->name, "BM_Two") == 0)
            CHECK(fabs(r->p_time - 1.0) < 1e-6 && fabs(r->p_cpu - 0.666667) < 1e-6, "BM_Two p %.7f %.7f", r->p_time,
                  r->p_cpu);
        if (strcmp(r->name, "medium") == 0 || strcmp(r->name, "BM_One") == 0)
            CHECK(!r->utest, "%s has a side with one value: no U test", r->name);
        /* none of these has 9 repetitions: never gated */
        bb_gate_verdict v = bb_cmp_gate_row(r, 0.05, 0.05);
        CHECK(v == BB_GATE_TOO_FEW || v == BB_GATE_NOT_GATED, "%s gated with too few repetitions", r->name);
    }
    bb_cmp_report_free(&rep);
    bb_gb_run_free(&a);
    bb_gb_run_free(&b);
}

/* ---- gate ------------------------------------------------------------------------- */

static void add_reps(bb_gb_run *r, const char *name, const double *t, int n, const char *label) {
    for (int i = 0; i < n; i++) {
        bb_gb_entry e = {.name = (char *)name, .label = (char *)label, .has_times = true, .real_time = t[i],
                         .cpu_time = t[i], .iterations = 100};
        snprintf(e.time_unit, sizeof e.time_unit, "us");
        bb_gb_run_push(r, &e);
    }
}

static bb_gate_verdict gate_of(const double *x, int nx, const double *y, int ny, double alpha, double thr) {
    bb_gb_run a = {0}, b = {0};
    add_reps(&a, "k", x, nx, NULL);
    add_reps(&b, "k", y, ny, NULL);
    bb_cmp_report rep;
    bb_cmp_report_build(&rep, &a, &b);
    bb_gate_verdict v = rep.n == 1 ? bb_cmp_gate_row(&rep.rows[0], alpha, thr) : BB_GATE_NOT_GATED;
    bb_cmp_report_free(&rep);
    bb_gb_run_free(&a);
    bb_gb_run_free(&b);
    return v;
}

static void test_gate(void) {
    const double *x = v4[4].x, *y = v4[4].y;  /* y is 5.0% slower at the median, p = 0.0004 */
    CHECK(gate_of(x, 9, y, 9, 0.05, 0.04) == BB_GATE_REGRESSION, "+5%% with p=0.0004 over a 4%% threshold");
    CHECK(gate_of(x, 9, y, 9, 0.05, 0.05) == BB_GATE_SLOWER, "+5.0%% is not more than a 5%% threshold");
    CHECK(gate_of(x, 9, y, 9, 0.0001, 0.04) == BB_GATE_SAME, "p=0.0004 is not below alpha 0.0001");
    CHECK(gate_of(y, 9, x, 9, 0.05, 0.04) == BB_GATE_FASTER, "the reverse is faster");
    CHECK(gate_of(x, 8, y, 9, 0.05, 0.04) == BB_GATE_TOO_FEW, "8 repetitions are too few");
    CHECK(gate_of(x, 9, x, 9, 0.05, 0.0) == BB_GATE_SAME, "identical samples");
    double slow[9];
    for (int i = 0; i < 9; i++) slow[i] = 10 * x[i];
    CHECK(gate_of(x, 9, slow, 9, 0.05, 0.05) == BB_GATE_REGRESSION, "10x slower");
}

static void test_ratio(void) {
    /* kernel k measured against reference r: in the new run the machine is 2x slower
     * (both doubled): raw times regress, ratios do not; then k alone gets 2x slower. */
    double rt[9], kt[9], rt2[9], kt2[9], kt3[9];
    for (int i = 0; i < 9; i++) {
        rt[i] = 100 + i;
        kt[i] = 10 + 0.1 * ((i * 7) % 9);
        rt2[i] = 2 * rt[i];
        kt2[i] = 2 * kt[i];
        kt3[i] = 2 * kt[i];
    }
    bb_gb_run a = {0}, b = {0}, c = {0};
    add_reps(&a, "ref", rt, 9, NULL);
    add_reps(&a, "k", kt, 9, "ref");
    add_reps(&b, "ref", rt2, 9, NULL);
    add_reps(&b, "k", kt2, 9, "ref");
    add_reps(&c, "ref", rt, 9, NULL);
    add_reps(&c, "k", kt3, 9, "ref");
    bb_gb_entry agg = {.name = "k_mean", .label = "ref", .aggregate = true, .has_times = true, .real_time = 1, .cpu_time = 1};
    snprintf(agg.time_unit, sizeof agg.time_unit, "us");
    bb_gb_run_push(&a, &agg);
    bb_cmp_report rep;
    bb_cmp_report_build(&rep, &a, &b);
    CHECK(rep.n == 2 && bb_cmp_gate_row(&rep.rows[1], 0.05, 0.05) == BB_GATE_REGRESSION, "raw: machine slowdown flagged");
    bb_cmp_report_free(&rep);
    CHECK(bb_gb_run_to_ratios(&a) == 9, "the reference's 9 rows are dropped");
    CHECK(a.n == 9 && strcmp(a.e[0].time_unit, "ratio") == 0, "9 ratio rows, unit %s", a.e[0].time_unit);
    CHECK(fabs(a.e[0].real_time - 10.0 / 104.0) < 1e-12, "ratio = time / reference median: %g", a.e[0].real_time);
    bb_gb_run_to_ratios(&b);
    bb_gb_run_to_ratios(&c);
    bb_cmp_report_build(&rep, &a, &b);
    CHECK(rep.n == 1 && bb_cmp_gate_row(&rep.rows[0], 0.05, 0.05) == BB_GATE_SAME, "ratio: machine slowdown cancels");
    bb_cmp_report_free(&rep);
    bb_cmp_report_build(&rep, &a, &c);
    CHECK(rep.n == 1 && bb_cmp_gate_row(&rep.rows[0], 0.05, 0.05) == BB_GATE_REGRESSION, "ratio: kernel slowdown flagged");
    bb_cmp_report_free(&rep);
    bb_gb_run_free(&a);
    bb_gb_run_free(&b);
    bb_gb_run_free(&c);
}

/* ---- input ------------------------------------------------------------------------ */

static void test_nonfinite(void) {
    bb_gb_run r;
    load(&r, FIXTURE("nonfinite.json"));
    CHECK(r.n == 2, "%d entries", r.n);
    CHECK(isnan(r.e[0].real_time) && r.e[0].has_times, "NaN real_time reads as NaN");
    CHECK(isinf(r.e[0].cpu_time) && r.e[0].cpu_time < 0, "-Infinity cpu_time: %g", r.e[0].cpu_time);
    CHECK(isinf(r.e[0].flops) && r.e[0].flops > 0, "Infinity counter: %g", r.e[0].flops);
    CHECK(r.e[0].bytes_per_second == 1.5e9, "finite counter");
    CHECK(strcmp(r.e[1].label, "NaN Infinity") == 0, "strings untouched: '%s'", r.e[1].label);
    CHECK(r.e[1].real_time == 2.0 && strcmp(r.e[1].time_unit, "us") == 0, "plain entry");
    bb_gb_run_free(&r);
    const char *text = "{\"a\": \"x\\\"NaN\", \"b\": [NaN, -Infinity, Infinity]}";
    size_t n;
    char *clean = bb_gbench_sanitize(text, strlen(text), &n);
    CHECK(strcmp(clean, "{\"a\": \"x\\\"NaN\", \"b\": [null, -1e999, 1e999]}") == 0, "sanitized: %s", clean);
    bb_free(clean);
    char err[256];
    CHECK(bb_gb_run_parse(&r, "{\"context\": {}}", 15, err, sizeof err) == -1 && strstr(err, "benchmarks"),
          "no benchmarks array: %s", err);
    CHECK(bb_gb_run_parse(&r, "{\"benchmarks\": [1]}", 19, err, sizeof err) == -1 && strstr(err, "name"),
          "entry without a name: %s", err);
    CHECK(bb_gb_run_load(&r, FIXTURE("missing.json"), err, sizeof err) == -1 && strstr(err, "missing.json"),
          "missing file: %s", err);
    CHECK(bb_mem_stats_get().current_total == 0, "leaked %zu bytes", bb_mem_stats_get().current_total);
}

static const bb_test_case cases[] = {
    {"mwu_vectors", test_mwu_vectors},
    {"mwu_scipy_extra", test_mwu_scipy_extra},
    {"mwu_exact_brute_force", test_mwu_exact_brute_force},
    {"v1_rows", test_v1_rows},
    {"v2_filters", test_v2_filters},
    {"v3_utest", test_v3_utest},
    {"gate", test_gate},
    {"ratio", test_ratio},
    {"nonfinite", test_nonfinite},
};
BB_TEST_MAIN(cases)
