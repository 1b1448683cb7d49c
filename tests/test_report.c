/* test_report.c — the report's promises (issue #8):
 *  - the claims file is read in its shape (the real ../shared/specs/claims.md when present);
 *  - a planted sentinel claim never reaches a measured or computed column, though it does
 *    appear in the claimed columns (so the planting worked);
 *  - every claim row gets a verdict of one of the three forms;
 *  - the checker itself catches a sentinel in a measured column (so the test can fail).
 * The fixture run holds hand-made CSV rows written through the real schemas. */
#include "../bench/claims.h"
#include "../bench/csv.h"
#include "../bench/report.h"
#include "../bench/results.h"
#include "../bench/schemas.h"
#include "../common/io.h"
#include "../engine/alloc.h"
#include "test.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SENTINEL "987654"

/* The claims file's shape with every claimed figure replaced by a sentinel figure. Device
 * and model names (which define a row, like "FP32") keep theirs. */
static const char planted_claims[] =
    "# claims with sentinels\n\n"
    "## Table A — training speed (claimed: Llama-7B, batch 4, RTX 3090)\n"
    "| precision | tokens/s | memory | accuracy vs FP32 |\n|---|---|---|---|\n"
    "| FP32 | 987654321 | 987654 GB | 987654 % |\n"
    "| FP16 | 987654322 | 987654 GB | 987654.8 % |\n"
    "| INT8 | 987654323 | 987654 GB | 987654.5 % |\n"
    "| INT4 | 987654324 | 987654 GB | 987654.2 % |\n"
    "| 1.58-bit | 987654325 | 987654 GB | 987654–987655 % (\"with light fine-tuning, 987654 % of data\") |\n\n"
    "## Table B — accuracy (claimed: a persona fine-tuning task, BLEU)\n"
    "| model | BLEU | vs FP32 |\n|---|---|---|\n"
    "| FP32 baseline | 987654.5 | 987654 % |\n"
    "| 1.58-bit | 987654.1 | 987654.3 % |\n"
    "| 1.58-bit + LoRA | 987654.2 | 987654.3 % |\n"
    "| 1.58-bit + KD (FP32 teacher) | 987654.8 | 987654.7 % |\n\n"
    "## Table C — memory math (claimed, Llama-7B)\n"
    "- FP32 training: 987654 bytes/param (987654 weight + 987654 grad + 987654 Adam) → 987654 GB + ~987654 GB activations.\n"
    "- 1.58-bit training: 987654.2 (weight) + 987654.2 (grad) + 987654.4 (optimizer) bytes/param → 987654.6 GB + 987654 GB\n"
    "  activations = 987654.4 GB, \"987654.7× reduction\".\n"
    "- Model size: \"987654× compression, 987654 GB → 987654 MB for 7B\".\n\n"
    "## Table D — what fits where (claimed)\n"
    "| hardware | before (FP32) | after (1.58-bit) | claimed memory / throughput |\n|---|---|---|---|\n"
    "| RTX 3060 8 GB | GPT-2 Medium 355M | Llama-2 7B + LoRA | ~987654 GB; 987654–987655 tok/s |\n"
    "| RTX 3090 24 GB | GPT-2 Large 774M | Llama-2 13B | ~987654 GB; 987654–987655 tok/s |\n"
    "| 2× RTX 4090 (\"96 GB\") | GPT-J 6B | Llama-2 70B | ~987654 GB; 987654–987655 tok/s |\n"
    "| CPU, 32 GB RAM | DistilGPT-2 82M | Llama-7B + LoRA | 987654–987655 GB; 987654–987655 tok/s |\n"
    "Other claims: \"training speed 987654–987655× faster\", \"inference < 987654 ms/token on CPU/GPU\", gradient\n"
    "checkpointing \"saves 987654 % of activation memory at 987654–987655 % slower\", mixed precision \"987654 %\n"
    "less memory with 987654× speedup\", distributed \"987654 % communication overhead\".\n\n"
    "## What the literature says\n- not a table\n";

/* A row with every column "1", then the given column=value pairs. */
static void add_row(bb_csv_table *t, const char *const *kv, int n) {
    bb_csv_row r;
    char line[8192], err[300];
    bb_csv_row_init(&r, t->s);
    for (int c = 0; c < t->s->n_cols; c++) bb_csv_row_str(&r, t->s->cols[c].name, "1");
    for (int i = 0; i + 1 < n; i += 2) bb_csv_row_str(&r, kv[i], kv[i + 1]);
    CHECK(bb_csv_row_finish(&r, line, sizeof line, err, sizeof err) == 0, "%s", err);
    const char *rows[1] = {line};
    CHECK(bb_csv_table_append(t, rows, 1, NULL, err, sizeof err) == 0, "%s", err);
}

