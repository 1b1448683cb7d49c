/* plot.h — the charts of a results folder (bench/cmd_plot.c): one gnuplot script per chart
 * in plots/, reading only the run's CSVs. The report embeds the same list. */
#pragma once
#include "csv.h"
#include <stddef.h>

typedef struct {
    const char *name;   /* plots/<name>.gp writes RUN/plots/<name>.png|svg */
    const char *csv;    /* the CSV it reads; the chart is skipped without rows */
    /* gnuplot assignments that select what to draw (precisions present, filters) */
    void (*params)(const bb_csv_doc *d, char *out, size_t cap);
    const char *title;
} bb_chart;

extern const bb_chart bb_charts[];
extern const int bb_n_charts;
/* plots/ of the source tree, or $BITBENCH_PLOTS. */
const char *bb_plot_dir(void);
/* Renders one chart in format "png" or "svg". Returns 0 (msg: the file), 1 (skipped, msg:
 * why) or -1 (failed, msg: gnuplot's error). */
int bb_plot_chart(const char *run_dir, const bb_chart *c, const char *format, char *msg, size_t msg_len);
