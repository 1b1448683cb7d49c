/* compare.c — see compare.h. Follows google/benchmark tools/gbench/report.py
 * (partition_benchmarks, get_difference_report, calc_utest, calculate_geomean,
 * print_difference_report) as of v1.7.1 and HEAD, which agree on everything here. */
#include "compare.h"
#include "../engine/alloc.h"
#include "mannwhitney.h"
#include <math.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

double bb_cmp_change(double old_val, double new_val) {
    if (old_val == 0 && new_val == 0) return 0.0;
    if (old_val == 0) return (new_val - old_val) / ((old_val + new_val) / 2);
    return (new_val - old_val) / fabs(old_val);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bb_median(const double *x, int n) {
    if (n <= 0) return NAN;
    double *s = bb_alloc(BB_MEM_WORKSPACE, (size_t)n * sizeof *s);
    memcpy(s, x, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    double m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    bb_free(s);
    return m;
}

static bool comparable(const bb_gb_entry *e) { return e->has_times; }

/* Entries named `name` (with time_unit `unit`) of run r, as indices; returns the count. */
static int select_entries(const bb_gb_run *r, const char *name, const char *unit, int *idx) {
    int k = 0;
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->e[i].name, name) == 0 && comparable(&r->e[i]) && strcmp(r->e[i].time_unit, unit) == 0)
            idx[k++] = i;
    return k;
}

static bool name_seen_before(const bb_gb_run *r, int i) {
    for (int j = 0; j < i; j++)
        if (strcmp(r->e[j].name, r->e[i].name) == 0) return true;
    return false;
}

static bool has_name(const bb_gb_run *r, const char *name) {
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->e[i].name, name) == 0) return true;
    return false;
}

static double unit_seconds(const char *unit) {
    return strcmp(unit, "ratio") == 0 ? 1.0 : bb_gb_unit_seconds(unit);
}

/* scipy.stats.gmean over the [real, cpu] pairs (in seconds) of all non-aggregates. */
static bool geomean(const bb_gb_run *r, double out[2]) {
    double sum[2] = {0, 0};
    int n = 0;
    for (int i = 0; i < r->n; i++) {
        const bb_gb_entry *e = &r->e[i];
        double s = unit_seconds(e->time_unit);
        if (e->aggregate || !e->has_times || s == 0) continue;
        sum[0] += log(e->real_time * s);
        sum[1] += log(e->cpu_time * s);
        n++;
    }
    if (n == 0) return false;
    out[0] = exp(sum[0] / n);
    out[1] = exp(sum[1] / n);
    return out[0] != 0 || out[1] != 0;  /* numpy .any() */
}

