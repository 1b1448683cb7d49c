/* test_results.c — the results infrastructure of the harness (issue #8): the run id, the
 * keyed CSV tables (atomic appends, resume, torn lines, header checks, group replacement),
 * the row builder, and the manifest of a resumed run. */
#include "../bench/csv.h"
#include "../bench/kernels_csv.h"
#include "../bench/results.h"
#include "../bench/schemas.h"
#include "../common/io.h"
#include "../common/json_parse.h"
#include "../engine/alloc.h"
#include "test.h"
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const bb_csv_col cols[] = {{"a", "key 1"}, {"b", "key 2"}, {"value_ms", "a value"}};
static const bb_csv_schema schema = {"t.csv", "test table", cols, 3, 2};

static void make_tmpdir(char *dir, size_t cap) {
    snprintf(dir, cap, "/tmp/bb_test_results_XXXXXX");
    CHECK(mkdtemp(dir) != NULL, "mkdtemp failed");
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "cannot write %s", path);
    if (f) { fputs(text, f); fclose(f); }
}

static char *read_text(const char *path) {
    char *t = NULL;
    size_t n;
    if (bb_read_file(path, &t, &n) != 0) return NULL;
    return t;
}

/* No temp files (*.tmp.*) left in dir. */
static int count_tmp_files(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += strstr(e->d_name, ".tmp.") != NULL;
    if (d) closedir(d);
    return n;
}

static void test_run_id(void) {
    bb_env e;
    memset(&e, 0, sizeof e);
    snprintf(e.git_commit, sizeof e.git_commit, "0123456789ab-dirty");
    snprintf(e.hostname, sizeof e.hostname, "my host/x");
    char id[256], date[16], want[256];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y%m%d", gmtime(&now));
    bb_run_id(&e, "quick", id, sizeof id);
    snprintf(want, sizeof want, "%s-0123456-dirty-my_host_x-quick", date);
    CHECK(strcmp(id, want) == 0, "run id '%s', expected '%s'", id, want);
    snprintf(e.git_commit, sizeof e.git_commit, "fedcba987654");
    bb_run_id(&e, NULL, id, sizeof id);
    snprintf(want, sizeof want, "%s-fedcba9-my_host_x", date);
    CHECK(strcmp(id, want) == 0, "run id '%s', expected '%s'", id, want);
    char h1[17], h2[17];
    bb_config_hash("a=1", h1);
    bb_config_hash("a=2", h2);
    CHECK(strlen(h1) == 16 && strcmp(h1, h2) != 0, "config hashes %s %s", h1, h2);
}

static void test_table_append_resume(void) {
    char dir[64], err[512], path[128];
    make_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/t.csv", dir);
    bb_csv_table t;
    CHECK(bb_csv_table_open(&t, dir, &schema, err, sizeof err) == 0, "open: %s", err);
    char *text = read_text(path);
    CHECK(text && strcmp(text, "a,b,value_ms\n") == 0, "new table holds '%s'", text ? text : "(null)");
    bb_free(text);
    const char *rows[] = {"x,1,10.5", "x,2,11.5"};
    CHECK(bb_csv_table_append(&t, rows, 2, NULL, err, sizeof err) == 0, "append: %s", err);
    CHECK(bb_csv_table_has(&t, "x,1") && bb_csv_table_has(&t, "x,2"), "keys x,1 and x,2 present");
    CHECK(!bb_csv_table_has(&t, "x") && !bb_csv_table_has(&t, "x,3"), "partial or absent keys are not present");
    char v[32];
    CHECK(bb_csv_table_get(&t, "x,2", "value_ms", v, sizeof v) && strcmp(v, "11.5") == 0, "get x,2 value_ms = '%s'", v);
    const char *dup[] = {"x,1,99"};
    CHECK(bb_csv_table_append(&t, dup, 1, NULL, err, sizeof err) != 0 && strstr(err, "already holds"),
          "a duplicate key is refused (err '%s')", err);
    const char *bad[] = {"x,4"};
    CHECK(bb_csv_table_append(&t, bad, 1, NULL, err, sizeof err) != 0 && strstr(err, "2 fields"),
          "a short row is refused (err '%s')", err);
    bb_csv_table_close(&t);

    /* reopen: the rows are resumed, and the file was never left with a temp file */
    CHECK(bb_csv_table_open(&t, dir, &schema, err, sizeof err) == 0, "reopen: %s", err);
    CHECK(t.n_resumed == 2 && t.n_rows == 2, "resumed %d rows (n_rows %d), expected 2", t.n_resumed, t.n_rows);
    CHECK(bb_csv_table_has(&t, "x,1"), "x,1 survives the reopen");
    /* a group appended again replaces its earlier rows instead of duplicating them */
    const char *group[] = {"x,1,20", "x,2,21", "x,3,22"};
    CHECK(bb_csv_table_append(&t, group, 3, "x,", err, sizeof err) == 0, "group append: %s", err);
    CHECK(t.n_rows == 3, "after replacing group x: %d rows, expected 3", t.n_rows);
    CHECK(bb_csv_table_get(&t, "x,1", "value_ms", v, sizeof v) && strcmp(v, "20") == 0, "x,1 replaced: '%s'", v);
    bb_csv_table_close(&t);
    text = read_text(path);
    CHECK(text && strcmp(text, "a,b,value_ms\nx,1,20\nx,2,21\nx,3,22\n") == 0, "file holds '%s'", text ? text : "(null)");
    bb_free(text);
    CHECK(count_tmp_files(dir) == 0, "%d temp files left in %s", count_tmp_files(dir), dir);

    /* a torn last line (a writer killed mid-line, not ours) is dropped, never read as a row */
    write_text(path, "a,b,value_ms\ny,1,5\ny,2,6");
    CHECK(bb_csv_table_open(&t, dir, &schema, err, sizeof err) == 0, "open torn: %s", err);
    CHECK(t.n_resumed == 1 && bb_csv_table_has(&t, "y,1") && !bb_csv_table_has(&t, "y,2"),
          "torn file: %d rows resumed, expected only y,1", t.n_resumed);
    bb_csv_table_close(&t);
    text = read_text(path);
    CHECK(text && strcmp(text, "a,b,value_ms\ny,1,5\n") == 0, "torn line removed on disk: '%s'", text ? text : "(null)");
    bb_free(text);

    /* another header: never appended to */
    write_text(path, "a,b,value_s\nz,1,5\n");
    CHECK(bb_csv_table_open(&t, dir, &schema, err, sizeof err) != 0 && strstr(err, "another header"),
          "another header is refused (err '%s')", err);
    /* a malformed row */
    write_text(path, "a,b,value_ms\nz,1\n");
    CHECK(bb_csv_table_open(&t, dir, &schema, err, sizeof err) != 0 && strstr(err, "line 2 has 2 fields"),
          "a malformed row is refused (err '%s')", err);
    remove(path);
    rmdir(dir);
}

