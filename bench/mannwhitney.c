/* mannwhitney.c — see mannwhitney.h. Sources: scipy 1.10 scipy/stats/_mannwhitneyu.py
 * (_mwu_choose_method, _get_mwu_z, _tie_term, _mwu_state.sf) and rankdata(method="average").
 *
 * The exact null distribution: the number of orderings with U = k is the number of
 * partitions of k into at most m parts, each at most n, i.e. the coefficient of q^k in
 * the Gaussian binomial [m+n choose m]_q = prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i)
 * (Mann & Whitney 1947; Andrews, "The Theory of Partitions", ch. 3). Multiplying and
 * dividing by (1 - q^j) only ever looks at lower coefficients, so the series may be cut
 * at degree m*n throughout. Counts are kept in doubles: exact while below 2^53 (e.g.
 * m = 8, n <= 400); beyond that only the last bits of a p-value move. */
#include "mannwhitney.h"
#include "../engine/alloc.h"
#include <math.h>
#include <stdlib.h>

typedef struct {
    double v;
    size_t i;
} ranked;

static int cmp_ranked(const void *a, const void *b) {
    double x = ((const ranked *)a)->v, y = ((const ranked *)b)->v;
    return (x > y) - (x < y);
}

double bb_mwu_exact_sf(long k, size_t n1, size_t n2) {
    size_t m = n1 < n2 ? n1 : n2, n = n1 < n2 ? n2 : n1, deg = m * n;
    if (k <= 0) return 1.0;
    if ((size_t)k > deg) return 0.0;
    double *a = bb_alloc(BB_MEM_WORKSPACE, (deg + 1) * sizeof *a);
    a[0] = 1.0;
    for (size_t i = 1; i <= m; i++) {
        for (size_t j = deg; j >= n + i && j <= deg; j--) a[j] -= a[j - n - i];  /* * (1 - q^(n+i)) */
        for (size_t j = i; j <= deg; j++) a[j] += a[j - i];                        /* / (1 - q^i) */
    }
    /* Sum the smaller tail and use the symmetry a[j] = a[deg - j] (scipy sums from the left). */
    double total = 0.0, tail = 0.0;
    for (size_t j = 0; j <= deg; j++) total += a[j];
    size_t kc = deg - (size_t)k;  /* P(U >= k) = P(U <= deg - k) */
    for (size_t j = 0; j <= kc; j++) tail += a[j];
    bb_free(a);
    return tail / total;
}

bb_mwu_result bb_mannwhitneyu(const double *x, size_t n1, const double *y, size_t n2, bb_mwu_method method) {
    bb_mwu_result r = {NAN, NAN, false, false};
    if (n1 == 0 || n2 == 0) return r;
    size_t n = n1 + n2;
    ranked *xy = bb_alloc(BB_MEM_WORKSPACE, n * sizeof *xy);
    for (size_t i = 0; i < n; i++) {
        xy[i].v = i < n1 ? x[i] : y[i - n1];
        xy[i].i = i;
        if (isnan(xy[i].v)) { bb_free(xy); return r; }
    }
    qsort(xy, n, sizeof *xy, cmp_ranked);
    /* Average ranks of tied groups; R1 = sum of x's ranks; tie term sum(t^3 - t). */
    double r1 = 0.0, tie_term = 0.0;
    for (size_t lo = 0; lo < n;) {
        size_t hi = lo + 1;
        while (hi < n && xy[hi].v == xy[lo].v) hi++;
        double t = (double)(hi - lo), rank = (double)(lo + 1 + hi) / 2.0;  /* mean of lo+1 .. hi */
        for (size_t j = lo; j < hi; j++)
            if (xy[j].i < n1) r1 += rank;
        tie_term += t * t * t - t;
        lo = hi;
    }
    bb_free(xy);
    double dn1 = (double)n1, dn2 = (double)n2;
    r.u1 = r1 - dn1 * (dn1 + 1.0) / 2.0;
    double u2 = dn1 * dn2 - r.u1, u = r.u1 > u2 ? r.u1 : u2;
    r.ties = tie_term > 0.0;
    if (method == BB_MWU_AUTO) method = (n1 > 8 && n2 > 8) || r.ties ? BB_MWU_ASYMPTOTIC : BB_MWU_EXACT;
    if (method == BB_MWU_EXACT) {
        r.exact = true;
        r.p = 2.0 * bb_mwu_exact_sf(lround(u), n1, n2);
    } else {
        double dn = (double)n, mu = dn1 * dn2 / 2.0;
        double s = sqrt(dn1 * dn2 / 12.0 * ((dn + 1.0) - tie_term / (dn * (dn - 1.0))));
        /* s == 0 only when every value is tied: then U == mu and scipy's z is -inf, p = 1. */
        r.p = s > 0.0 ? erfc((u - mu - 0.5) / s / sqrt(2.0)) : 1.0;  /* 2 * norm.sf(z) */
    }
    if (r.p > 1.0) r.p = 1.0;
    if (r.p < 0.0) r.p = 0.0;
    return r;
}
