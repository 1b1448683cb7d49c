/* cli.h — the `bitbench` command tree. Each command is a function taking the arguments
 * after its name; a table maps names to functions at every level (main.c for the top,
 * each command file for its subcommands). Exit status: 0 ok, 1 failure or user error,
 * 2 usage error. */
#pragma once

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} bb_command;

/* Runs the command named argv[0] from the table; prints help for --help/-h or no
 * arguments, and a usage error (exit 2) for an unknown name. prefix is the command path
 * so far ("" at the top, "data" below it). */
int bb_dispatch(const char *prefix, const bb_command *cmds, int n_cmds, int argc, char **argv);

int bb_cmd_env(int argc, char **argv);
int bb_cmd_data(int argc, char **argv);
int bb_cmd_tokenizer(int argc, char **argv);
int bb_cmd_suite(int argc, char **argv);
int bb_cmd_train(int argc, char **argv);
int bb_cmd_generate(int argc, char **argv);
int bb_cmd_eval(int argc, char **argv);
int bb_cmd_eval_bleu(int argc, char **argv);   /* cmd_eval_bleu.c, under `eval` */
int bb_cmd_eval_mt(int argc, char **argv);     /* cmd_eval_mt.c, under `eval` */
int bb_cmd_bench(int argc, char **argv);
int bb_cmd_export(int argc, char **argv);
int bb_cmd_memcalc(int argc, char **argv);
int bb_cmd_lora(int argc, char **argv);  /* cmd_lora.c: lora merge */
int bb_cmd_bench_gemm(int argc, char **argv); /* bench/cmd_gemm.c */
int bb_cmd_bench_cuda_gemm(int argc, char **argv); /* bench/cmd_cuda_gemm.c */
int bb_cmd_bench_kernels(int argc, char **argv);  /* cmd_kernels.c */
int bb_cmd_bench_compare(int argc, char **argv);  /* cmd_compare.c */
int bb_cmd_bench_throughput(int argc, char **argv); /* cmd_throughput.c */
int bb_cmd_bench_memory(int argc, char **argv);     /* cmd_memory.c */
int bb_cmd_bench_quality(int argc, char **argv);    /* cmd_quality.c */
int bb_cmd_plot(int argc, char **argv);             /* cmd_plot.c */
int bb_cmd_report(int argc, char **argv);           /* cmd_report.c */
const char *bb_default_claims(void);                /* cmd_report.c */
