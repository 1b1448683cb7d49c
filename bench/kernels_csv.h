/* kernels_csv.h — kernels.csv of a harness run (bench/schemas.c) from the gemm.csv that
 * `bitbench bench gemm` writes: the same measurements under the harness's documented
 * snake_case columns with units, in-run references named as precisions (fp32-sgemm,
 * fp32-sgemv, triad), and the engine's dispatched kernel marked. */
#pragma once
#include <stddef.h>

/* Reads gemm_csv and writes run_dir/kernels.csv (replacing its rows). Returns the rows
 * written, or -1 with a reason. */
int bb_kernels_csv_from_gemm(const char *gemm_csv, const char *run_dir, char *err, size_t err_len);
