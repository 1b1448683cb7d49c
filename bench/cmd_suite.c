/* cmd_suite.c — `bitbench suite` (issue #8): the product in one command, on the shipped
 * data: environment, data and tokenizer checks, packed kernels against in-run references,
 * training/inference throughput, memory (measured beside the calculator), quality
 * (perplexity, BLEU), what fits where, charts and the report, all into one results folder.
 *
 * Every stage is the `bitbench` command a user could type, run as a child process of this
 * one (execv of /proc/self/exe): the exact command lands in the folder's manifest, a stage
 * that fails is reported and the others still run, and each stage starts from a clean
 * process (its peak RSS, its OpenMP pool). Ctrl-C reaches the child (same process group),
 * which keeps its finished rows and exits 130; the suite then stops and says how to resume:
 * run the same command again (the run id is date-commit-host-mode, so the same folder is
 * found; the drivers skip finished rows, bench quality also copies cached results).
 *
 * Modes (table below): tiny (CI smoke test, under 3 minutes), quick (the default: every
 * precision and method at the small preset, short budgets, 20 minutes or less on a 2-core
 * machine) and full (the same with longer training budgets and whole evaluation splits). */
#include "../common/args.h"
#include "../common/check.h"
#include "../common/io.h"
#include "cli.h"
#include "env.h"
#include "kernels_csv.h"
#include "progress.h"
#include "results.h"
#include "stop.h"
#include "sweep.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef BB_SOURCE_ROOT
#define BB_SOURCE_ROOT "."
#endif

typedef struct {
    const char *name, *summary;
    const char *preset, *batch, *seq;              /* throughput and memory axes */
    const char *tp_warmup, *tp_steps, *tp_gen, *tp_reps;
    const char *gemm_shapes, *gemm_samples;       /* bench gemm */
    const char *lm_steps, *lm_batch, *lm_seq;      /* bench quality */
    const char *mt_steps, *mt_batch;
    const char *lr, *warmup, *eval_windows, *curve_windows, *mt_sentences, *mt_max_new;
} suite_mode;

/* Budgets: quick trains each precision x method for 40 steps of 8 x 128 tokens (LM) and 40
 * steps of 8 pairs (MT) — enough to separate the precisions' loss curves, not to translate
 * well; full trains 15x longer and evaluates whole splits. */
static const suite_mode modes[] = {
    {"tiny", "CI smoke test: the tiny preset, a few steps everywhere (under 3 minutes)", "tiny", "4", "32", "1", "2",
     "8", "2", "small", "1", "20", "8", "64", "20", "8", "3e-3", "3", "8", "4", "4", "12"},
    {"quick", "the default: small preset, short budgets (20 minutes or less on 2 cores)", "small", "8", "256", "1", "3",
     "32", "3", "all", "3", "40", "8", "128", "40", "8", "1e-3", "5", "40", "4", "50", "48"},
    {"full", "longer budgets: 600 training steps per task and run, whole evaluation splits", "small", "8", "256", "2",
     "8", "64", "5", "all", "7", "600", "8", "256", "600", "16", "1e-3", "30", "0", "8", "0", "128"},
};
#define N_MODES ((int)(sizeof modes / sizeof modes[0]))

typedef struct {
    const char *title;
    char *argv[48];
    int argc;
    const char *skip_if;  /* a file in the run folder whose presence means the stage is done */
} stage;

static void add(stage *s, const char *a) {
    BB_CHECK(s->argc < 46);
    s->argv[s->argc++] = (char *)a;
}

