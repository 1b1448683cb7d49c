/* test_bleu.c — every vector of ../shared/vectors/sacrebleu.md against eval/bleu.h,
 * eval/chrf.h and eval/tokenize.h: [T] sacreBLEU 2.6.0's own pytest cases (test_bleu.py,
 * test_sentence_bleu.py, test_chrf.py), [H] the Hugging Face evaluate doc examples, [G1]
 * 13a tokenizer pairs, [G2] full BLEU statistics / sentence BLEU / compute_bleu from
 * statistics, [G3] chrF/chrF++, [G5] the sacreBLEU side of the NLTK comparison — each
 * within the tolerance the vectors file lists (table below), plus Unicode lowering and
 * whitespace checks. A failure prints the case, what we got and what was expected; each
 * category ends with "N/M vectors pass". */
#include "../common/check.h"
#include "../eval/bleu.h"
#include "../eval/chrf.h"
#include "../eval/tokenize.h"
#include "../eval/unicode.h"
#include "test.h"
#include <math.h>

/* Tolerances per vector source, as the vectors file states them (scale of the compared value). */
typedef enum { TOL_TEST_BLEU, TOL_TEST_SENTENCE, TOL_TEST_CHRF, TOL_GENERATED, TOL_COUNT } tol_kind;
static const struct {
    const char *source;
    double tol;
} tolerances[TOL_COUNT] = {
    [TOL_TEST_BLEU] = {"test_bleu.py EPSILON", 1e-8},
    [TOL_TEST_SENTENCE] = {"test_sentence_bleu.py EPSILON", 1e-3},
    [TOL_TEST_CHRF] = {"test_chrf.py EPSILON", 1e-4},
    [TOL_GENERATED] = {"generated vectors (0..100 scale)", 1e-8},
};

/* Pass counts per category, printed by each test. */
static int cat_pass, cat_total;
static void cat_begin(void) { cat_pass = cat_total = 0; }
static void cat_end(const char *name) { printf("     %s: %d/%d vectors pass\n", name, cat_pass, cat_total); }

static bool near(double got, double want, tol_kind t) { return fabs(got - want) < tolerances[t].tol; }

static void vector_result(const char *name, bool ok, double got, double want, tol_kind t) {
    cat_total++;
    cat_pass += ok;
    CHECK(ok, "%s: got %.17g, expected %.17g (tolerance %g, %s)", name, got, want, tolerances[t].tol,
          tolerances[t].source);
}

static bb_bleu_opts bleu_opts(bb_tok_kind tok, bb_bleu_smooth smooth, double value, bool lc, bool eff, int order) {
    return (bb_bleu_opts){.tokenize = tok, .smooth = smooth, .smooth_value = value, .lowercase = lc,
                          .effective_order = eff, .max_order = order};
}

/* sacrebleu.raw_corpus_bleu(hyps, refs, smooth_value): tokenize none, floor, effective order. */
static bb_bleu_opts raw_opts(double floor_value) {
    return bleu_opts(BB_TOK_NONE, BB_SMOOTH_FLOOR, floor_value, false, true, 4);
}

static double corpus_bleu(const bb_bleu_opts *o, const char *const *hyps, size_t n, const char *const *const *refs,
                          int n_streams, bb_bleu_score *score, int *nrefs) {
    char err[256] = "";
    bb_bleu_score s;
    int rc = bb_bleu_corpus(o, hyps, n, refs, n_streams, &s, NULL, nrefs, err, sizeof err);
    CHECK(rc == 0, "bb_bleu_corpus failed: %s", err);
    if (score) *score = s;
    return rc == 0 ? s.score : NAN;
}

/* The README corpus of sacreBLEU (test_bleu.py _hyps/_refs). */
static const char *const readme_hyps[] = {"The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."};
static const char *const readme_ref1[] = {"The dog bit the man.", "It was not unexpected.", "The man bit him first."};
static const char *const readme_ref2[] = {"The dog had bit the man.", "No one was surprised.",
                                          "The man had bitten the dog."};
static const char *const *const readme_refs[] = {readme_ref1, readme_ref2};

/* --- [T] test_bleu.py ------------------------------------------------------------------- */

