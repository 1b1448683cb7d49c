/* report.h — REPORT.md and REPORT.html of a results folder (issue #8): every table of the
 * claims file in its own shape (same rows, each claimed column beside what was measured
 * on this machine or computed by the validated memory calculator), a one-line verdict per
 * row, the machine, build and exact commands in the header, the run's own measurements,
 * and the charts.
 *
 * Invariant: a measured or computed cell is built only from the run's CSVs, its manifest
 * and the calculator, never from the claims file; claimed numbers appear only in columns
 * named "claimed" and in the claimed ratios beside them. tests/test_report.c plants a
 * sentinel claim to check this. */
#pragma once
#include <stddef.h>

/* Writes run_dir/REPORT.md and run_dir/REPORT.html (charts from run_dir/plots/ embedded).
 * Returns 0, or -1 with a reason. */
int bb_report_write(const char *run_dir, const char *claims_path, char *err, size_t err_len);
/* Converts the markdown the report writes (headings, paragraphs, lists, tables, images,
 * code) to a standalone HTML page; PNG images are embedded as data URIs from base_dir. */
int bb_report_html(const char *md_path, const char *html_path, const char *base_dir, char *err, size_t err_len);