/* Runs `bitbench <argv>` as a child; returns its exit status (128 + signal if killed). */
static int run_child(char **argv, int argc) {
    char *full[50];
    full[0] = "bitbench";
    for (int i = 0; i < argc; i++) full[i + 1] = argv[i];
    full[argc + 1] = NULL;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) bb_user_error("cannot start a stage: %s", strerror(errno));
    if (pid == 0) {
        execv("/proc/self/exe", full);
        fprintf(stderr, "cannot run /proc/self/exe: %s\n", strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return 127;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void print_command(const stage *s) {
    printf("$ bitbench");
    for (int i = 0; i < s->argc; i++) printf(" %s", s->argv[i]);
    printf("\n");
}

int bb_cmd_suite(int argc, char **argv) {
    bool tiny = false, quick = false, full = false, fresh = false, no_kernels = false, dry_run = false;
    const char *precisions = "all", *methods = "all", *devices = "cpu", *out = NULL;
    long threads = 0;
    const bb_arg args[] = {
        {"tiny", BB_ARG_FLAG, &tiny, NULL, modes[0].summary, 0, -1},
        {"quick", BB_ARG_FLAG, &quick, NULL, modes[1].summary, 0, -1},
        {"full", BB_ARG_FLAG, &full, NULL, modes[2].summary, 0, -1},
        {"precisions", BB_ARG_STR, &precisions, "P,...", "fp32 fp16 bf16 int8 int4 b158, or all", 0, -1},
        {"methods", BB_ARG_STR, &methods, "M,...", "full, lora, kd, or all (those not in this build are skipped)", 0, -1},
        {"device", BB_ARG_STR, &devices, "D,...", "cpu, cuda (a device this machine lacks is refused; the rest runs)", 0, -1},
        {"threads", BB_ARG_INT, &threads, "N", "threads for every stage (0: all cores)", 0, 1024},
        {"out", BB_ARG_STR, &out, "DIR", "results folder (default results/runs/<date>-<commit>-<host>-<mode>)", 0, -1},
        {"fresh", BB_ARG_FLAG, &fresh, NULL, "start a new folder instead of resuming today's (-2, -3, ...)", 0, -1},
        {"no-kernels", BB_ARG_FLAG, &no_kernels, NULL, "skip the packed-kernel stage", 0, -1},
        {"dry-run", BB_ARG_FLAG, &dry_run, NULL, "print the stages' commands and exit (creates nothing)", 0, -1},
    };
    const bb_cmd_spec spec = {
        "suite",
        "Run the suite on the shipped data: env, data and tokenizer checks, packed kernels, throughput,\n"
        "memory, quality, what fits where, charts and the report, into one results folder.",
        "[--tiny|--quick|--full] [--precisions P,...] [--methods M,...] [--device cpu] [--out DIR]", args,
        (int)(sizeof args / sizeof args[0]), 0, 0,
        "Ctrl-C stops after the row in flight; running the same command again resumes (finished rows are kept,\n"
        "cached quality results are copied). The report is RUN/REPORT.md (and REPORT.html)."};
    bb_args_parse(&spec, argc, argv, NULL);
    if (tiny + quick + full > 1) bb_usage_error("suite", "--tiny, --quick and --full are mutually exclusive");
    const suite_mode *m = &modes[tiny ? 0 : full ? 2 : 1];
    /* validate the lists here, so a typo fails before any stage runs */
    int prec[BB_PREC_COUNT];
    bb_parse_precisions(precisions, "suite", prec);
    const bb_method *meth[16];
    bb_parse_methods(methods, "suite", meth);
    bb_stop_install();

    /* devices: refuse the ones this machine or build lacks, run on the others */
    bb_env env;
    bb_env_collect(&env);
    char dev_ok[128] = "", why[400], dbuf[128];
    snprintf(dbuf, sizeof dbuf, "%s", devices);
    for (char *save = NULL, *t = strtok_r(dbuf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int d = bb_device_find(t);
        if (d < 0) bb_usage_error("suite", "--device: unknown device '%s' (cpu, cuda)", t);
        if (bb_device_unavailable(d, &env, why, sizeof why)) {
            fprintf(stderr, "suite: refusing --device %s: %s\n", t, why);
            continue;
        }
        snprintf(dev_ok + strlen(dev_ok), sizeof dev_ok - strlen(dev_ok), "%s%s", dev_ok[0] ? "," : "", t);
    }
    if (!dev_ok[0]) {
        fprintf(stderr, "suite: no requested device can run here; running what it can on cpu\n");
        snprintf(dev_ok, sizeof dev_ok, "cpu");
    }

    char config[1024], th[16];
    snprintf(th, sizeof th, "%ld", threads);
    if (threads > 0) setenv("OMP_NUM_THREADS", th, 1);  /* bench gemm takes its threads from OpenMP */
    snprintf(config, sizeof config, "suite;mode=%s;precisions=%s;methods=%s;device=%s;threads=%ld", m->name, precisions,
             methods, dev_ok, threads);
    bb_run run;
    if (dry_run) {
        char id[512];
        bb_run_id(&env, m->name, id, sizeof id);
        if (out) snprintf(run.dir, sizeof run.dir, "%s", out);
        else snprintf(run.dir, sizeof run.dir, "%s/results/runs/%s", BB_SOURCE_ROOT, id);
    } else {
        bb_run_begin(&run, "suite", "suite", m->name, out, fresh, config, argc, argv);
    }
    char *dir = run.dir, gemm_dir[4200], claims[4200];
    snprintf(gemm_dir, sizeof gemm_dir, "%s/gemm", dir);
    snprintf(claims, sizeof claims, "%s", bb_default_claims());

    stage st[16];
    int n = 0;
    memset(st, 0, sizeof st);
#define STAGE(t) (st[n].title = (t), &st[n++])
    stage *s;
    s = STAGE("environment");
    add(s, "env");
    s = STAGE("data verify");
    add(s, "data"); add(s, "verify");
    s = STAGE("tokenizer check");
    add(s, "tokenizer"); add(s, "check");
    if (!no_kernels) {
        s = STAGE("packed kernels (bench gemm)");
        add(s, "bench"); add(s, "gemm"); add(s, "--shapes"); add(s, m->gemm_shapes); add(s, "--samples");
        add(s, m->gemm_samples); add(s, "--out"); add(s, gemm_dir);
        s->skip_if = "kernels.csv";
    }
    s = STAGE("throughput");
    add(s, "bench"); add(s, "throughput"); add(s, "--out"); add(s, dir); add(s, "--preset"); add(s, m->preset);
    add(s, "--precisions"); add(s, precisions); add(s, "--methods"); add(s, methods); add(s, "--device"); add(s, dev_ok);
    add(s, "--batch"); add(s, m->batch); add(s, "--seq"); add(s, m->seq); add(s, "--threads"); add(s, th);
    add(s, "--warmup"); add(s, m->tp_warmup); add(s, "--steps"); add(s, m->tp_steps); add(s, "--gen"); add(s, m->tp_gen);
    add(s, "--repetitions"); add(s, m->tp_reps);
    /* the checkpointing claim: fp32 full with block checkpointing, at the same axes */
    s = STAGE("throughput, block checkpointing");
    add(s, "bench"); add(s, "throughput"); add(s, "--out"); add(s, dir); add(s, "--preset"); add(s, m->preset);
    add(s, "--precisions"); add(s, "fp32"); add(s, "--methods"); add(s, "full"); add(s, "--device"); add(s, dev_ok);
    add(s, "--checkpointing"); add(s, "block");
    add(s, "--batch"); add(s, m->batch); add(s, "--seq"); add(s, m->seq); add(s, "--threads"); add(s, th);
    add(s, "--warmup"); add(s, m->tp_warmup); add(s, "--steps"); add(s, m->tp_steps); add(s, "--gen"); add(s, m->tp_gen);
    add(s, "--repetitions"); add(s, m->tp_reps);
    s = STAGE("memory");
    add(s, "bench"); add(s, "memory"); add(s, "--out"); add(s, dir); add(s, "--preset"); add(s, m->preset);
    add(s, "--precisions"); add(s, precisions); add(s, "--methods"); add(s, methods); add(s, "--device"); add(s, dev_ok);
    add(s, "--batch"); add(s, m->batch); add(s, "--seq"); add(s, m->seq); add(s, "--threads"); add(s, th);
    add(s, "--checkpointing"); add(s, "none,block");
    s = STAGE("quality");
    add(s, "bench"); add(s, "quality"); add(s, "--out"); add(s, dir); add(s, "--preset"); add(s, m->preset);
    add(s, "--precisions"); add(s, precisions); add(s, "--methods"); add(s, methods); add(s, "--threads"); add(s, th);
    add(s, "--lm-steps"); add(s, m->lm_steps); add(s, "--lm-batch"); add(s, m->lm_batch); add(s, "--lm-seq"); add(s, m->lm_seq);
    add(s, "--mt-steps"); add(s, m->mt_steps); add(s, "--mt-batch"); add(s, m->mt_batch); add(s, "--lr"); add(s, m->lr);
    add(s, "--warmup"); add(s, m->warmup); add(s, "--eval-windows"); add(s, m->eval_windows);
    add(s, "--curve-windows"); add(s, m->curve_windows); add(s, "--mt-sentences"); add(s, m->mt_sentences);
    add(s, "--mt-max-new"); add(s, m->mt_max_new);
    s = STAGE("what fits where (calculator)");
    add(s, "memcalc"); add(s, "--fit"); add(s, "--out"); add(s, dir); add(s, "--quiet");
    s = STAGE("charts");
    add(s, "plot"); add(s, dir);
    s = STAGE("report");
    add(s, "report"); add(s, dir); add(s, "--claims"); add(s, claims);
#undef STAGE

    printf("suite (%s): %s\nresults: %s\n", m->name, m->summary, dir);
    if (dry_run) {
        for (int i = 0; i < n; i++) print_command(&st[i]);
        return 0;
    }
    fflush(stdout);
    int status[16], failed = 0;
    double secs[16], t_all = bb_now();
    for (int i = 0; i < n; i++) {
        status[i] = -1;
        secs[i] = 0;
        char done[4300];
        if (st[i].skip_if) {
            snprintf(done, sizeof done, "%s/%s", dir, st[i].skip_if);
            if (bb_file_exists(done)) {
                printf("\n== [%d/%d] %s: done in an earlier run (%s) ==\n", i + 1, n, st[i].title, st[i].skip_if);
                status[i] = 0;
                continue;
            }
        }
        printf("\n== [%d/%d] %s ==\n", i + 1, n, st[i].title);
        print_command(&st[i]);
        double t0 = bb_now();
        status[i] = run_child(st[i].argv, st[i].argc);
        secs[i] = bb_now() - t0;
        if (status[i] == 0 && st[i].skip_if && strcmp(st[i].skip_if, "kernels.csv") == 0) {
            char gemm_csv[4300], err[600];
            snprintf(gemm_csv, sizeof gemm_csv, "%s/gemm.csv", gemm_dir);
            if (bb_kernels_csv_from_gemm(gemm_csv, dir, err, sizeof err) < 0) {
                fprintf(stderr, "suite: %s\n", err);
                status[i] = 1;
            }
        }
        if (status[i] == 130 || status[i] == 128 + SIGINT || bb_stop_requested()) {
            fflush(stdout);
            fprintf(stderr, "\nsuite: interrupted in stage '%s'. Finished rows are kept in %s;\n"
                            "run the same command again to resume: %s\n", st[i].title, dir, bb_cli_command_line());
            return 130;
        }
        failed += status[i] != 0;
        printf("-- %s: %s in %.0f s\n", st[i].title, status[i] ? "FAILED" : "ok", secs[i]);
        fflush(stdout);
    }
    double total = bb_now() - t_all;
    printf("\n== suite summary (%s, %.0f s) ==\n", m->name, total);
    for (int i = 0; i < n; i++)
        printf("  %-34s %-8s %6.0f s\n", st[i].title, status[i] ? "FAILED" : "ok", secs[i]);
    printf("suite: %d of %d stages ok; report: %s/REPORT.md\n", n - failed, n, dir);
    return failed ? 1 : 0;
}
