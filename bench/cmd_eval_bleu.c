/* cmd_eval_bleu.c — `bitbench eval bleu`: sacreBLEU-compatible BLEU and chrF/chrF++ of a
 * hypothesis file against one or more reference files (eval/bleu.h, eval/chrf.h). It
 * mirrors the sacrebleu 2.6.0 CLI (sacrebleu.py): files are UTF-8, split at '\n' only,
 * every line rstripped; text output is `sacrebleu -f text` (NAME|SIGNATURE = SCORE
 * VERBOSE, several metrics aligned at '='), --json is sacreBLEU's default JSON (one
 * object, or a list for several metrics, the score rounded to --width decimals), and
 * --sentence is `sacrebleu -sl` (one line per segment, BLEU with effective order). Unlike
 * sacrebleu, --sentence --json writes a JSON list, and --smooth-value with a method that
 * takes no value is an error rather than ignored. */
#include "../common/args.h"
#include "../common/check.h"
#include "../common/io.h"
#include "../common/json.h"
#include "../engine/alloc.h"
#include "../eval/bleu.h"
#include "../eval/chrf.h"
#include "../eval/unicode.h"
#include "cli.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "eval bleu"

typedef struct {
    char *data;
    char **lines;   /* NUL-terminated, rstripped, into data */
    size_t n;
} text_file;

/* Reads path as sacrebleu's smart_open does: UTF-8, lines end at '\n' (a final '\n' does
 * not start another line), each line rstripped with Python's whitespace set. */
static void read_lines(const char *path, const char *role, text_file *tf) {
    size_t len;
    if (bb_read_file(path, &tf->data, &len) != 0)
        bb_user_error("cannot read %s file '%s': %s", role, path, strerror(errno));
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += tf->data[i] == '\n';
    if (len && tf->data[len - 1] != '\n') n++;
    tf->lines = bb_alloc(BB_MEM_DATA, (n ? n : 1) * sizeof *tf->lines);
    tf->n = n;
    char *p = tf->data;
    for (size_t k = 0; k < n; k++) {
        char *end = memchr(p, '\n', (size_t)(tf->data + len - p));
        if (!end) end = tf->data + len;
        size_t l = (size_t)(end - p), bad;
        if (memchr(p, '\0', l)) bb_user_error("%s file '%s' line %zu contains a NUL byte", role, path, k + 1);
        if (!bb_utf8_check(p, l, &bad))
            bb_user_error("%s file '%s' line %zu is not valid UTF-8 (byte %zu of the line)", role, path, k + 1, bad + 1);
        p[bb_uni_rstrip_len(p, l)] = '\0';
        tf->lines[k] = p;
        p = end + 1;
    }
}

static void text_file_free(text_file *tf) {
    bb_free(tf->lines);
    bb_free(tf->data);
}

/* One metric's result, ready to print. */
typedef struct {
    char name[32];
    double score;
    char sig[256], sig_short[256];
    char verbose[256];   /* "" for chrF */
} result;

typedef struct {
    bb_bleu_opts bleu;
    bb_chrf_opts chrf;
    const char *const *const *refs;   /* refs[k][i] */
    int n_refs;
} config;

static void bleu_result(const bb_bleu_score *s, const bb_bleu_opts *o, int nrefs, result *r) {
    snprintf(r->name, sizeof r->name, "BLEU");
    r->score = s->score;
    bb_bleu_signature(o, nrefs, false, r->sig, sizeof r->sig);
    bb_bleu_signature(o, nrefs, true, r->sig_short, sizeof r->sig_short);
    bb_bleu_verbose(s, r->verbose, sizeof r->verbose);
}

static void chrf_result(double score, const bb_chrf_opts *o, int nrefs, result *r) {
    bb_chrf_name(o, r->name, sizeof r->name);
    r->score = score;
    bb_chrf_signature(o, nrefs, false, r->sig, sizeof r->sig);
    bb_chrf_signature(o, nrefs, true, r->sig_short, sizeof r->sig_short);
    r->verbose[0] = '\0';
}

static void bleu_corpus(const config *c, const char *const *hyps, size_t n, result *r) {
    bb_bleu_score s;
    int nrefs;
    char err[256];
    if (bb_bleu_corpus(&c->bleu, hyps, n, c->refs, c->n_refs, &s, NULL, &nrefs, err, sizeof err) != 0)
        bb_user_error("%s", err);
    bleu_result(&s, &c->bleu, nrefs, r);
}