static void test_sacrebleu_test_bleu(void) {
    cat_begin();
    char name[512];
    /* test_raw_bleu_cases: raw_corpus_bleu(hyps, refs, .01).score / 100 */
    {
        static const char *const h1[] = {"this is a test", "another test"}, *const r1[] = {"ref1", "ref2"};
        static const char *const h2[] = {"this is a test"}, *const r2[] = {"this is a test"};
        static const char *const h3[] = {"this is a fest"}, *const r3[] = {"this is a test"};
        static const struct { const char *const *h, *const *r; size_t n; double want; } raw[] = {
            {h1, r1, 2, 0.0}, {h2, r2, 1, 1.0}, {h3, r3, 1, 0.223606797749979}};
        for (int i = 0; i < 3; i++) {
            bb_bleu_opts o = raw_opts(0.01);
            const char *const *streams[] = {raw[i].r};
            double got = corpus_bleu(&o, raw[i].h, raw[i].n, streams, 1, NULL, NULL) / 100;
            snprintf(name, sizeof name, "test_raw_bleu_cases[%d]", i);
            vector_result(name, near(got, raw[i].want, TOL_TEST_BLEU), got, raw[i].want, TOL_TEST_BLEU);
        }
    }
    /* test_corpus_bleu_cases: corpus_bleu(hyps, refs, **kwargs).score */
    {
        static const char *const empty[] = {"", "", ""};
        const struct { const char *what; const char *const *h; bb_bleu_opts o; double want; } cc[] = {
            {"defaults", readme_hyps, bb_bleu_corpus_defaults(), 48.530827},
            {"empty hypotheses", empty, bb_bleu_corpus_defaults(), 0.0},
            {"tokenize=none", readme_hyps, bleu_opts(BB_TOK_NONE, BB_SMOOTH_EXP, NAN, false, false, 4), 49.1919566},
            {"tokenize=13a", readme_hyps, bleu_opts(BB_TOK_13A, BB_SMOOTH_EXP, NAN, false, false, 4), 48.530827},
            {"tokenize=intl", readme_hyps, bleu_opts(BB_TOK_INTL, BB_SMOOTH_EXP, NAN, false, false, 4), 43.91623493},
            {"smooth_method=none", readme_hyps, bleu_opts(BB_TOK_13A, BB_SMOOTH_NONE, NAN, false, false, 4),
             48.530827},
        };
        for (int i = 0; i < 6; i++) {
            double got = corpus_bleu(&cc[i].o, cc[i].h, 3, readme_refs, 2, NULL, NULL);
            snprintf(name, sizeof name, "test_corpus_bleu_cases[%d] (%s)", i, cc[i].what);
            vector_result(name, near(got, cc[i].want, TOL_TEST_BLEU), got, cc[i].want, TOL_TEST_BLEU);
        }
    }
    static const char *const off_h[] = {"am I am a character sequence"};
    static const char *const off_r[] = {"I am a symbol string sequence a a"};
    static const char *const *const off_refs[] = {off_r};
    /* test_case_offset: floor 0.0 -> 0; floor None and the default (0.1) -> 0.1555722182 */
    {
        const struct { const char *what; double value, want; } off[] = {
            {"smooth_value=0.0", 0.0, 0.0}, {"smooth_value=None", NAN, 0.1555722182},
            {"default smooth_value", 0.1, 0.1555722182}};
        for (int i = 0; i < 3; i++) {
            bb_bleu_opts o = raw_opts(off[i].value);
            double got = corpus_bleu(&o, off_h, 1, off_refs, 1, NULL, NULL) / 100;
            snprintf(name, sizeof name, "test_offset (%s)", off[i].what);
            vector_result(name, near(got, off[i].want, TOL_TEST_BLEU), got, off[i].want, TOL_TEST_BLEU);
        }
    }
    /* test_case_statistics: counts and totals exactly */
    {
        bb_bleu_opts o = raw_opts(0.01);
        bb_bleu_stats st;
        char err[128];
        BB_CHECK(bb_bleu_corpus(&o, off_h, 1, off_refs, 1, NULL, &st, NULL, err, sizeof err) == 0);
        const int64_t common[] = {4, 2, 1, 0}, total[] = {6, 5, 4, 3};
        bool ok = true;
        for (int n = 0; n < 4; n++) ok = ok && st.correct[n] == common[n] && st.total[n] == total[n];
        cat_total++;
        cat_pass += ok;
        CHECK(ok, "test_statistics: got counts [%lld %lld %lld %lld] totals [%lld %lld %lld %lld], expected "
                  "[4 2 1 0] [6 5 4 3]",
              (long long)st.correct[0], (long long)st.correct[1], (long long)st.correct[2], (long long)st.correct[3],
              (long long)st.total[0], (long long)st.total[1], (long long)st.total[2], (long long)st.total[3]);
    }
    /* test_case_scoring: BLEU.compute_bleu (its own default smoothing: none) / 100 */
    {
        bb_bleu_stats st = {.sys_len = 11, .ref_len = 11, .correct = {9, 7, 5, 3}, .total = {10, 8, 6, 4}};
        double got = bb_bleu_compute(&st, BB_SMOOTH_NONE, NAN, false, 4).score / 100;
        vector_result("test_scoring", near(got, 0.8375922397, TOL_TEST_BLEU), got, 0.8375922397, TOL_TEST_BLEU);
    }
    /* test_case_effective_order: raw_corpus_bleu(hyps, refs, .01).score / 100 */
    {
        const struct { const char *h, *r; double want; } eo[] = {
            {"test", "a test", 0.3678794411714425}, {"a test", "a test", 1.0},
            {"a little test", "a test", 0.03218297948685433}};
        for (int i = 0; i < 3; i++) {
            bb_bleu_opts o = raw_opts(0.01);
            const char *const h[] = {eo[i].h}, *const r[] = {eo[i].r};
            const char *const *streams[] = {r};
            double got = corpus_bleu(&o, h, 1, streams, 1, NULL, NULL) / 100;
            snprintf(name, sizeof name, "test_effective_order[%d] ('%.60s' vs '%.60s')", i, eo[i].h, eo[i].r);
            vector_result(name, near(got, eo[i].want, TOL_TEST_BLEU), got, eo[i].want, TOL_TEST_BLEU);
        }
    }
    /* test_case_degenerate_stats: compute_bleu(..., 'floor', offset).score / 100 == 0.0 exactly */
    {
        const struct { int64_t c[4], t[4], sys, ref; double offset; } dg[] = {
            {{0, 0, 0, 0}, {4, 4, 2, 1}, 0, 1, 0.0},   {{0, 0, 0, 0}, {10, 11, 12, 0}, 14, 10, 0.0},
            {{0, 0, 0, 0}, {0, 0, 0, 0}, 0, 0, 0.0},   {{6, 5, 4, 0}, {6, 5, 4, 3}, 6, 6, 0.0},
            {{0, 0, 0, 0}, {0, 0, 0, 0}, 0, 0, 0.1},   {{0, 0, 0, 0}, {0, 0, 0, 0}, 1, 5, 0.01}};
        for (int i = 0; i < 6; i++) {
            bb_bleu_stats st = {.sys_len = dg[i].sys, .ref_len = dg[i].ref};
            for (int n = 0; n < 4; n++) st.correct[n] = dg[i].c[n], st.total[n] = dg[i].t[n];
            double got = bb_bleu_compute(&st, BB_SMOOTH_FLOOR, dg[i].offset, false, 4).score / 100;
            snprintf(name, sizeof name, "test_degenerate_stats[%d]", i);
            vector_result(name, got == 0.0, got, 0.0, TOL_TEST_BLEU);
        }
    }
    /* test_bleu_max_order: f"{score:.2f}" */
    {
        static const char *const want[] = {"77.65", "60.50", "53.93", "48.53", "46.14", "43.28"};
        for (int order = 1; order <= 6; order++) {
            bb_bleu_opts o = bb_bleu_corpus_defaults();
            o.max_order = order;
            double got = corpus_bleu(&o, readme_hyps, 3, readme_refs, 2, NULL, NULL);
            char s[32];
            snprintf(s, sizeof s, "%.2f", got);
            bool ok = strcmp(s, want[order - 1]) == 0;
            cat_total++;
            cat_pass += ok;
            CHECK(ok, "test_bleu_max_order[%d]: got %s (%.17g), expected %s", order, s, got, want[order - 1]);
        }
    }
    cat_end("[T] test_bleu.py");
}

/* --- [T] test_sentence_bleu.py ---------------------------------------------------------- */

static void test_sacrebleu_test_sentence_bleu(void) {
    cat_begin();
    static const char *REF = "producţia de zahăr brut se exprimă în zahăr alb;";
    static const char *SYS = "Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;";
    const struct { bb_bleu_smooth smooth; double value; bool lc; bb_tok_kind tok; double want; } cases[] = {
        {BB_SMOOTH_EXP, NAN, false, BB_TOK_13A, 8.493},      {BB_SMOOTH_NONE, NAN, false, BB_TOK_13A, 0.0},
        {BB_SMOOTH_FLOOR, NAN, false, BB_TOK_13A, 4.51688},  {BB_SMOOTH_FLOOR, 0.1, false, BB_TOK_13A, 4.51688},
        {BB_SMOOTH_FLOOR, 0.5, false, BB_TOK_13A, 10.10},    {BB_SMOOTH_ADD_K, NAN, false, BB_TOK_13A, 14.882},
        {BB_SMOOTH_ADD_K, 1, false, BB_TOK_13A, 14.882},     {BB_SMOOTH_ADD_K, 2, false, BB_TOK_13A, 21.389},
        {BB_SMOOTH_EXP, NAN, false, BB_TOK_NONE, 7.347},     {BB_SMOOTH_EXP, NAN, false, BB_TOK_INTL, 8.493},
        {BB_SMOOTH_EXP, NAN, false, BB_TOK_CHAR, 40.8759},   {BB_SMOOTH_EXP, NAN, true, BB_TOK_CHAR, 42.0267},
    };
    char name[512], err[256];
    for (int i = 0; i < 12; i++) {
        bb_bleu_opts o = bleu_opts(cases[i].tok, cases[i].smooth, cases[i].value, cases[i].lc, true, 4);
        /* Both APIs of the pytest file: compat.sentence_bleu and BLEU(...).sentence_score
         * are the same computation here: bb_bleu_sentence, and a one-segment corpus. */
        bb_bleu_score s;
        BB_CHECK(bb_bleu_sentence(&o, SYS, &REF, 1, &s, err, sizeof err) == 0);
        snprintf(name, sizeof name, "test_scoring[%d] sentence_bleu (%s, %s, lc=%d)", i,
                 bb_bleu_smooth_name(cases[i].smooth), bb_tok_name(cases[i].tok), cases[i].lc);
        vector_result(name, near(s.score, cases[i].want, TOL_TEST_SENTENCE), s.score, cases[i].want, TOL_TEST_SENTENCE);
        const char *const h[] = {SYS}, *const r[] = {REF};
        const char *const *streams[] = {r};
        double got = corpus_bleu(&o, h, 1, streams, 1, NULL, NULL);
        snprintf(name, sizeof name, "test_scoring[%d] BLEU.sentence_score", i);
        vector_result(name, near(got, cases[i].want, TOL_TEST_SENTENCE), got, cases[i].want, TOL_TEST_SENTENCE);
    }
    static const char *REF_0 = "okay thanks", *SYS_0 = "this is a cat";
    const struct { bb_bleu_smooth smooth; double value; } zero[] = {
        {BB_SMOOTH_EXP, NAN}, {BB_SMOOTH_NONE, NAN}, {BB_SMOOTH_FLOOR, NAN},
        {BB_SMOOTH_FLOOR, 0.1}, {BB_SMOOTH_ADD_K, NAN}, {BB_SMOOTH_ADD_K, 1}};
    for (int i = 0; i < 6; i++) {
        bb_bleu_opts o = bleu_opts(BB_TOK_13A, zero[i].smooth, zero[i].value, false, true, 4);
        bb_bleu_score s;
        BB_CHECK(bb_bleu_sentence(&o, SYS_0, &REF_0, 1, &s, err, sizeof err) == 0);
        snprintf(name, sizeof name, "test_scoring_zero_bleu[%d] (%s)", i, bb_bleu_smooth_name(zero[i].smooth));
        vector_result(name, near(s.score, 0.0, TOL_TEST_SENTENCE), s.score, 0.0, TOL_TEST_SENTENCE);
    }
    cat_end("[T] test_sentence_bleu.py");
}

