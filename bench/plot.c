/* plot.c — the charts of a results folder (plot.h), rendered as PNG (pngcairo) and SVG
 * into RUN/plots/ by running gnuplot on plots/<chart>.gp. The
 * scripts read only the run's CSVs; this command only tells each script which file to
 * write and which rows to show (the precisions and methods present, the configuration of
 * the first row), as `gnuplot -e "<assignments>" plots/<chart>.gp`. A chart whose CSV is
 * absent or empty is skipped with a line; a gnuplot failure prints gnuplot's own message
 * (kept in plots/<chart>.log) and makes the exit status 1. */
#include "../common/check.h"
#include "../common/io.h"
#include "../engine/alloc.h"
#include "csv.h"
#include "plot.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef BB_SOURCE_ROOT
#define BB_SOURCE_ROOT "."
#endif

static const char *const all_precs[] = {"fp32", "fp16", "bf16", "int8", "int4", "b158", "nf4"};
static const char *const all_methods[] = {"full", "lora", "kd"};

/* The words of `all` that occur in column col of d, in the order of `all`. */
static void present(const bb_csv_doc *d, const char *col, const char *const *all, int n_all, char *out, size_t cap) {
    out[0] = '\0';
    for (int i = 0; i < n_all; i++)
        for (int r = 0; r < d->n_rows; r++)
            if (strcmp(bb_csv_cell(d, r, col), all[i]) == 0) {
                snprintf(out + strlen(out), cap - strlen(out), "%s%s", out[0] ? " " : "", all[i]);
                break;
            }
}

/* precs, methods and the first row's configuration as gnuplot assignments */
static void params_sweep(const bb_csv_doc *d, char *out, size_t cap) {
    char precs[128], methods[64];
    present(d, "precision", all_precs, 7, precs, sizeof precs);
    present(d, "method", all_methods, 3, methods, sizeof methods);
    int n = snprintf(out, cap, "precs='%s'; methods='%s'; f_preset='%s'", precs, methods, bb_csv_cell(d, 0, "preset"));
    const char *nums[] = {"batch", "seq", "threads"};
    for (int i = 0; i < 3 && n > 0 && (size_t)n < cap; i++)
        if (bb_csv_col_index(d, nums[i]) >= 0)
            n += snprintf(out + n, cap - (size_t)n, "; f_%s=%d", nums[i], atoi(bb_csv_cell(d, 0, nums[i])));
}

static void params_quality(const bb_csv_doc *d, char *out, size_t cap) {
    char precs[128], methods[64];
    present(d, "precision", all_precs, 7, precs, sizeof precs);
    present(d, "method", all_methods, 3, methods, sizeof methods);
    snprintf(out, cap, "precs='%s'; methods='%s'; f_preset='%s'", precs, methods, bb_csv_cell(d, 0, "preset"));
}

static void params_loss(const bb_csv_doc *d, char *out, size_t cap) {
    char precs[128], methods[64];
    present(d, "precision", all_precs, 7, precs, sizeof precs);
    present(d, "method", all_methods, 3, methods, sizeof methods);
    snprintf(out, cap, "precs='%s'; methods='%s'", precs, methods);
}

static void params_kernels(const bb_csv_doc *d, char *out, size_t cap) {
    bool gemm = false, gemv = false;
    for (int r = 0; r < d->n_rows; r++) {
        gemm |= strcmp(bb_csv_cell(d, r, "kind"), "gemm") == 0;
        gemv |= strcmp(bb_csv_cell(d, r, "kind"), "gemv") == 0;
    }
    snprintf(out, cap, "has_gemm=%d; has_gemv=%d", gemm, gemv);
}

static char fit_devices_path[4300];

static void params_fit(const bb_csv_doc *d, char *out, size_t cap) {
    static const char *const models[] = {"distilgpt2", "gpt2-124m", "gpt2-medium", "gpt2-large",
                                         "gptj-6b",    "llama-7b",  "llama-13b",   "llama-70b"};
    char m[256], precs[128];
    present(d, "model", models, 8, m, sizeof m);
    present(d, "precision", all_precs, 7, precs, sizeof precs);
    int n = snprintf(out, cap, "models='%s'; precs='%s'; f_seq=%d", m, precs, atoi(bb_csv_cell(d, 0, "seq")));
    /* the device names for the key, from fit_devices.csv beside fit.csv */
    bb_csv_doc dd;
    char err[300];
    if (fit_devices_path[0] && bb_csv_read(fit_devices_path, &dd, NULL, err, sizeof err) == 0) {
        n += snprintf(out + n, cap - (size_t)n, "; dev_names='");
        for (int r = 0; r < dd.n_rows && (size_t)n < cap; r++) {
            char name[256];
            snprintf(name, sizeof name, "%s", bb_csv_cell(&dd, r, "device"));
            for (char *c = name; *c; c++) if (*c == '\'' || *c == '|') *c = ' ';
            n += snprintf(out + n, cap - (size_t)n, "%s%s", r ? "|" : "", name);
        }
        if ((size_t)n < cap) snprintf(out + n, cap - (size_t)n, "'");
        bb_csv_doc_free(&dd);
    }
}