void bb_cmp_report_build(bb_cmp_report *rep, const bb_gb_run *a, const bb_gb_run *b) {
    memset(rep, 0, sizeof *rep);
    rep->rows = bb_alloc(BB_MEM_DATA, (size_t)(a->n + 1) * sizeof *rep->rows);
    int *ia = bb_alloc(BB_MEM_WORKSPACE, (size_t)(a->n + 1) * sizeof *ia);
    int *ib = bb_alloc(BB_MEM_WORKSPACE, (size_t)(b->n + 1) * sizeof *ib);
    double *xa = bb_alloc(BB_MEM_WORKSPACE, (size_t)(a->n + 1) * sizeof *xa);
    double *xb = bb_alloc(BB_MEM_WORKSPACE, (size_t)(b->n + 1) * sizeof *xb);
    for (int i = 0; i < a->n; i++) {
        const bb_gb_entry *first = &a->e[i];
        if (name_seen_before(a, i) || !has_name(b, first->name)) continue;
        /* The time unit comes from the first comparable entry of the old file. */
        const bb_gb_entry *unit_from = NULL;
        for (int j = i; j < a->n && !unit_from; j++)
            if (strcmp(a->e[j].name, first->name) == 0 && comparable(&a->e[j])) unit_from = &a->e[j];
        if (!unit_from) continue;
        int na = select_entries(a, first->name, unit_from->time_unit, ia);
        int nb = select_entries(b, first->name, unit_from->time_unit, ib);
        int pairs = na < nb ? na : nb;
        if (pairs == 0) continue;
        bb_cmp_row *r = &rep->rows[rep->n++];
        r->name = bb_strdup(first->name);
        snprintf(r->time_unit, sizeof r->time_unit, "%s", unit_from->time_unit);
        r->aggregate = a->e[ia[0]].aggregate;
        r->m = bb_alloc(BB_MEM_DATA, (size_t)pairs * sizeof *r->m);
        r->n_m = pairs;
        for (int k = 0; k < pairs; k++) {
            const bb_gb_entry *o = &a->e[ia[k]], *n = &b->e[ib[k]];
            r->m[k] = (bb_cmp_measure){o->real_time, n->real_time, o->cpu_time, n->cpu_time,
                                       bb_cmp_change(o->real_time, n->real_time), bb_cmp_change(o->cpu_time, n->cpu_time)};
        }
        r->n_old = na;
        r->n_new = nb;
        for (int k = 0; k < na; k++) xa[k] = a->e[ia[k]].real_time;
        for (int k = 0; k < nb; k++) xb[k] = b->e[ib[k]].real_time;
        r->median_old = bb_median(xa, na);
        r->median_new = bb_median(xb, nb);
        r->median_change = bb_cmp_change(r->median_old, r->median_new);
        if (na >= BB_UTEST_MIN_REPETITIONS && nb >= BB_UTEST_MIN_REPETITIONS) {
            r->utest = true;
            r->p_time = bb_mannwhitneyu(xa, (size_t)na, xb, (size_t)nb, BB_MWU_AUTO).p;
            for (int k = 0; k < na; k++) xa[k] = a->e[ia[k]].cpu_time;
            for (int k = 0; k < nb; k++) xb[k] = b->e[ib[k]].cpu_time;
            r->p_cpu = bb_mannwhitneyu(xa, (size_t)na, xb, (size_t)nb, BB_MWU_AUTO).p;
        }
    }
    double ga[2], gb[2];
    if (geomean(a, ga) && geomean(b, gb)) {
        rep->has_geomean = true;
        rep->geomean = (bb_cmp_measure){ga[0], gb[0], ga[1], gb[1], bb_cmp_change(ga[0], gb[0]), bb_cmp_change(ga[1], gb[1])};
    }
    bb_free(ia);
    bb_free(ib);
    bb_free(xa);
    bb_free(xb);
}

void bb_cmp_report_free(bb_cmp_report *rep) {
    for (int i = 0; i < rep->n; i++) {
        bb_free(rep->rows[i].name);
        bb_free(rep->rows[i].m);
    }
    bb_free(rep->rows);
    memset(rep, 0, sizeof *rep);
}

static void print_measure(FILE *f, int width, const char *name, const bb_cmp_measure *m, bool ratio) {
    const char *fmt = ratio ? "%-*s%+16.4f%+16.4f%14.4f%14.4f%14.4f%14.4f\n" : "%-*s%+16.4f%+16.4f%14.0f%14.0f%14.0f%14.0f\n";
    fprintf(f, fmt, width, name, m->time_change, m->cpu_change, m->time_old, m->time_new, m->cpu_old, m->cpu_new);
}