/* --- [T] test_chrf.py ------------------------------------------------------------------- */

static double corpus_chrf(const bb_chrf_opts *o, const char *const *hyps, size_t n, const char *const *refs) {
    char err[256] = "";
    double score = NAN;
    const char *const *streams[] = {refs};
    int rc = bb_chrf_corpus(o, hyps, n, streams, 1, &score, NULL, NULL, err, sizeof err);
    CHECK(rc == 0, "bb_chrf_corpus failed: %s", err);
    return score;
}

typedef struct {
    const char *h[2], *r[2];
    size_t n;
    double want;
} chrf_case;

static void run_chrf_cases(const char *list, const chrf_case *c, int count, const bb_chrf_opts *o) {
    char name[512];
    for (int i = 0; i < count; i++) {
        double got = corpus_chrf(o, c[i].h, c[i].n, c[i].r);
        snprintf(name, sizeof name, "%s[%d] ('%.60s' vs '%.60s')", list, i, c[i].h[0], c[i].r[0]);
        vector_result(name, near(got, c[i].want, TOL_TEST_CHRF), got, c[i].want, TOL_TEST_CHRF);
    }
}

static void test_sacrebleu_test_chrf(void) {
    cat_begin();
    /* test_sentence_level_chrf: sentence_chrf(hyp, refs, eps_smoothing=True), defaults otherwise */
    const struct { const char *h, *r; double want; } sl[] = {
        {"Co nás nejvíc trápí, protože lékaři si vybírají, kdo bude žít a kdo zemře.",
         "Nejvíce smutní jsme z toho, že musíme rozhodovat o tom, kdo bude žít a kdo zemře.", 39.14078509},
        {"Nebo prostě nemají vybavení, které by jim pomohlo, uvedli lékaři.",
         "A někdy nemáme ani potřebný materiál, abychom jim pomohli, popsali lékaři.", 31.22557079},
        {"Lapali po dechu, jejich životy skončily dřív, než skutečně začaly.",
         "Lapali po dechu a pak jejich život skončil - dřív, než skutečně mohl začít, připomněli.", 57.15704367},
    };
    bb_chrf_opts o = bb_chrf_defaults();
    o.eps_smoothing = true;
    char name[512], err[256];
    for (int i = 0; i < 3; i++) {
        double got = NAN;
        BB_CHECK(bb_chrf_sentence(&o, sl[i].h, &sl[i].r, 1, &got, err, sizeof err) == 0);
        snprintf(name, sizeof name, "test_chrf_sentence_level[%d]", i);
        vector_result(name, near(got, sl[i].want, TOL_TEST_CHRF), got, sl[i].want, TOL_TEST_CHRF);
    }
    /* test_cases: corpus_chrf(..., char_order=6, word_order=0, beta=3, eps_smoothing=True) */
    static const chrf_case eps[] = {
        {{"abcdefg"}, {"hijklmnop"}, 1, 0.0},
        {{"a"}, {"b"}, 1, 0.0},
        {{""}, {"b"}, 1, 0.0},
        {{""}, {"ref"}, 1, 0.0},
        {{""}, {"reference"}, 1, 0.0},
        {{"aa"}, {"ab"}, 1, 8.3333},
        {{"a", "b"}, {"a", "c"}, 2, 8.3333},
        {{"a"}, {"a"}, 1, 16.6667},
        {{"a b c"}, {"a b c"}, 1, 50.0},
        {{"a b c"}, {"abc"}, 1, 50.0},
        {{" risk assessment must be made of those who are qualified and expertise in the sector - these are the "
          "scientists ."},
         {"risk assessment has to be undertaken by those who are qualified and expert in that area - that is the "
          "scientists ."},
         1, 63.361730},
        {{" Die    Beziehung zwischen  Obama und Netanjahu ist nicht gerade  freundlich. "},
         {"Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich."}, 1, 64.1302698},
        {{"Niemand hat die Absicht, eine Mauer zu errichten"}, {"Niemand hat die Absicht, eine Mauer zu errichten"},
         1, 100.0},
    };
    o = (bb_chrf_opts){.char_order = 6, .word_order = 0, .beta = 3, .eps_smoothing = true};
    run_chrf_cases("test_chrf (eps_smoothing)", eps, 13, &o);
    /* test_cases_effective_order: the same with eps_smoothing=False (the default) */
    static const chrf_case eff[] = {
        {{"a"}, {"a"}, 1, 100.0},      {{""}, {"reference"}, 1, 0.0}, {{"a b c"}, {"a b c"}, 1, 100.0},
        {{"a b c"}, {"abc"}, 1, 100.0}, {{""}, {"c"}, 1, 0.0},        {{"a", "b"}, {"a", "c"}, 2, 50.0},
        {{"aa"}, {"ab"}, 1, 25.0},
    };
    o.eps_smoothing = false;
    run_chrf_cases("test_chrf_eff_order", eff, 7, &o);
    /* test_cases_keep_whitespace: beta=3, remove_whitespace=False */
    static const chrf_case ws[] = {
        {{"Die Beziehung zwischen Obama und Netanjahu ist nicht gerade freundlich."},
         {"Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich."}, 1, 67.3481606},
        {{"risk assessment must be made of those who are qualified and expertise in the sector - these are the "
          "scientists ."},
         {"risk assessment has to be undertaken by those who are qualified and expert in that area - that is the "
          "scientists ."},
         1, 65.2414427},
    };
    o.whitespace = true;
    run_chrf_cases("test_chrf_keep_whitespace", ws, 2, &o);
    cat_end("[T] test_chrf.py");
}

/* --- [H] Hugging Face evaluate examples --------------------------------------------------- */

