/* schemas.h — the CSV schemas of the harness (bench/schemas.c; the format is bench/csv.h). */
#pragma once
#include "csv.h"

extern const bb_csv_schema bb_schema_throughput;   /* bench throughput */
extern const bb_csv_schema bb_schema_memory;       /* bench memory */
extern const bb_csv_schema bb_schema_quality;      /* bench quality */
extern const bb_csv_schema bb_schema_loss_curves;  /* bench quality, per logged step */
extern const bb_csv_schema bb_schema_kernels;      /* suite: bench gemm, normalized */
extern const bb_csv_schema bb_schema_fit;          /* suite: what fits where (calculator) */
extern const bb_csv_schema bb_schema_fit_devices;
extern const bb_csv_schema *const bb_schemas[];
extern const int bb_n_schemas;