void bb_cmp_print(const bb_cmp_report *rep, FILE *f) {
    int width = (int)strlen("Benchmark");
    for (int i = 0; i < rep->n; i++)
        if ((int)strlen(rep->rows[i].name) > width) width = (int)strlen(rep->rows[i].name);
    if (rep->has_geomean && width < (int)strlen("OVERALL_GEOMEAN")) width = (int)strlen("OVERALL_GEOMEAN");
    width += (int)strlen("_pvalue");
    char head[256];
    int hl = snprintf(head, sizeof head, "%-*sTime             CPU      Time Old      Time New       CPU Old       CPU New",
                      width + 12, "Benchmark");
    fprintf(f, "%s\n", head);
    for (int i = 0; i < hl; i++) fputc('-', f);
    fputc('\n', f);
    char pname[1100];
    for (int i = 0; i < rep->n; i++) {
        const bb_cmp_row *r = &rep->rows[i];
        bool ratio = strcmp(r->time_unit, "ratio") == 0;
        for (int k = 0; k < r->n_m; k++) print_measure(f, width, r->name, &r->m[k], ratio);
        if (!r->utest) continue;
        snprintf(pname, sizeof pname, "%s_pvalue", r->name);
        fprintf(f, "%-*s%16.4f%16.4f      U Test, Repetitions: %d vs %d", width, pname, r->p_time, r->p_cpu, r->n_old,
                r->n_new);
        int least = r->n_old < r->n_new ? r->n_old : r->n_new;
        if (least < BB_UTEST_OPTIMAL_REPETITIONS)
            fprintf(f, ". WARNING: Results unreliable! %d+ repetitions recommended.", BB_UTEST_OPTIMAL_REPETITIONS);
        fputc('\n', f);
    }
    if (rep->has_geomean) print_measure(f, width, "OVERALL_GEOMEAN", &rep->geomean, false);
}

bb_gate_verdict bb_cmp_gate_row(const bb_cmp_row *r, double alpha, double threshold) {
    if (r->aggregate) return BB_GATE_NOT_GATED;
    if (r->n_old < BB_UTEST_OPTIMAL_REPETITIONS || r->n_new < BB_UTEST_OPTIMAL_REPETITIONS) return BB_GATE_TOO_FEW;
    if (!(r->p_time < alpha)) return BB_GATE_SAME;  /* NaN p is not significant */
    if (r->median_change > threshold) return BB_GATE_REGRESSION;
    return r->median_change > 0 ? BB_GATE_SLOWER : BB_GATE_FASTER;
}

const char *bb_gate_verdict_name(bb_gate_verdict v) {
    static const char *const names[] = {
        [BB_GATE_NOT_GATED] = "not gated (aggregate)",
        [BB_GATE_TOO_FEW] = "not gated (fewer than 9 repetitions)",
        [BB_GATE_SAME] = "no significant change",
        [BB_GATE_FASTER] = "faster",
        [BB_GATE_SLOWER] = "slower, within the threshold",
        [BB_GATE_REGRESSION] = "REGRESSION",
    };
    return names[v];
}

bb_gate_summary bb_cmp_gate_print(const bb_cmp_report *rep, double alpha, double threshold, FILE *f) {
    bb_gate_summary s = {0, 0, 0};
    int width = (int)strlen("Benchmark");
    for (int i = 0; i < rep->n; i++)
        if (!rep->rows[i].aggregate && (int)strlen(rep->rows[i].name) > width) width = (int)strlen(rep->rows[i].name);
    fprintf(f, "\nRegression gate: U test on real time p < %g and median real time slower by more than %+.2f%%\n", alpha,
            100 * threshold);
    fprintf(f, "%-*s %17s %17s %9s %9s %9s  %s\n", width, "Benchmark", "Median old", "Median new", "Change", "p-value",
            "Reps", "Verdict");
    for (int i = 0; i < rep->n; i++) {
        const bb_cmp_row *r = &rep->rows[i];
        bb_gate_verdict v = bb_cmp_gate_row(r, alpha, threshold);
        if (v == BB_GATE_NOT_GATED) continue;
        char reps[32], p[16];
        snprintf(reps, sizeof reps, "%d/%d", r->n_old, r->n_new);
        if (r->utest) snprintf(p, sizeof p, "%.4f", r->p_time);
        else snprintf(p, sizeof p, "-");
        fprintf(f, "%-*s %11.6g %-5s %11.6g %-5s %+8.2f%% %9s %9s  %s\n", width, r->name, r->median_old, r->time_unit,
                r->median_new, r->time_unit, 100 * r->median_change, p, reps, bb_gate_verdict_name(v));
        if (v == BB_GATE_TOO_FEW) s.too_few++;
        else s.gated++;
        if (v == BB_GATE_REGRESSION) s.regressions++;
    }
    return s;
}