static void test_hf_examples(void) {
    cat_begin();
    char name[512];
    /* evaluate's references[i] are per prediction; sacreBLEU streams are their transpose. */
    static const char *const h1[] = {"hello there general kenobi", "foo bar foobar"};
    static const char *const s1a[] = {"hello there general kenobi", "foo bar foobar"};
    static const char *const s1b[] = {"hello there !", "foo bar foobar"};
    static const char *const h2[] = {"hello there general kenobi", "on our way to ankh morpork"};
    static const char *const s2a[] = {"hello there general kenobi", "goodbye ankh morpork"};
    static const char *const s2b[] = {"hello there !", "ankh morpork"};
    const struct { const char *const *h, *const *a, *const *b; double rounded, exact; int64_t c[4], t[4], sys, ref; } bl[] = {
        {h1, s1a, s1b, 100.0, 100.00000000000004, {7, 5, 3, 1}, {7, 5, 3, 1}, 7, 7},
        {h2, s2a, s2b, 39.8, 39.76353643835252, {6, 4, 2, 1}, {10, 8, 6, 4}, 10, 7},
    };
    for (int i = 0; i < 2; i++) {
        bb_bleu_opts o = bb_bleu_corpus_defaults();
        const char *const *streams[] = {bl[i].a, bl[i].b};
        bb_bleu_score s;
        corpus_bleu(&o, bl[i].h, 2, streams, 2, &s, NULL);
        bool ok = round(s.score * 10) / 10 == bl[i].rounded && near(s.score, bl[i].exact, TOL_GENERATED) &&
                  s.sys_len == bl[i].sys && s.ref_len == bl[i].ref;
        for (int n = 0; n < 4; n++) ok = ok && s.counts[n] == bl[i].c[n] && s.totals[n] == bl[i].t[n];
        snprintf(name, sizeof name, "hf sacrebleu example %d (round(score, 1) = %.1f, lengths, counts)", i + 1,
                 bl[i].rounded);
        vector_result(name, ok, s.score, bl[i].exact, TOL_GENERATED);
    }
    static const char *const ch[] = {"The relationship between cats and dogs is not exactly friendly.",
                                     "a good bookshop is just a genteel black hole that knows how to read."};
    static const char *const cr[] = {"The relationship between dogs and cats is not exactly friendly.",
                                     "A good bookshop is just a genteel Black Hole that knows how to read."};
    const struct { int word_order; bool lc; double want; } cf[] = {
        {0, false, 84.64214891738334}, {2, false, 82.87263732906315}, {2, true, 92.12853119829202}};
    for (int i = 0; i < 3; i++) {
        bb_chrf_opts o = bb_chrf_defaults();
        o.word_order = cf[i].word_order;
        o.lowercase = cf[i].lc;
        double got = corpus_chrf(&o, ch, 2, cr);
        snprintf(name, sizeof name, "hf chrf example (word_order=%d, lowercase=%d)", cf[i].word_order, cf[i].lc);
        vector_result(name, near(got, cf[i].want, TOL_GENERATED), got, cf[i].want, TOL_GENERATED);
    }
    /* sacreBLEU README: CHRF().corpus_score on the README corpus prints chrF2 = 59.73 */
    {
        bb_chrf_opts o = bb_chrf_defaults();
        double got = NAN;
        char err[128], line[128];
        BB_CHECK(bb_chrf_corpus(&o, readme_hyps, 3, readme_refs, 2, &got, NULL, NULL, err, sizeof err) == 0);
        bb_chrf_name(&o, name, sizeof name);
        bb_sig_score_line(name, NULL, got, 2, NULL, line, sizeof line);
        bool ok = strcmp(line, "chrF2 = 59.73") == 0;
        vector_result("README chrF2 = 59.73", ok, got, 59.73, TOL_GENERATED);
        CHECK(ok, "README chrF line: got '%s'", line);
    }
    cat_end("[H] Hugging Face examples");
}

/* --- [G1] 13a tokenizer pairs -------------------------------------------------------------- */

static void test_tokenizer_13a(void) {
    cat_begin();
    static const struct { const char *id, *in, *want; } pairs[] = {
        {"T1", "Hello, world!", "Hello , world !"},
        {"T2", "The dog bit the man.", "The dog bit the man ."},
        {"T3", "It wasn't surprising.", "It wasn't surprising ."},
        {"T4", "It costs $5.00, or 3,000 yen.", "It costs $ 5.00 , or 3,000 yen ."},
        {"T5", "3.14 and 1,000,000 are numbers.", "3.14 and 1,000,000 are numbers ."},
        {"T6", "pi=3.14", "pi = 3.14"},
        {"T7", "end.", "end ."},
        {"T8", "U.S.A.", "U . S . A ."},
        {"T9", "e.g. this", "e . g . this"},
        {"T10", "Wait...", "Wait . . ."},
        {"T11", "a,b,c", "a , b , c"},
        {"T12", "1.a", "1 . a"},
        {"T13", "a.1", "a . 1"},
        {"T14", ",5", ", 5"},
        {"T15", "5,", "5 ,"},
        {"T16", "9-5", "9 - 5"},
        {"T17", "a-5", "a-5"},
        {"T18", "well-known", "well-known"},
        {"T19", "2-3-4", "2 - 3 - 4"},
        {"T20", "e-mail me at x@y.com", "e-mail me at x @ y . com"},
        {"T21", "(hi)", "( hi )"},
        {"T22", "[a]{b}", "[ a ] { b }"},
        {"T23", "50% off", "50 % off"},
        {"T24", "C++ & C#", "C + + & C #"},
        {"T25", "a/b\\c", "a / b \\ c"},
        {"T26", "x^2_y`z~|", "x ^ 2 _ y ` z ~ |"},
        {"T27", "'quoted' \"double\"", "'quoted' \" double \""},
        {"T28", "&quot;quoted&quot; &amp; &lt;tag&gt;", "\" quoted \" & < tag >"},
        {"T29", "&amp;quot;", "& quot ;"},
        {"T30", "AT&T", "AT & T"},
        {"T31", "<skipped> text", "text"},
        {"T32", "line-\nbreak", "linebreak"},
        {"T33", "two\nlines", "two lines"},
        {"T34", "  multiple   spaces\tand\ttabs  ", "multiple spaces and tabs"},
        {"T35", "non\302\240breaking", "non breaking"},
        {"T36", "„Anführungszeichen“ – dash — em", "„Anführungszeichen“ – dash — em"},
        {"T37", "Schöne Münchnerin 2018: Neun Dates", "Schöne Münchnerin 2018 : Neun Dates"},
        {"T38", "It’s “smart” quotes…", "It’s “smart” quotes…"},
        {"T39", "", ""},
        {"T40", " ", ""},
        {"T41", "producţia de zahăr brut se exprimă în zahăr alb;", "producţia de zahăr brut se exprimă în zahăr alb ;"},
        {"T42", "Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;",
         "Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb ;"},
        {"T43", "Co nás nejvíc trápí, protože lékaři si vybírají, kdo bude žít a kdo zemře.",
         "Co nás nejvíc trápí , protože lékaři si vybírají , kdo bude žít a kdo zemře ."},
        {"T44", "1.5-2.0", "1.5 - 2.0"},
        {"T45", "abc.,def", "abc . , def"},
        {"T46", "a..b", "a . . b"},
        {"T47", "x.,.y", "x . , . y"},
        {"T48", "12.,34", "12 . , 34"},
    };
    bb_textbuf out = {0};
    bb_tok_work w = {0};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        bb_tokenize(BB_TOK_13A, pairs[i].in, strlen(pairs[i].in), &out, &w);
        bool ok = strcmp(out.p, pairs[i].want) == 0;
        cat_total++;
        cat_pass += ok;
        CHECK(ok, "13a %s: input '%s' gave '%s', expected '%s'", pairs[i].id, pairs[i].in, out.p, pairs[i].want);
    }
    bb_textbuf_free(&out);
    bb_tok_work_free(&w);
    cat_end("[G1] 13a tokenizer pairs");
}

/* --- [G2] full statistics, sentence BLEU, compute_bleu ------------------------------------ */

typedef struct {
    const char *what;
    bb_bleu_opts o;
    const char *const *const *refs;
    int n_streams;
    const char *const *hyps;
    double score;
    int64_t counts[6], totals[6], sys_len, ref_len;
    double bp;
    const char *str, *sig, *short_sig;   /* NULL: not given by the vectors */
} g2_case;

static bool same_counts(const bb_bleu_score *s, const int64_t *c, const int64_t *t) {
    for (int n = 0; n < s->max_order; n++)
        if (s->counts[n] != (double)c[n] || s->totals[n] != (double)t[n]) return false;
    return true;
}

