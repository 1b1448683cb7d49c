/* kernels_csv.c — see kernels_csv.h. */
#include "kernels_csv.h"
#include "../engine/alloc.h"
#include "csv.h"
#include "schemas.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* gemm.csv column -> kernels.csv column, for the columns copied as they are */
static const char *const copied[][2] = {
    {"shape", "shape"},           {"kernel", "kernel"},
    {"N", "tokens"},              {"C", "in_features"},
    {"OC", "out_features"},       {"seconds", "seconds_per_call"},
    {"gops", "gop_per_s"},        {"sgemm_gflops", "sgemm_gflop_per_s"},
    {"ratio_vs_sgemm", "ratio_to_sgemm"}, {"weight_gbps", "weight_gb_per_s"},
    {"triad_gbps", "triad_gb_per_s"}, {"ratio_vs_triad", "ratio_to_triad"},
    {"threads", "threads"},       {"other_cpu_share", "other_cpu_share"},
    {"cpu", "cpu"},               {"commit", "commit"},
};

int bb_kernels_csv_from_gemm(const char *gemm_csv, const char *run_dir, char *err, size_t err_len) {
    bb_csv_doc d;
    if (bb_csv_read(gemm_csv, &d, NULL, err, err_len) != 0) return -1;
    for (size_t c = 0; c < sizeof copied / sizeof copied[0]; c++)
        if (bb_csv_col_index(&d, copied[c][0]) < 0) {
            snprintf(err, err_len, "%s has no column %s (not a bench gemm CSV?)", gemm_csv, copied[c][0]);
            bb_csv_doc_free(&d);
            return -1;
        }
    bb_csv_table t;
    if (bb_csv_table_open(&t, run_dir, &bb_schema_kernels, err, err_len) != 0) {
        bb_csv_doc_free(&d);
        return -1;
    }
    char **rows = bb_alloc(BB_MEM_OTHER, (size_t)(d.n_rows + 1) * sizeof(char *));
    char (*seen)[96] = bb_alloc(BB_MEM_OTHER, (size_t)(d.n_rows + 1) * 96);
    int n = 0, rc = 0;
    for (int r = 0; r < d.n_rows && rc == 0; r++) {
        const char *kind = bb_csv_cell(&d, r, "kind"), *prec = bb_csv_cell(&d, r, "precision");
        /* the STREAM triad is the reference of the GEMV rows; fp32 GEMV is OpenBLAS sgemv */
        bool triad = strcmp(kind, "triad") == 0, sgemv = strcmp(kind, "gemv") == 0 && strcmp(prec, "fp32") == 0;
        const char *k2 = triad ? "gemv" : kind, *p2 = triad ? "triad" : sgemv ? "fp32-sgemv" : prec;
        /* the first kernel of a precision and shape is the dispatched one (bench gemm order) */
        char group[96];
        snprintf(group, sizeof group, "%s,%s,%s", k2, p2, bb_csv_cell(&d, r, "shape"));
        int dispatched = 1;
        for (int s = 0; s < n; s++) dispatched &= strcmp(seen[s], group) != 0;
        bb_csv_row row;
        bb_csv_row_init(&row, &bb_schema_kernels);
        bb_csv_row_str(&row, "kind", k2);
        bb_csv_row_str(&row, "precision", p2);
        bb_csv_row_fmt(&row, "dispatched", "%d", dispatched);
        for (size_t c = 0; c < sizeof copied / sizeof copied[0]; c++)
            bb_csv_row_str(&row, copied[c][1], bb_csv_cell(&d, r, copied[c][0]));
        char line[4096];
        if (bb_csv_row_finish(&row, line, sizeof line, err, err_len) != 0) { rc = -1; break; }
        snprintf(seen[n], sizeof seen[n], "%s", group);
        rows[n++] = bb_strdup(line);
    }
    if (rc == 0) {
        /* replace every row: kernels.csv always mirrors the last gemm.csv */
        bb_csv_table_truncate(&t);
        rc = bb_csv_table_append(&t, (const char *const *)rows, n, NULL, err, err_len);
    }
    for (int i = 0; i < n; i++) bb_free(rows[i]);
    bb_free(rows);
    bb_free(seen);
    bb_csv_table_close(&t);
    bb_csv_doc_free(&d);
    return rc == 0 ? n : -1;
}