static void chrf_corpus(const config *c, const char *const *hyps, size_t n, result *r) {
    double score;
    int nrefs;
    char err[256];
    if (bb_chrf_corpus(&c->chrf, hyps, n, c->refs, c->n_refs, &score, NULL, &nrefs, err, sizeof err) != 0)
        bb_user_error("%s", err);
    chrf_result(score, &c->chrf, nrefs, r);
}

static void bleu_sentence(const config *c, const char *hyp, const char *const *refs, result *r) {
    bb_bleu_score s;
    char err[256];
    if (bb_bleu_sentence(&c->bleu, hyp, refs, c->n_refs, &s, err, sizeof err) != 0) bb_user_error("%s", err);
    bleu_result(&s, &c->bleu, c->n_refs, r);
}

static void chrf_sentence(const config *c, const char *hyp, const char *const *refs, result *r) {
    double score;
    char err[256];
    if (bb_chrf_sentence(&c->chrf, hyp, refs, c->n_refs, &score, err, sizeof err) != 0) bb_user_error("%s", err);
    chrf_result(score, &c->chrf, c->n_refs, r);
}

/* Metrics in sacreBLEU's output order (sorted by upper-case name). */
static const struct {
    const char *name;
    void (*corpus)(const config *c, const char *const *hyps, size_t n, result *r);
    void (*sentence)(const config *c, const char *hyp, const char *const *refs, result *r);
} metrics[] = {
    {"bleu", bleu_corpus, bleu_sentence},
    {"chrf", chrf_corpus, chrf_sentence},
};
#define N_METRICS ((int)(sizeof metrics / sizeof metrics[0]))

/* Picks metrics from --metrics values, each a comma-separated list. */
static void select_metrics(const bb_arg_list *list, bool *on) {
    for (int m = 0; m < N_METRICS; m++) on[m] = list->n == 0 && m == 0;  /* default: bleu */
    for (int i = 0; i < list->n; i++) {
        const char *s = list->v[i];
        while (*s) {
            size_t len = strcspn(s, ",");
            int found = -1;
            for (int m = 0; m < N_METRICS; m++)
                if (strlen(metrics[m].name) == len && strncmp(metrics[m].name, s, len) == 0) found = m;
            if (found < 0) bb_usage_error(CMD, "unknown metric '%.*s' in --metrics (choose bleu, chrf)", (int)len, s);
            on[found] = true;
            s += len + (s[len] == ',');
        }
    }
}

static void print_text(const result *rs, int n, bool short_sig, int width) {
    char lines[N_METRICS][1024];
    int eq[N_METRICS], w = 0;
    for (int i = 0; i < n; i++) {
        bb_sig_score_line(rs[i].name, short_sig ? rs[i].sig_short : rs[i].sig, rs[i].score, width,
                          rs[i].verbose[0] ? rs[i].verbose : NULL, lines[i], sizeof lines[i]);
        eq[i] = (int)(strchr(lines[i], '=') - lines[i]) - 1;
        if (eq[i] > w) w = eq[i];
    }
    /* sacrebleu's print_single_results: right-align the part before " = " when n > 1. */
    for (int i = 0; i < n; i++) printf("%*s%.*s%s\n", n > 1 ? w - eq[i] : 0, "", eq[i], lines[i], lines[i] + eq[i]);
}

static void json_result(bb_json *j, const result *r, int width) {
    char rounded[64], sig[256];
    snprintf(rounded, sizeof rounded, "%.*f", width, r->score);
    bb_json_obj_begin(j);
    bb_json_key(j, "name"), bb_json_str(j, r->name);
    bb_json_key(j, "score"), bb_json_num_short(j, strtod(rounded, NULL));
    bb_json_key(j, "signature"), bb_json_str(j, r->sig);
    if (r->verbose[0]) bb_json_key(j, "verbose_score"), bb_json_str(j, r->verbose);
    /* Then every signature field as its own string, as sacreBLEU's Score.format does. */
    snprintf(sig, sizeof sig, "%s", r->sig);
    for (char *save = NULL, *item = strtok_r(sig, "|", &save); item; item = strtok_r(NULL, "|", &save)) {
        char *colon = strchr(item, ':');
        BB_CHECK(colon != NULL);
        *colon = '\0';
        bb_json_key(j, item), bb_json_str(j, colon + 1);
    }
    bb_json_obj_end(j);
}