static void test_generated_statistics(void) {
    cat_begin();
    static const char *const none_ref1[] = {NULL, "It was not unexpected.", "The man bit him first."};
    static const char *const empty_ref1[] = {"", "It was not unexpected.", "The man bit him first."};
    static const char *const *const only1[] = {readme_ref1};
    static const char *const *const only2[] = {readme_ref2};
    static const char *const *const with_none[] = {none_ref1, readme_ref2};
    static const char *const *const with_empty[] = {empty_ref1, readme_ref2};
    static const char *const empty_hyps[] = {"", "", ""};
    const bb_bleu_opts d = bb_bleu_corpus_defaults();
    bb_bleu_opts o_none = d, o_intl = d, o_snone = d, o_lc = d, o_floor = d, o_addk = d, o_eff = d, o_n1 = d, o_n2 = d,
                 o_n6 = d;
    o_none.tokenize = BB_TOK_NONE;
    o_intl.tokenize = BB_TOK_INTL;
    o_snone.smooth = BB_SMOOTH_NONE;
    o_lc.lowercase = true;
    o_floor.smooth = BB_SMOOTH_FLOOR;
    o_addk.smooth = BB_SMOOTH_ADD_K;
    o_eff.effective_order = true;
    o_n1.max_order = 1;
    o_n2.max_order = 2;
    o_n6.max_order = 6;
#define STATS_README {14, 7, 5, 3}, {17, 14, 11, 8}, 17, 18, 0.9428731438548749
#define STR_README "BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)"
    const g2_case cases[] = {
        {"{}", d, readme_refs, 2, readme_hyps, 48.530827009929865, STATS_README, STR_README,
         "nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0", "#:2|c:mixed|e:no|tok:13a|s:exp|v:2.6.0"},
        {"tokenize=none", o_none, readme_refs, 2, readme_hyps, 49.19195660047277, {10, 6, 4, 2}, {14, 11, 8, 5}, 14, 15,
         0.9310627797040228, "BLEU = 49.19 71.4/54.5/50.0/40.0 (BP = 0.931 ratio = 0.933 hyp_len = 14 ref_len = 15)",
         "nrefs:2|case:mixed|eff:no|tok:none|smooth:exp|version:2.6.0", "#:2|c:mixed|e:no|tok:none|s:exp|v:2.6.0"},
        {"tokenize=intl", o_intl, readme_refs, 2, readme_hyps, 43.91623493336995, {14, 7, 5, 3}, {19, 16, 13, 10}, 19,
         18, 1.0, "BLEU = 43.92 73.7/43.8/38.5/30.0 (BP = 1.000 ratio = 1.056 hyp_len = 19 ref_len = 18)",
         "nrefs:2|case:mixed|eff:no|tok:intl|smooth:exp|version:2.6.0", "#:2|c:mixed|e:no|tok:intl|s:exp|v:2.6.0"},
        {"smooth_method=none", o_snone, readme_refs, 2, readme_hyps, 48.530827009929865, STATS_README, STR_README,
         "nrefs:2|case:mixed|eff:no|tok:13a|smooth:none|version:2.6.0", "#:2|c:mixed|e:no|tok:13a|s:none|v:2.6.0"},
        {"lowercase", o_lc, readme_refs, 2, readme_hyps, 48.530827009929865, STATS_README, STR_README,
         "nrefs:2|case:lc|eff:no|tok:13a|smooth:exp|version:2.6.0", "#:2|c:lc|e:no|tok:13a|s:exp|v:2.6.0"},
        {"smooth_method=floor", o_floor, readme_refs, 2, readme_hyps, 48.530827009929865, STATS_README, STR_README,
         "nrefs:2|case:mixed|eff:no|tok:13a|smooth:floor[0.10]|version:2.6.0",
         "#:2|c:mixed|e:no|tok:13a|s:floor[0.10]|v:2.6.0"},
        {"smooth_method=add-k", o_addk, readme_refs, 2, readme_hyps, 52.70109002482467, {14, 8, 6, 4}, {17, 15, 12, 9},
         17, 18, 0.9428731438548749,
         "BLEU = 52.70 82.4/53.3/50.0/44.4 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)",
         "nrefs:2|case:mixed|eff:no|tok:13a|smooth:add-k[1.00]|version:2.6.0",
         "#:2|c:mixed|e:no|tok:13a|s:add-k[1.00]|v:2.6.0"},
        {"effective_order", o_eff, readme_refs, 2, readme_hyps, 48.530827009929865, STATS_README, STR_README,
         "nrefs:2|case:mixed|eff:yes|tok:13a|smooth:exp|version:2.6.0", "#:2|c:mixed|e:yes|tok:13a|s:exp|v:2.6.0"},
        {"max_ngram_order=1", o_n1, readme_refs, 2, readme_hyps, 77.64837655275439, {14}, {17}, 17, 18,
         0.9428731438548749, "BLEU = 77.65 82.4 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)",
         "nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0", "#:2|c:mixed|e:no|tok:13a|s:exp|v:2.6.0"},
        {"max_ngram_order=2", o_n2, readme_refs, 2, readme_hyps, 60.50312757020198, {14, 7}, {17, 14}, 17, 18,
         0.9428731438548749, "BLEU = 60.50 82.4/50.0 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)",
         "nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0", "#:2|c:mixed|e:no|tok:13a|s:exp|v:2.6.0"},
        {"max_ngram_order=6", o_n6, readme_refs, 2, readme_hyps, 43.283197812670714, {14, 7, 5, 3, 2, 1},
         {17, 14, 11, 8, 5, 3}, 17, 18, 0.9428731438548749,
         "BLEU = 43.28 82.4/50.0/45.5/37.5/40.0/33.3 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)",
         "nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0", "#:2|c:mixed|e:no|tok:13a|s:exp|v:2.6.0"},
        {"only reference stream 1", d, only1, 1, readme_hyps, 45.06750632106114, {12, 6, 4, 3}, {17, 14, 11, 8}, 17, 17,
         1.0, "BLEU = 45.07 70.6/42.9/36.4/37.5 (BP = 1.000 ratio = 1.000 hyp_len = 17 ref_len = 17)",
         "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0", NULL},
        {"only reference stream 2", d, only2, 1, readme_hyps, 28.330553664429278, {12, 6, 3, 1}, {17, 14, 11, 8}, 17,
         19, 0.8890097654027757,
         "BLEU = 28.33 70.6/42.9/27.3/12.5 (BP = 0.889 ratio = 0.895 hyp_len = 17 ref_len = 19)",
         "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0", NULL},
        {"first ref of stream 1 = None", d, with_none, 2, readme_hyps, 29.443657650964873, {14, 6, 3, 1},
         {17, 14, 11, 8}, 17, 19, 0.8890097654027757, NULL,
         "nrefs:var|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0", NULL},
        {"first ref of stream 1 = ''", d, with_empty, 2, readme_hyps, 29.443657650964873, {14, 6, 3, 1},
         {17, 14, 11, 8}, 17, 19, 0.8890097654027757, NULL,
         "nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0", NULL},
        {"empty hyps x3", d, readme_refs, 2, empty_hyps, 0.0, {0, 0, 0, 0}, {0, 0, 0, 0}, 0, 17, 0.0, NULL, NULL, NULL},
    };
#undef STATS_README
#undef STR_README
    char name[512], buf[256], sig[256], line[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const g2_case *c = &cases[i];
        bb_bleu_score s;
        int nrefs = 0;
        corpus_bleu(&c->o, c->hyps, 3, c->refs, c->n_streams, &s, &nrefs);
        bool ok = near(s.score, c->score, TOL_GENERATED) && same_counts(&s, c->counts, c->totals) &&
                  s.sys_len == c->sys_len && s.ref_len == c->ref_len && near(s.bp, c->bp, TOL_GENERATED);
        snprintf(name, sizeof name, "G2 README corpus, %s (score, counts, totals, lengths, BP)", c->what);
        vector_result(name, ok, s.score, c->score, TOL_GENERATED);
        if (c->str) {
            bb_bleu_verbose(&s, buf, sizeof buf);
            bb_sig_score_line("BLEU", NULL, s.score, 2, buf, line, sizeof line);
            ok = strcmp(line, c->str) == 0;
            cat_total++, cat_pass += ok;
            CHECK(ok, "G2 %s: str() got '%s', expected '%s'", c->what, line, c->str);
        }
        if (c->sig) {
            bb_bleu_signature(&c->o, nrefs, false, sig, sizeof sig);
            ok = strcmp(sig, c->sig) == 0;
            cat_total++, cat_pass += ok;
            CHECK(ok, "G2 %s: signature got '%s', expected '%s'", c->what, sig, c->sig);
        }
        if (c->short_sig) {
            bb_bleu_signature(&c->o, nrefs, true, sig, sizeof sig);
            ok = strcmp(sig, c->short_sig) == 0;
            cat_total++, cat_pass += ok;
            CHECK(ok, "G2 %s: short signature got '%s', expected '%s'", c->what, sig, c->short_sig);
        }
    }
    cat_end("[G2] README corpus statistics, str() and signatures");
}