static void make_fixture(const char *dir) {
    bb_run run;
    char *argv[] = {"--tiny"};
    bb_run_begin(&run, "suite", "suite", NULL, dir, false, "fixture", 1, argv);
    char err[300];
    bb_csv_table t;
    const char *precs[] = {"fp32", "fp16", "bf16", "int8", "int4", "b158"};
    CHECK(bb_csv_table_open(&t, dir, &bb_schema_throughput, err, sizeof err) == 0, "%s", err);
    for (int p = 0; p < 6; p++)
        for (int ck = 0; ck < (p == 0 ? 2 : 1); ck++) {
            const char *kv[] = {"device", "cpu", "preset", "tiny", "precision", precs[p], "method", "full",
                                "checkpointing", ck ? "block" : "none", "train_tokens_per_s_median", "1200",
                                "train_ratio_to_fp32", p ? "0.9" : "1.0", "step_ms_median", ck ? "13" : "10",
                                "decode_ms_per_token_median", "0.4"};
            add_row(&t, kv, (int)(sizeof kv / sizeof kv[0]));
        }
    bb_csv_table_close(&t);
    CHECK(bb_csv_table_open(&t, dir, &bb_schema_memory, err, sizeof err) == 0, "%s", err);
    for (int p = 0; p < 6; p++)
        for (int ck = 0; ck < (p == 0 ? 2 : 1); ck++) {
            const char *kv[] = {"device", "cpu", "preset", "tiny", "precision", precs[p], "method", "full",
                                "checkpointing", ck ? "block" : "none", "measured_total_mib", "11.5",
                                "measured_activations_mib", ck ? "2.5" : "5.5", "n_params", "366336"};
            add_row(&t, kv, (int)(sizeof kv / sizeof kv[0]));
        }
    bb_csv_table_close(&t);
    CHECK(bb_csv_table_open(&t, dir, &bb_schema_quality, err, sizeof err) == 0, "%s", err);
    for (int task = 0; task < 2; task++)
        for (int p = 0; p < 6; p++) {
            char hash[32];
            snprintf(hash, sizeof hash, "%016d", task * 10 + p);
            const char *kv[] = {"config_hash", hash, "task", task ? "mt" : "lm", "preset", "tiny", "precision", precs[p],
                                "method", "full", "valid_token_accuracy_pct", "12.5", "bleu", "2.5",
                                "bleu_signature", "nrefs:1|case:mixed"};
            add_row(&t, kv, (int)(sizeof kv / sizeof kv[0]));
        }
    bb_csv_table_close(&t);
    CHECK(bb_csv_table_open(&t, dir, &bb_schema_kernels, err, sizeof err) == 0, "%s", err);
    const char *kv[] = {"kind", "gemv", "precision", "triad", "shape", "llama7b-attn", "kernel", "omp", "triad_gb_per_s", "25.5"};
    add_row(&t, kv, (int)(sizeof kv / sizeof kv[0]));
    bb_csv_table_close(&t);
}

/* Splits a markdown row into cells (bars escaped as \| stay inside a cell). */
static int split_md(char *line, char **cells, int cap) {
    int n = 0;
    char *p = line + 1;
    while (*p && n < cap) {
        char *q = p;
        while (*q && !(*q == '|' && q[-1] != '\\')) q++;
        if (!*q) break;
        *q = '\0';
        cells[n++] = p;
        p = q + 1;
    }
    return n;
}

typedef struct {
    int rows, verdicts, bad_verdicts, leaks, planted;
    char first_leak[300], first_bad[300];
} md_check;

/* Walks the tables of the claims sections (## Table ..., ## Other claims). */
static void check_markdown(const char *md, md_check *r) {
    memset(r, 0, sizeof *r);
    char *text = bb_strdup(md), *save = NULL;
    bool in_claims = false;
    char *hdr[16];
    char hdrbuf[4096];
    int n_hdr = 0, line_in_table = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "## ", 3) == 0) {
            in_claims = strncmp(line, "## Table", 8) == 0 || strncmp(line, "## Other claims", 15) == 0;
            line_in_table = 0;
            continue;
        }
        if (line[0] != '|') { line_in_table = 0; continue; }
        if (!in_claims) continue;
        if (line_in_table++ == 0) {
            snprintf(hdrbuf, sizeof hdrbuf, "%s", line);
            n_hdr = split_md(hdrbuf, hdr, 16);
            continue;
        }
        if (strncmp(line, "|---", 4) == 0) continue;
        char *cells[16];
        int n = split_md(line, cells, 16);
        r->rows++;
        for (int c = 0; c < n && c < n_hdr; c++) {
            bool measured = strstr(hdr[c], "measured") || strstr(hdr[c], "computed");
            bool claimed = strstr(hdr[c], "claimed") != NULL;
            if (strstr(cells[c], SENTINEL)) {
                if (measured && !claimed) {
                    if (!r->leaks++) snprintf(r->first_leak, sizeof r->first_leak, "column '%s': %.200s", hdr[c], cells[c]);
                } else if (claimed) {
                    r->planted++;
                }
            }
            if (strstr(hdr[c], "verdict")) {
                const char *v = cells[c];
                while (*v == ' ') v++;
                r->verdicts++;
                if (strncmp(v, "holds", 5) != 0 && strncmp(v, "does not hold (", 15) != 0 &&
                    strncmp(v, "not measurable here (", 21) != 0)
                    if (!r->bad_verdicts++) snprintf(r->first_bad, sizeof r->first_bad, "%.200s", v);
            }
        }
    }
    bb_free(text);
}