/* --sentence: each segment scored alone against its references. */
static void run_sentences(const config *c, int metric, const text_file *hyp, bool json, bool short_sig, int width) {
    bb_json j;
    if (json) bb_json_init(&j, stdout), bb_json_arr_begin(&j);
    const char *refs[BB_ARG_LIST_MAX];
    for (size_t i = 0; i < hyp->n; i++) {
        for (int k = 0; k < c->n_refs; k++) refs[k] = c->refs[k][i];
        result r;
        metrics[metric].sentence(c, hyp->lines[i], refs, &r);
        if (json) json_result(&j, &r, width);
        else print_text(&r, 1, short_sig, width);
    }
    if (json) bb_json_arr_end(&j);
}

int bb_cmd_eval_bleu(int argc, char **argv) {
    const char *hyp_path = NULL, *tokenize = "13a", *smooth = "exp";
    bb_arg_list ref_paths = {0}, metric_list = {0};
    double smooth_value = NAN;
    bool lowercase = false, json = false, sentence = false, short_sig = false;
    bool chrf_lc = false, chrf_ws = false, chrf_eps = false;
    long width = 1, char_order = 6, word_order = 0, beta = 2;
    const bb_arg args[] = {
        {"hyp", BB_ARG_STR, &hyp_path, "FILE", "hypotheses, one segment per line", 0, -1},
        {"ref", BB_ARG_STR_LIST, &ref_paths, "FILE", "references, line-aligned with --hyp", 0, -1},
        {"metrics", BB_ARG_STR_LIST, &metric_list, "LIST", "bleu, chrf or bleu,chrf; default bleu", 0, -1},
        {"tokenize", BB_ARG_STR, &tokenize, "NAME", "BLEU tokenizer: 13a|none|intl|char", 0, -1},
        {"smooth", BB_ARG_STR, &smooth, "NAME", "BLEU smoothing: exp|floor|add-k|none", 0, -1},
        {"smooth-value", BB_ARG_DOUBLE, &smooth_value, "X", "floor/add-k value (defaults 0.1 and 1)", 0, -1},
        {"lowercase", BB_ARG_FLAG, &lowercase, NULL, "case-insensitive BLEU (Python str.lower())", 0, -1},
        {"chrf-char-order", BB_ARG_INT, &char_order, "N", "chrF character n-gram order", 1, 24},
        {"chrf-word-order", BB_ARG_INT, &word_order, "N", "chrF word n-gram order (2: chrF++)", 0, 8},
        {"chrf-beta", BB_ARG_INT, &beta, "N", "chrF recall weight", 0, 1000},
        {"chrf-whitespace", BB_ARG_FLAG, &chrf_ws, NULL, "keep whitespace in chrF character n-grams", 0, -1},
        {"chrf-lowercase", BB_ARG_FLAG, &chrf_lc, NULL, "case-insensitive chrF", 0, -1},
        {"chrf-eps-smoothing", BB_ARG_FLAG, &chrf_eps, NULL, "chrF++.py/NLTK epsilon smoothing", 0, -1},
        {"sentence", BB_ARG_FLAG, &sentence, NULL, "score every segment (one metric; BLEU uses effective order)", 0, -1},
        {"json", BB_ARG_FLAG, &json, NULL, "print sacreBLEU's JSON instead of text", 0, -1},
        {"width", BB_ARG_INT, &width, "N", "decimals of the printed score", 0, 15},
        {"short", BB_ARG_FLAG, &short_sig, NULL, "short signature in text output (#:1|c:mixed|...)", 0, -1},
    };
    const bb_cmd_spec spec = {
        CMD, "sacreBLEU-compatible corpus or sentence BLEU and chrF/chrF++ of a hypothesis file.",
        "--hyp FILE --ref FILE [--ref FILE ...] [options]", args, (int)(sizeof args / sizeof args[0]), 0, 0,
        "Scores equal sacreBLEU 2.6.0's (`sacrebleu REF... -i HYP -m bleu chrf`); the signature\n"
        "says how they were made, e.g. nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0.\n"
        "--lowercase applies to BLEU and --chrf-lowercase to chrF, as in sacrebleu."};
    bb_args_parse(&spec, argc, argv, NULL);
    if (!hyp_path) bb_usage_error(CMD, "--hyp is required");
    if (ref_paths.n == 0) bb_usage_error(CMD, "at least one --ref is required");
    bool on[N_METRICS];
    select_metrics(&metric_list, on);
    int n_on = 0, first = -1;
    for (int m = 0; m < N_METRICS; m++)
        if (on[m]) n_on++, first = first < 0 ? m : first;
    if (sentence && n_on > 1) bb_usage_error(CMD, "--sentence takes one metric, got %d", n_on);

    config c = {.bleu = sentence ? bb_bleu_sentence_defaults() : bb_bleu_corpus_defaults(),
                .chrf = bb_chrf_defaults()};
    int tok = bb_tok_find(tokenize);
    if (tok < 0) bb_usage_error(CMD, "unknown --tokenize '%s' (choose %s)", tokenize, bb_tok_names());
    int sm = bb_bleu_smooth_find(smooth);
    if (sm < 0) bb_usage_error(CMD, "unknown --smooth '%s' (choose %s)", smooth, bb_bleu_smooth_names());
    if (!isnan(smooth_value) && isnan(bb_bleu_smooth_default((bb_bleu_smooth)sm)))
        bb_usage_error(CMD, "--smooth-value applies to floor and add-k, not %s", smooth);
    if (!isnan(smooth_value) && !(smooth_value >= 0 && isfinite(smooth_value)))
        bb_usage_error(CMD, "--smooth-value must be a finite number >= 0, got %g", smooth_value);
    c.bleu.tokenize = (bb_tok_kind)tok;
    c.bleu.smooth = (bb_bleu_smooth)sm;
    c.bleu.smooth_value = smooth_value;
    c.bleu.lowercase = lowercase;
    c.chrf = (bb_chrf_opts){.char_order = (int)char_order, .word_order = (int)word_order, .beta = (int)beta,
                            .lowercase = chrf_lc, .whitespace = chrf_ws, .eps_smoothing = chrf_eps};

    text_file hyp = {0}, refs[BB_ARG_LIST_MAX] = {{0}};
    const char *const *ref_lines[BB_ARG_LIST_MAX];
    read_lines(hyp_path, "hypothesis", &hyp);
    if (hyp.n == 0) bb_user_error("hypothesis file '%s' is empty", hyp_path);
    for (int k = 0; k < ref_paths.n; k++) {
        read_lines(ref_paths.v[k], "reference", &refs[k]);
        if (refs[k].n != hyp.n)
            bb_user_error("hypothesis file '%s' has %zu lines but reference file '%s' has %zu", hyp_path, hyp.n,
                          ref_paths.v[k], refs[k].n);
        ref_lines[k] = (const char *const *)refs[k].lines;
    }
    c.refs = ref_lines;
    c.n_refs = ref_paths.n;

    /* sacreBLEU's tokenized-input warning (BLEU._force is False on the CLI). */
    size_t tokenized = 0;
    for (size_t i = 0; on[0] && i < hyp.n; i++) {
        size_t l = strlen(hyp.lines[i]);
        tokenized += l >= 2 && strcmp(hyp.lines[i] + l - 2, " .") == 0;
    }
    if (tokenized >= 100)
        fprintf(stderr, "bitbench %s: warning: %zu hypotheses end in a tokenized period (' .'); BLEU expects "
                        "detokenized text\n", CMD, tokenized);

    const char *const *hyp_lines = (const char *const *)hyp.lines;
    if (sentence) {
        run_sentences(&c, first, &hyp, json, short_sig, (int)width);
    } else {
        result rs[N_METRICS];
        int n = 0;
        for (int m = 0; m < N_METRICS; m++)
            if (on[m]) metrics[m].corpus(&c, hyp_lines, hyp.n, &rs[n++]);
        if (json) {
            bb_json j;
            bb_json_init(&j, stdout);
            if (n > 1) bb_json_arr_begin(&j);
            for (int i = 0; i < n; i++) json_result(&j, &rs[i], (int)width);
            if (n > 1) bb_json_arr_end(&j);
        } else {
            print_text(rs, n, short_sig, (int)width);
        }
    }
    for (int k = 0; k < ref_paths.n; k++) text_file_free(&refs[k]);
    text_file_free(&hyp);
    return 0;
}