static void test_generated_sentence_bleu(void) {
    cat_begin();
    const struct {
        const char *hyp, *refs[2];
        int n_refs;
        double score;
        int64_t c[4], t[4], sys, ref;
        double bp;
    } cases[] = {
        {"The dog bit the man.", {"The dog bit the man.", "The dog had bit the man."}, 2, 100.00000000000004,
         {6, 5, 4, 3}, {6, 5, 4, 3}, 6, 6, 1.0},
        {"It wasn't surprising.", {"It was not unexpected.", "No one was surprised."}, 2, 14.794015674776452,
         {2, 0, 0, 0}, {4, 3, 2, 1}, 4, 5, 0.7788007830714049},
        {"The man had just bitten him.", {"The man bit him first.", "The man had bitten the dog."}, 2,
         29.071536848410968, {6, 2, 1, 0}, {7, 6, 5, 4}, 7, 7, 1.0},
        {"this is a test", {"this is a test"}, 1, 100.00000000000004, {4, 3, 2, 1}, {4, 3, 2, 1}, 4, 4, 1.0},
        {"this is a fest", {"this is a test"}, 1, 59.460355750136046, {3, 2, 1, 0}, {4, 3, 2, 1}, 4, 4, 1.0},
        {"a little test", {"a test"}, 1, 34.66806371753173, {2, 0, 0, 0}, {3, 2, 1, 0}, 3, 2, 1.0},
        {"test", {"a test"}, 1, 36.78794411714425, {1, 0, 0, 0}, {1, 0, 0, 0}, 1, 2, 0.36787944117144233},
        {"this is a cat", {"okay thanks"}, 1, 0.0, {0, 0, 0, 0}, {4, 3, 2, 1}, 4, 2, 1.0},
        {"The cat sat on the mat.", {"The cat is on the mat."}, 1, 48.892302243490086, {6, 4, 2, 1}, {7, 6, 5, 4}, 7,
         7, 1.0},
        {"", {"The cat is on the mat."}, 1, 0.0, {0, 0, 0, 0}, {0, 0, 0, 0}, 0, 7, 0.0},
        {"Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;",
         {"producţia de zahăr brut se exprimă în zahăr alb;"}, 1, 8.493098745313148, {5, 2, 0, 0}, {14, 13, 12, 11},
         14, 10, 1.0},
    };
    char name[512], err[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bb_bleu_opts o = bb_bleu_sentence_defaults();
        bb_bleu_score s;
        BB_CHECK(bb_bleu_sentence(&o, cases[i].hyp, cases[i].refs, cases[i].n_refs, &s, err, sizeof err) == 0);
        bool ok = near(s.score, cases[i].score, TOL_GENERATED) && same_counts(&s, cases[i].c, cases[i].t) &&
                  s.sys_len == cases[i].sys && s.ref_len == cases[i].ref && near(s.bp, cases[i].bp, TOL_GENERATED);
        snprintf(name, sizeof name, "G2 sentence_bleu('%.80s', ['%.80s'%s]) (score, counts, totals, lengths, BP)",
                 cases[i].hyp, cases[i].refs[0], cases[i].n_refs > 1 ? ", ..." : "");
        vector_result(name, ok, s.score, cases[i].score, TOL_GENERATED);
    }
    cat_end("[G2] sentence_bleu");
}

static void test_generated_compute_bleu(void) {
    cat_begin();
    const struct {
        int64_t c[4], t[4], sys, ref;
        bb_bleu_smooth smooth;
        double value;
        bool eff;
        double score, bp, p[4];
    } cases[] = {
        {{9, 7, 5, 3}, {10, 8, 6, 4}, 11, 11, BB_SMOOTH_NONE, NAN, false, 83.75922397086269, 1.0,
         {90.0, 87.5, 83.33333333333333, 75.0}},
        {{9, 7, 5, 3}, {10, 8, 6, 4}, 11, 11, BB_SMOOTH_EXP, NAN, false, 83.75922397086269, 1.0,
         {90.0, 87.5, 83.33333333333333, 75.0}},
        {{9, 7, 5, 3}, {10, 8, 6, 4}, 10, 12, BB_SMOOTH_EXP, NAN, false, 68.57625251889176, 0.8187307530779819,
         {90.0, 87.5, 83.33333333333333, 75.0}},
        {{9, 7, 5, 3}, {10, 8, 6, 4}, 12, 10, BB_SMOOTH_EXP, NAN, false, 83.75922397086269, 1.0,
         {90.0, 87.5, 83.33333333333333, 75.0}},
        {{5, 2, 0, 0}, {6, 5, 4, 3}, 6, 7, BB_SMOOTH_EXP, NAN, false, 20.547995616750768, 0.846481724890614,
         {83.33333333333333, 40.0, 12.5, 8.333333333333334}},
        {{5, 2, 0, 0}, {6, 5, 4, 3}, 6, 7, BB_SMOOTH_NONE, NAN, false, 0.0, 0.846481724890614,
         {83.33333333333333, 40.0, 0.0, 0.0}},
        {{5, 2, 0, 0}, {6, 5, 4, 3}, 6, 7, BB_SMOOTH_FLOOR, NAN, false, 10.928032077900921, 0.846481724890614,
         {83.33333333333333, 40.0, 2.5, 3.3333333333333335}},
        {{5, 2, 0, 0}, {6, 5, 4, 3}, 6, 7, BB_SMOOTH_FLOOR, 0.5, false, 24.43582258648473, 0.846481724890614,
         {83.33333333333333, 40.0, 12.5, 16.666666666666668}},
        {{5, 2, 0, 0}, {6, 5, 4, 3}, 6, 7, BB_SMOOTH_ADD_K, NAN, false, 32.159351091190125, 0.846481724890614,
         {83.33333333333333, 50.0, 20.0, 25.0}},
        {{5, 2, 0, 0}, {6, 5, 4, 3}, 6, 7, BB_SMOOTH_ADD_K, 2, false, 42.491048405959035, 0.846481724890614,
         {83.33333333333333, 57.142857142857146, 33.333333333333336, 40.0}},
        {{5, 2, 0, 0}, {6, 5, 4, 3}, 6, 7, BB_SMOOTH_EXP, NAN, true, 20.547995616750768, 0.846481724890614,
         {83.33333333333333, 40.0, 12.5, 8.333333333333334}},
        {{5, 2, 1, 0}, {6, 5, 4, 3}, 6, 6, BB_SMOOTH_EXP, NAN, false, 34.32945239845197, 1.0,
         {83.33333333333333, 40.0, 25.0, 16.666666666666668}},
        {{2, 1, 0, 0}, {2, 1, 0, 0}, 2, 2, BB_SMOOTH_EXP, NAN, false, 0.0, 1.0, {100.0, 100.0, 0.0, 0.0}},
        {{2, 1, 0, 0}, {2, 1, 0, 0}, 2, 2, BB_SMOOTH_EXP, NAN, true, 100.00000000000004, 1.0, {100.0, 100.0, 0.0, 0.0}},
        {{2, 1, 0, 0}, {2, 1, 0, 0}, 2, 2, BB_SMOOTH_NONE, NAN, true, 100.00000000000004, 1.0, {100.0, 100.0, 0.0, 0.0}},
        {{1, 0, 0, 0}, {1, 0, 0, 0}, 1, 2, BB_SMOOTH_EXP, NAN, true, 36.78794411714425, 0.36787944117144233,
         {100.0, 0.0, 0.0, 0.0}},
        {{0, 0, 0, 0}, {5, 4, 3, 2}, 5, 5, BB_SMOOTH_EXP, NAN, false, 0.0, 1.0, {0.0, 0.0, 0.0, 0.0}},
        {{3, 0, 0, 0}, {3, 2, 1, 0}, 3, 3, BB_SMOOTH_EXP, NAN, false, 0.0, 1.0, {100.0, 25.0, 25.0, 0.0}},
    };
    char name[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bb_bleu_stats st = {.sys_len = cases[i].sys, .ref_len = cases[i].ref};
        for (int n = 0; n < 4; n++) st.correct[n] = cases[i].c[n], st.total[n] = cases[i].t[n];
        bb_bleu_score s = bb_bleu_compute(&st, cases[i].smooth, cases[i].value, cases[i].eff, 4);
        bool ok = near(s.score, cases[i].score, TOL_GENERATED) && near(s.bp, cases[i].bp, TOL_GENERATED);
        for (int n = 0; n < 4; n++) ok = ok && near(s.precisions[n], cases[i].p[n], TOL_GENERATED);
        snprintf(name, sizeof name,
                 "G2 compute_bleu[%zu] correct=[%lld %lld %lld %lld] total=[%lld %lld %lld %lld] %lld/%lld %s eff=%d "
                 "(score, BP, precisions %.6g/%.6g/%.6g/%.6g)",
                 i, (long long)st.correct[0], (long long)st.correct[1], (long long)st.correct[2],
                 (long long)st.correct[3], (long long)st.total[0], (long long)st.total[1], (long long)st.total[2],
                 (long long)st.total[3], (long long)st.sys_len, (long long)st.ref_len,
                 bb_bleu_smooth_name(cases[i].smooth), cases[i].eff, s.precisions[0], s.precisions[1],
                 s.precisions[2], s.precisions[3]);
        vector_result(name, ok, s.score, cases[i].score, TOL_GENERATED);
    }
    cat_end("[G2] compute_bleu from statistics");
}

