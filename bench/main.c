/* main.c — the `bitbench` binary: one table of top-level commands. */
#include "../common/check.h"
#include "cli.h"
#include "results.h"
#include <stdio.h>
#include <string.h>

static const bb_command commands[] = {
    {"env", bb_cmd_env, "show the machine and build that results come from"},
    {"data", bb_cmd_data, "prepare, verify or describe the shipped corpora"},
    {"tokenizer", bb_cmd_tokenizer, "train, check, encode or decode with the BPE tokenizer"},
    {"train", bb_cmd_train, "train a model with AdamW (full/QAT, or LoRA on a frozen base); checkpoints"},
    {"lora", bb_cmd_lora, "LoRA adapters: merge into their base checkpoint"},
    {"generate", bb_cmd_generate, "sample text from a checkpoint"},
    {"eval", bb_cmd_eval, "evaluate a checkpoint (perplexity, bits per byte)"},
    {"memcalc", bb_cmd_memcalc, "predicted training memory by category; --fit: what fits where"},
    {"export", bb_cmd_export, "write packed inference weights (int8, int4, 1.6-bit ternary, ...)"},
    {"bench", bb_cmd_bench, "benchmarks: training throughput against PyTorch, kernels, regression gate"},
    {"plot", bb_cmd_plot, "render a results folder's charts (PNG and SVG) with gnuplot"},
    {"report", bb_cmd_report, "write REPORT.md/.html: the claims tables with measured values and verdicts"},
    {"suite", bb_cmd_suite, "run the default suite on the shipped data"},
};

int main(int argc, char **argv) {
    bb_set_program_name("bitbench");
    bb_cli_set_command_line(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        extern const char *bb_version_string(void);
        printf("%s\n", bb_version_string());
        return 0;
    }
    return bb_dispatch("", commands, (int)(sizeof commands / sizeof commands[0]), argc - 1, argv + 1);
}