static void test_row_builder(void) {
    bb_csv_row r;
    char line[256], err[256];
    bb_csv_row_init(&r, &schema);
    bb_csv_row_str(&r, "b", "with, comma \"quoted\"");
    bb_csv_row_str(&r, "a", "k");
    bb_csv_row_num(&r, "value_ms", 1.23456, 2);
    CHECK(bb_csv_row_finish(&r, line, sizeof line, err, sizeof err) == 0, "finish: %s", err);
    CHECK(strcmp(line, "k,with  comma  quoted ,1.23") == 0, "row '%s'", line);
    bb_csv_row_init(&r, &schema);
    bb_csv_row_str(&r, "a", "k");
    bb_csv_row_num(&r, "value_ms", 0.0 / 0.0, 2);
    CHECK(bb_csv_row_finish(&r, line, sizeof line, err, sizeof err) != 0 && strstr(err, "column b was not set"),
          "an unset column is reported (err '%s')", err);
    bb_csv_row_init(&r, &schema);
    bb_csv_row_str(&r, "a", "k");
    bb_csv_row_str(&r, "b", "1");
    bb_csv_row_num(&r, "value_ms", 0.0 / 0.0, 2);
    CHECK(bb_csv_row_finish(&r, line, sizeof line, err, sizeof err) == 0 && strcmp(line, "k,1,") == 0,
          "a non-finite number is an empty field: '%s'", line);
}

/* Every schema: snake_case names, a unit or a plain count/label, documented, unique. */
static void test_schemas(void) {
    for (int s = 0; s < bb_n_schemas; s++) {
        const bb_csv_schema *sc = bb_schemas[s];
        CHECK(sc->n_cols <= 64 && sc->n_key >= 1, "%s: %d columns, key %d", sc->file, sc->n_cols, sc->n_key);
        for (int c = 0; c < sc->n_cols; c++) {
            const char *n = sc->cols[c].name;
            bool snake = *n >= 'a' && *n <= 'z';
            for (const char *p = n; *p; p++) snake = snake && ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_');
            CHECK(snake, "%s: column '%s' is not snake_case", sc->file, n);
            CHECK(sc->cols[c].doc && strlen(sc->cols[c].doc) > 5, "%s: column '%s' has no documentation", sc->file, n);
            for (int d = 0; d < c; d++) CHECK(strcmp(n, sc->cols[d].name) != 0, "%s: column '%s' twice", sc->file, n);
        }
    }
}