/* --- [G3] chrF / chrF++ ------------------------------------------------------------------- */

static void test_generated_chrf(void) {
    cat_begin();
    static const char *const rel_h[] = {"The relationship between cats and dogs is not exactly friendly.",
                                        "a good bookshop is just a genteel black hole that knows how to read."};
    static const char *const rel_r[] = {"The relationship between dogs and cats is not exactly friendly.",
                                        "A good bookshop is just a genteel Black Hole that knows how to read."};
    static const char *const *const rel_refs[] = {rel_r};
    const bb_chrf_opts d = bb_chrf_defaults();
    bb_chrf_opts pp = d, pplc = d, eps = d, ws = d;
    pp.word_order = 2;
    pplc.word_order = 2, pplc.lowercase = true;
    eps.eps_smoothing = true;
    ws.whitespace = true;
    const struct {
        const char *what;
        const char *const *h, *const *const *r;
        int n_streams;
        bb_chrf_opts o;
        double score;
        const char *str, *sig;
    } corpus[] = {
        {"relationship {}", rel_h, rel_refs, 1, d, 84.64214891738334, "chrF2 = 84.64",
         "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0"},
        {"relationship word_order=2", rel_h, rel_refs, 1, pp, 82.87263732906315, "chrF2++ = 82.87",
         "nrefs:1|case:mixed|eff:yes|nc:6|nw:2|space:no|version:2.6.0"},
        {"relationship word_order=2 lowercase", rel_h, rel_refs, 1, pplc, 92.12853119829202, "chrF2++ = 92.13",
         "nrefs:1|case:lc|eff:yes|nc:6|nw:2|space:no|version:2.6.0"},
        {"relationship eps_smoothing", rel_h, rel_refs, 1, eps, 84.64214891738335, "chrF2 = 84.64",
         "nrefs:1|case:mixed|eff:no|nc:6|nw:0|space:no|version:2.6.0"},
        {"relationship whitespace", rel_h, rel_refs, 1, ws, 89.22668669669358, "chrF2 = 89.23",
         "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:yes|version:2.6.0"},
        {"README {}", readme_hyps, readme_refs, 2, d, 59.72751782684763, "chrF2 = 59.73",
         "nrefs:2|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0"},
        {"README word_order=2", readme_hyps, readme_refs, 2, pp, 59.15310444399262, "chrF2++ = 59.15",
         "nrefs:2|case:mixed|eff:yes|nc:6|nw:2|space:no|version:2.6.0"},
        {"README word_order=2 lowercase", readme_hyps, readme_refs, 2, pplc, 59.374750531852115, "chrF2++ = 59.37",
         "nrefs:2|case:lc|eff:yes|nc:6|nw:2|space:no|version:2.6.0"},
        {"README eps_smoothing", readme_hyps, readme_refs, 2, eps, 59.72734693786311, "chrF2 = 59.73",
         "nrefs:2|case:mixed|eff:no|nc:6|nw:0|space:no|version:2.6.0"},
        {"README whitespace", readme_hyps, readme_refs, 2, ws, 65.8764867358276, "chrF2 = 65.88",
         "nrefs:2|case:mixed|eff:yes|nc:6|nw:0|space:yes|version:2.6.0"},
    };
    char name[512], err[256], sig[256], line[256];
    size_t n_hyps[] = {2, 2, 2, 2, 2, 3, 3, 3, 3, 3};
    for (size_t i = 0; i < sizeof corpus / sizeof corpus[0]; i++) {
        double got = NAN;
        int nrefs = 0;
        BB_CHECK(bb_chrf_corpus(&corpus[i].o, corpus[i].h, n_hyps[i], corpus[i].r, corpus[i].n_streams, &got, NULL,
                                &nrefs, err, sizeof err) == 0);
        snprintf(name, sizeof name, "G3 corpus %s", corpus[i].what);
        vector_result(name, near(got, corpus[i].score, TOL_GENERATED), got, corpus[i].score, TOL_GENERATED);
        char metric[32];
        bb_chrf_name(&corpus[i].o, metric, sizeof metric);
        bb_sig_score_line(metric, NULL, got, 2, NULL, line, sizeof line);
        bool ok = strcmp(line, corpus[i].str) == 0;
        cat_total++, cat_pass += ok;
        CHECK(ok, "G3 %s: str() got '%s', expected '%s'", corpus[i].what, line, corpus[i].str);
        bb_chrf_signature(&corpus[i].o, nrefs, false, sig, sizeof sig);
        ok = strcmp(sig, corpus[i].sig) == 0;
        cat_total++, cat_pass += ok;
        CHECK(ok, "G3 %s: signature got '%s', expected '%s'", corpus[i].what, sig, corpus[i].sig);
    }
    const struct { const char *h, *r; int word_order; double score; } sentence[] = {
        {"The cat sat on the mat.", "The cat is on the mat.", 0, 67.17273492330233},
        {"The cat sat on the mat.", "The cat is on the mat.", 2, 69.43695278069349},
        {"a", "a", 0, 100.0}, {"a", "a", 2, 100.0}, {"", "abc", 0, 0.0}, {"", "abc", 2, 0.0},
    };
    for (size_t i = 0; i < sizeof sentence / sizeof sentence[0]; i++) {
        bb_chrf_opts o = d;
        o.word_order = sentence[i].word_order;
        double got = NAN;
        BB_CHECK(bb_chrf_sentence(&o, sentence[i].h, &sentence[i].r, 1, &got, err, sizeof err) == 0);
        snprintf(name, sizeof name, "G3 sentence '%.60s' vs '%.60s' word_order=%d", sentence[i].h, sentence[i].r,
                 sentence[i].word_order);
        vector_result(name, near(got, sentence[i].score, TOL_GENERATED), got, sentence[i].score, TOL_GENERATED);
    }
    cat_end("[G3] chrF / chrF++");
}

/* --- [G5] the sacreBLEU side of the NLTK comparison ---------------------------------------- */