const bb_chart bb_charts[] = {
    {"throughput", "throughput.csv", params_sweep, "Training tokens/s by precision and method (median, min-max bars)"},
    {"inference", "throughput.csv", params_sweep, "Prefill and decode tokens/s by precision and method"},
    {"memory", "memory.csv", params_sweep, "Training memory by category: measured beside the calculator"},
    {"quality", "quality.csv", params_quality, "Perplexity (KJV) and BLEU (Greek->English) by precision and method"},
    {"loss", "loss_curves.csv", params_loss, "Training loss curves per precision"},
    {"kernels", "kernels.csv", params_kernels, "Packed kernels: GOP/s and GB/s against the in-run references"},
    {"fit", "fit.csv", params_fit, "What fits where (memory calculator)"},
};
const int bb_n_charts = (int)(sizeof bb_charts / sizeof bb_charts[0]);

const char *bb_plot_dir(void) {
    const char *d = getenv("BITBENCH_PLOTS");
    return d && *d ? d : BB_SOURCE_ROOT "/plots";
}

/* Runs gnuplot -e assignments script, stderr and stdout into log; returns its status
 * (127: gnuplot missing). */
static int run_gnuplot(const char *assignments, const char *script, const char *log) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        FILE *f = freopen(log, "w", stderr);
        if (f) dup2(fileno(stderr), STDOUT_FILENO);
        execlp("gnuplot", "gnuplot", "-e", assignments, script, (char *)NULL);
        fprintf(stderr, "cannot run gnuplot: %s\n", strerror(errno));
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

int bb_plot_chart(const char *run_dir, const bb_chart *c, const char *format, char *msg, size_t msg_len) {
    char csv[4300], err[600];
    if (strchr(run_dir, '\'') || strchr(bb_plot_dir(), '\'')) {
        snprintf(msg, msg_len, "a path with a quote (') cannot be passed to gnuplot: %s", run_dir);
        return -1;
    }
    snprintf(csv, sizeof csv, "%s/%s", run_dir, c->csv);
    if (!bb_file_exists(csv)) {
        snprintf(msg, msg_len, "skipped: no %s", c->csv);
        return 1;
    }
    bb_csv_doc d;
    if (bb_csv_read(csv, &d, NULL, err, sizeof err) != 0) {
        snprintf(msg, msg_len, "%s", err);
        return -1;
    }
    if (d.n_rows == 0) {
        bb_csv_doc_free(&d);
        snprintf(msg, msg_len, "skipped: %s has no rows", c->csv);
        return 1;
    }
    snprintf(fit_devices_path, sizeof fit_devices_path, "%s/fit_devices.csv", run_dir);
    char params[2048], dir[4300], out[4400], tmp[4400], log[4400], assign[8192], script[4300];
    c->params(&d, params, sizeof params);
    bb_csv_doc_free(&d);
    snprintf(dir, sizeof dir, "%s/plots", run_dir);
    if (bb_mkdir_p(dir) != 0) {
        snprintf(msg, msg_len, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(script, sizeof script, "%s/%s.gp", bb_plot_dir(), c->name);
    snprintf(out, sizeof out, "%s/%s.%s", dir, c->name, format);
    snprintf(tmp, sizeof tmp, "%s/%s.tmp.%s", dir, c->name, format);
    snprintf(log, sizeof log, "%s/%s.log", dir, c->name);
    snprintf(assign, sizeof assign, "run_dir='%s'; out='%s'; plot_dir='%s'; %s", run_dir, tmp, bb_plot_dir(), params);
    remove(tmp);
    int st = run_gnuplot(assign, script, log);
    long size = file_size(tmp);
    if (st == 127) {
        snprintf(msg, msg_len, "gnuplot not found: install it (Debian: apt-get install gnuplot-nox, or scripts/install-deps)");
        remove(tmp);
        return -1;
    }
    if (st != 0 || size <= 0) {
        char *text = NULL;
        size_t len = 0;
        if (bb_read_file(log, &text, &len) == 0 && len > 300) text[300] = '\0';
        snprintf(msg, msg_len, "gnuplot %s failed (status %d, %ld bytes): %s", script, st, size, text ? text : "");
        bb_free(text);
        remove(tmp);
        return -1;
    }
    if (rename(tmp, out) != 0) {
        snprintf(msg, msg_len, "cannot write %s: %s", out, strerror(errno));
        return -1;
    }
    if (file_size(log) == 0) remove(log);
    snprintf(msg, msg_len, "%s (%ld bytes)", out, size);
    return 0;
}