static void test_manifest_resume(void) {
    char dir[64], err[300], path[128];
    make_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    bb_run run;
    char *a1[] = {"--precisions", "fp32,int8", "--note", "two words"};
    bb_run_begin(&run, "throughput", "bench throughput", NULL, dir, false, "cfg-one", 4, a1);
    char *a2[] = {"--precisions", "b158"};
    bb_run_begin(&run, "memory", "bench memory", NULL, dir, false, "cfg-two", 2, a2);
    char *text;
    size_t n;
    CHECK(bb_read_file(path, &text, &n) == 0, "manifest written");
    bb_json_doc *doc = bb_json_parse(text, n, err, sizeof err);
    CHECK(doc != NULL, "manifest parses: %s", err);
    if (doc) {
        const bb_json_node *root = bb_json_doc_root(doc), *inv = bb_json_get(root, "invocations");
        const bb_json_node *cl = bb_json_get(root, "command_line"), *ch = bb_json_get(root, "config_hash");
        char h[17];
        bb_config_hash("cfg-one", h);
        CHECK(cl && strcmp(cl->str, "bitbench bench throughput --precisions fp32,int8 --note 'two words'") == 0,
              "command_line '%s'", cl ? cl->str : "(none)");
        CHECK(ch && strcmp(ch->str, h) == 0, "config_hash of the first invocation");
        CHECK(inv && inv->n == 2, "2 invocations recorded, got %zu", inv ? inv->n : 0);
        if (inv && inv->n == 2) {
            const bb_json_node *second = inv->child->next;
            CHECK(strcmp(bb_json_get(second, "command_line")->str, "bitbench bench memory --precisions b158") == 0,
                  "second command line '%s'", bb_json_get(second, "command_line")->str);
        }
        CHECK(bb_json_get(root, "env") && bb_json_get(bb_json_get(root, "env"), "cpu_model"), "env object present");
        CHECK(bb_json_get(root, "binary_sha256") && strlen(bb_json_get(root, "binary_sha256")->str) == 64,
              "binary hash recorded");
        bb_json_doc_free(doc);
    }
    bb_free(text);
    remove(path);
    rmdir(dir);
}

/* kernels.csv from a real bench gemm output (the committed baseline): every row kept, the
 * references renamed, the dispatched kernel marked, the numbers copied unchanged. */
static void test_kernels_csv(void) {
    char dir[64], err[512], path[128];
    make_tmpdir(dir, sizeof dir);
    const char *gemm = BB_SOURCE_ROOT "/results/baselines/gemm-kernels/gemm.csv";
    int n = bb_kernels_csv_from_gemm(gemm, dir, err, sizeof err);
    bb_csv_doc in, out;
    CHECK(bb_csv_read(gemm, &in, NULL, err, sizeof err) == 0, "%s", err);
    CHECK(n == in.n_rows, "converted %d rows of %d (%s)", n, in.n_rows, n < 0 ? err : "");
    snprintf(path, sizeof path, "%s/kernels.csv", dir);
    CHECK(bb_csv_read(path, &out, NULL, err, sizeof err) == 0, "%s", err);
    int triad = 0, sgemv = 0, bf16_alt = 0;
    for (int r = 0; r < out.n_rows && r < in.n_rows; r++) {
        const char *p = bb_csv_cell(&out, r, "precision"), *k = bb_csv_cell(&out, r, "kernel");
        triad += strcmp(p, "triad") == 0 && strcmp(bb_csv_cell(&out, r, "kind"), "gemv") == 0;
        sgemv += strcmp(p, "fp32-sgemv") == 0;
        if (strcmp(p, "bf16") == 0 && strstr(k, "avx512bf16"))
            bf16_alt += strcmp(bb_csv_cell(&out, r, "dispatched"), "0") == 0;
        CHECK(strcmp(bb_csv_cell(&out, r, "gop_per_s"), bb_csv_cell(&in, r, "gops")) == 0 &&
                  strcmp(bb_csv_cell(&out, r, "seconds_per_call"), bb_csv_cell(&in, r, "seconds")) == 0,
              "row %d: gop_per_s %s seconds %s, gemm.csv says %s %s", r, bb_csv_cell(&out, r, "gop_per_s"),
              bb_csv_cell(&out, r, "seconds_per_call"), bb_csv_cell(&in, r, "gops"), bb_csv_cell(&in, r, "seconds"));
    }
    CHECK(triad == 3 && sgemv == 3, "%d triad and %d fp32-sgemv rows, expected 3 and 3", triad, sgemv);
    CHECK(bf16_alt == 4, "%d bf16 avx512bf16 rows marked not dispatched, expected 4", bf16_alt);
    bb_csv_doc_free(&in);
    bb_csv_doc_free(&out);
    remove(path);
    rmdir(dir);
}

static const bb_test_case cases[] = {
    {"kernels_csv", test_kernels_csv},
    {"run_id", test_run_id},
    {"table_append_resume", test_table_append_resume},
    {"row_builder", test_row_builder},
    {"schemas", test_schemas},
    {"manifest_resume", test_manifest_resume},
};
BB_TEST_MAIN(cases)