static void test_generated_nltk_side(void) {
    cat_begin();
    static const char *const h1[] = {"a test", "the cat", "hello there general kenobi"};
    static const char *const h2[] = {"this is a test", "hello"};
    const struct { const char *const *h; size_t n; int64_t c[4], t[4]; } cases[] = {
        {h1, 3, {8, 5, 2, 1}, {8, 5, 2, 1}},
        {h2, 2, {5, 3, 2, 1}, {5, 3, 2, 1}},
    };
    for (int i = 0; i < 2; i++) {
        bb_bleu_opts o = bb_bleu_corpus_defaults();
        o.tokenize = BB_TOK_NONE;
        const char *const *streams[] = {cases[i].h};
        bb_bleu_score s;
        corpus_bleu(&o, cases[i].h, cases[i].n, streams, 1, &s, NULL);
        bool ok = near(s.score, 100.00000000000004, TOL_GENERATED) && same_counts(&s, cases[i].c, cases[i].t);
        vector_result(i == 0 ? "G5 short segments (tok=none, exp)" : "G5 'this is a test', 'hello' (tok=none)", ok,
                      s.score, 100.00000000000004, TOL_GENERATED);
    }
    cat_end("[G5] sacreBLEU side of the NLTK comparison (NLTK itself is not implemented)");
}

/* --- Unicode pieces the vectors lean on --------------------------------------------------- */

static void test_unicode(void) {
    const struct { const char *in, *want; } lower[] = {
        {"ABC xyz", "abc xyz"},
        {"ΟΔΟΣ", "οδος"},                         /* final sigma */
        {"ΣΑΣ ΣΑΣ.", "σας σας."},                 /* initial sigma stays medial */
        {"Σ", "σ"},                               /* no cased letter before: not final */
        {"ΑΣ'Α", "ασ'α"},                         /* apostrophe is case-ignorable: cased follows */
        {"ἘΝ ἈΡΧΗ\xcd\x82Ι", "ἐν ἀρχη\xcd\x82ι"},                /* combining perispomeni kept */
        {"İstanbul", "i\xcc\x87stanbul"},         /* U+0130 lowers to two code points */
        {"ÀÉÎÕÜ ĀĞŁŒŽ ДЖЯ Ǆ", "àéîõü āğłœž джя ǆ"},
        {"Producția ŢARA", "producția ţara"},
    };
    bb_textbuf out = {0};
    for (size_t i = 0; i < sizeof lower / sizeof lower[0]; i++) {
        bb_textbuf_clear(&out);
        bb_uni_lower(lower[i].in, strlen(lower[i].in), &out);
        CHECK(strcmp(out.p, lower[i].want) == 0, "lower('%s') = '%s', expected '%s'", lower[i].in, out.p,
              lower[i].want);
    }
    const char *ws = "a\xc2\x85" "b\xe2\x80\xa8" "c\xe3\x80\x80" "d\x1f" "e \xe2\x80\x8b" "f";  /* U+200B is not space */
    bb_textbuf_clear(&out);
    bb_uni_split_join(ws, strlen(ws), &out);
    CHECK(strcmp(out.p, "a b c d e \xe2\x80\x8b" "f") == 0, "split_join gave '%s'", out.p);
    const char *tail = "abc \t\xc2\xa0\xe3\x80\x80";
    CHECK(bb_uni_rstrip_len(tail, strlen(tail)) == 3, "rstrip kept %zu bytes", bb_uni_rstrip_len(tail, strlen(tail)));
    size_t bad = 0;
    CHECK(bb_utf8_check("ok \xce\xbb", 5, &bad), "valid UTF-8 rejected");
    CHECK(!bb_utf8_check("x\xc0\xafy", 4, &bad) && bad == 1, "overlong accepted (bad=%zu)", bad);
    CHECK(!bb_utf8_check("\xed\xa0\x80", 3, &bad) && bad == 0, "surrogate accepted");
    CHECK(!bb_utf8_check("ab\xe2\x82", 4, &bad) && bad == 2, "truncated sequence accepted");
    CHECK(!bb_utf8_check("\xf4\x90\x80\x80", 4, &bad), "code point above U+10FFFF accepted");
    /* char tokenizer: one token per non-space code point; intl splits symbols everywhere */
    bb_tok_work w = {0};
    bb_tokenize(BB_TOK_CHAR, " zahăr  alb;", 13, &out, &w);
    CHECK(strcmp(out.p, "z a h ă r a l b ;") == 0, "char tokenizer gave '%s'", out.p);
    const char *intl = "Costs 5$, in 2018. «Yes» in 2019.";  /* a final "2019." keeps its period */
    bb_tokenize(BB_TOK_INTL, intl, strlen(intl), &out, &w);
    CHECK(strcmp(out.p, "Costs 5 $ , in 2018 . « Yes » in 2019.") == 0, "intl tokenizer gave '%s'", out.p);
    CHECK(bb_tok_find("13a") == BB_TOK_13A && bb_tok_find("intl") == BB_TOK_INTL && bb_tok_find("zh") == -1,
          "tokenizer lookup");
    bb_tok_work_free(&w);
    bb_textbuf_free(&out);
}

/* Error paths: a segment without references, invalid UTF-8. */
static void test_errors(void) {
    static const char *const hyps[] = {"a b c", "d e"};
    static const char *const s1[] = {"a b c", NULL}, *const s2[] = {"a b", NULL};
    static const char *const *const refs[] = {s1, s2};
    char err[256] = "";
    bb_bleu_opts o = bb_bleu_corpus_defaults();
    CHECK(bb_bleu_corpus(&o, hyps, 2, refs, 2, NULL, NULL, NULL, err, sizeof err) == -1 &&
              strstr(err, "segment 2 has no reference"), "BLEU without references: '%s'", err);
    bb_chrf_opts c = bb_chrf_defaults();
    CHECK(bb_chrf_corpus(&c, hyps, 2, refs, 2, NULL, NULL, NULL, err, sizeof err) == -1 &&
              strstr(err, "segment 2 has no reference"), "chrF without references: '%s'", err);
    static const char *const bad_h[] = {"ok", "bad \xff byte"};
    static const char *const good_r[] = {"ok", "fine"};
    static const char *const *const good_refs[] = {good_r};
    CHECK(bb_bleu_corpus(&o, bad_h, 2, good_refs, 1, NULL, NULL, NULL, err, sizeof err) == -1 &&
              strstr(err, "hypothesis of segment 2 is not valid UTF-8 (byte 5)"), "BLEU bad UTF-8: '%s'", err);
    CHECK(bb_chrf_corpus(&c, bad_h, 2, good_refs, 1, NULL, NULL, NULL, err, sizeof err) == -1 &&
              strstr(err, "not valid UTF-8"), "chrF bad UTF-8: '%s'", err);
    /* Statistics summed per segment equal the corpus statistics (compute-from-stats path). */
    bb_bleu_stats total, seg, sum = {0};
    BB_CHECK(bb_bleu_corpus(&o, readme_hyps, 3, readme_refs, 2, NULL, &total, NULL, err, sizeof err) == 0);
    bb_bleu_work *w = bb_bleu_work_new();
    for (int i = 0; i < 3; i++) {
        const char *r[] = {readme_ref1[i], readme_ref2[i]};
        CHECK(bb_bleu_segment(&o, readme_hyps[i], r, 2, &seg, w) == 2, "segment %d refs", i);
        sum.sys_len += seg.sys_len, sum.ref_len += seg.ref_len;
        for (int n = 0; n < 4; n++) sum.correct[n] += seg.correct[n], sum.total[n] += seg.total[n];
    }
    bb_bleu_work_free(w);
    CHECK(memcmp(&sum, &total, sizeof sum) == 0, "per-segment statistics do not sum to the corpus statistics");
}

static const bb_test_case cases[] = {
    {"sacrebleu_test_bleu", test_sacrebleu_test_bleu},
    {"sacrebleu_test_sentence_bleu", test_sacrebleu_test_sentence_bleu},
    {"sacrebleu_test_chrf", test_sacrebleu_test_chrf},
    {"hf_examples", test_hf_examples},
    {"tokenizer_13a", test_tokenizer_13a},
    {"generated_statistics", test_generated_statistics},
    {"generated_sentence_bleu", test_generated_sentence_bleu},
    {"generated_compute_bleu", test_generated_compute_bleu},
    {"generated_chrf", test_generated_chrf},
    {"generated_nltk_side", test_generated_nltk_side},
    {"unicode", test_unicode},
    {"errors", test_errors},
};

BB_TEST_MAIN(cases)