static void test_checker_can_fail(void) {
    md_check r;
    check_markdown("## Table A — x\n\n| a | b claimed | b measured here | verdict |\n|---|---|---|---|\n"
                   "| FP32 | 987654 | 987654 | holds (x) |\n| FP16 | 1 | 2 | maybe |\n", &r);
    CHECK(r.leaks == 1 && r.planted == 1 && r.rows == 2 && r.bad_verdicts == 1,
          "checker: %d leaks, %d planted, %d rows, %d bad verdicts (expected 1, 1, 2, 1)", r.leaks, r.planted, r.rows,
          r.bad_verdicts);
}

static void test_real_claims_shape(void) {
    const char *path = BB_SOURCE_ROOT "/../shared/specs/claims.md";
    if (!bb_file_exists(path)) {
        printf("skip: %s not found\n", path);
        return;
    }
    bb_claims c;
    char err[300];
    CHECK(bb_claims_load(path, &c, err, sizeof err) == 0, "%s", err);
    const bb_claims_table *a = bb_claims_table_find(&c, 'A'), *b = bb_claims_table_find(&c, 'B');
    const bb_claims_table *cc = bb_claims_table_find(&c, 'C'), *d = bb_claims_table_find(&c, 'D');
    CHECK(a && a->n_rows == 5 && a->n_cols == 4, "table A: %d rows, %d cols", a ? a->n_rows : -1, a ? a->n_cols : -1);
    CHECK(b && b->n_rows == 4 && b->n_cols == 3, "table B: %d rows", b ? b->n_rows : -1);
    CHECK(cc && cc->bullets && cc->n_rows == 3, "table C: %d bullets", cc ? cc->n_rows : -1);
    CHECK(d && d->n_rows == 4 && d->n_cols == 4, "table D: %d rows", d ? d->n_rows : -1);
    CHECK(c.n_other == 5, "%d other claims, expected 5", c.n_other);
    CHECK(cc && strstr(cc->cell[1][0], "activations = 8.4 GB"), "bullet continuation joined: '%s'", cc ? cc->cell[1][0] : "");
    double lo, hi;
    CHECK(a && bb_claims_number(a->cell[4][3], &lo, &hi) == 2 && lo == 94 && hi == 99, "range 94–99: %g %g", lo, hi);
}

static void test_sentinel(void) {
    char dir[64] = "/tmp/bb_test_report_XXXXXX", claims[128], err[600], md_path[128];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    make_fixture(dir);
    snprintf(claims, sizeof claims, "%s/claims.md", dir);
    FILE *f = fopen(claims, "w");
    fputs(planted_claims, f);
    fclose(f);
    CHECK(bb_report_write(dir, claims, err, sizeof err) == 0, "report: %s", err);
    snprintf(md_path, sizeof md_path, "%s/REPORT.md", dir);
    char *md;
    size_t n;
    CHECK(bb_read_file(md_path, &md, &n) == 0, "REPORT.md written");
    md_check r;
    check_markdown(md, &r);
    /* 5 + 4 + 3 + 4 claim rows and 5 other claims */
    CHECK(r.rows == 21 && r.verdicts == 21, "%d claim rows, %d verdicts (expected 21 and 21)", r.rows, r.verdicts);
    CHECK(r.bad_verdicts == 0, "%d verdicts not of the three forms, first: %s", r.bad_verdicts, r.first_bad);
    CHECK(r.leaks == 0, "the sentinel reached %d measured/computed cells, first: %s", r.leaks, r.first_leak);
    CHECK(r.planted >= 21, "the sentinel appears in only %d claimed cells", r.planted);
    CHECK(strstr(md, "bitbench suite --tiny") != NULL, "the header lists the exact command");
    bb_free(md);
    char html[128];
    snprintf(html, sizeof html, "%s/REPORT.html", dir);
    CHECK(bb_file_exists(html), "REPORT.html written");
    if (!getenv("BB_KEEP")) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        CHECK(system(cmd) == 0, "cleanup");
    }
}

static const bb_test_case cases[] = {
    {"checker_can_fail", test_checker_can_fail},
    {"real_claims_shape", test_real_claims_shape},
    {"sentinel", test_sentinel},
};
BB_TEST_MAIN(cases)