/* Replaces r by out, keeping r's context. */
static void replace_run(bb_gb_run *r, bb_gb_run *out) {
    out->ctx_keys = r->ctx_keys;
    out->ctx_values = r->ctx_values;
    out->n_ctx = r->n_ctx;
    r->ctx_keys = r->ctx_values = NULL;
    r->n_ctx = 0;
    bb_gb_run_free(r);
    *r = *out;
}

int bb_gb_run_filter(bb_gb_run *r, const char *regex, const char *replacement, char *err, size_t err_len) {
    regex_t re;
    int rc = regcomp(&re, regex, REG_EXTENDED);
    if (rc != 0) {
        char why[200];
        regerror(rc, &re, why, sizeof why);
        snprintf(err, err_len, "bad regular expression '%s': %s", regex, why);
        return -1;
    }
    bb_gb_run out = {0};
    size_t rl = strlen(replacement);
    for (int i = 0; i < r->n; i++) {
        const char *name = r->e[i].name;
        regmatch_t m;
        if (regexec(&re, name, 1, &m, 0) != 0) continue;
        /* re.sub: replace every non-overlapping match, left to right. */
        size_t cap = strlen(name) * (rl + 1) + rl + 1, o = 0;
        char *renamed = bb_alloc(BB_MEM_OTHER, cap);
        const char *p = name;
        int flags = 0;
        while (*p && regexec(&re, p, 1, &m, flags) == 0) {
            memcpy(renamed + o, p, (size_t)m.rm_so), o += (size_t)m.rm_so;
            memcpy(renamed + o, replacement, rl), o += rl;
            if (m.rm_eo == m.rm_so) {  /* empty match: copy one character and move on */
                if (!p[m.rm_eo]) { p += m.rm_eo; break; }
                renamed[o++] = p[m.rm_eo];
                p += m.rm_eo + 1;
            } else {
                p += m.rm_eo;
            }
            flags = REG_NOTBOL;
        }
        size_t rest = strlen(p);
        memcpy(renamed + o, p, rest + 1);
        bb_gb_entry e = r->e[i];
        e.name = renamed;
        bb_gb_run_push(&out, &e);
        bb_free(renamed);
    }
    regfree(&re);
    replace_run(r, &out);
    return 0;
}

int bb_gb_run_to_ratios(bb_gb_run *r) {
    bb_gb_run out = {0};
    int dropped = 0;
    double *xr = bb_alloc(BB_MEM_WORKSPACE, (size_t)(r->n + 1) * sizeof *xr);
    double *xc = bb_alloc(BB_MEM_WORKSPACE, (size_t)(r->n + 1) * sizeof *xc);
    for (int i = 0; i < r->n; i++) {
        const bb_gb_entry *e = &r->e[i];
        if (e->aggregate) continue;
        int k = 0;
        if (e->label && e->has_times)
            for (int j = 0; j < r->n; j++) {
                const bb_gb_entry *ref = &r->e[j];
                if (!ref->aggregate && ref->has_times && strcmp(ref->name, e->label) == 0 &&
                    strcmp(ref->time_unit, e->time_unit) == 0) {
                    xr[k] = ref->real_time;
                    xc[k++] = ref->cpu_time;
                }
            }
        if (k == 0) { dropped++; continue; }
        bb_gb_entry n = *e;
        n.real_time = e->real_time / bb_median(xr, k);
        n.cpu_time = e->cpu_time / bb_median(xc, k);
        snprintf(n.time_unit, sizeof n.time_unit, "ratio");
        bb_gb_run_push(&out, &n);
    }
    bb_free(xr);
    bb_free(xc);
    replace_run(r, &out);
    return dropped;
}
