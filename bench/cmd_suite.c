/* cmd_suite.c — `bitbench suite`: the default suite on the shipped data. For now: the
 * environment, the data check and the tokenizer check; later issues add training,
 * precision sweeps and the report. Each step runs even if an earlier one failed, and
 * the summary names every failure. */
#include "../common/args.h"
#include "cli.h"
#include <stdio.h>

typedef struct {
    const char *title;
    int (*run)(int argc, char **argv);
    int argc;
    char *argv[10];
} suite_step;

int bb_cmd_suite(int argc, char **argv) {
    const bb_cmd_spec spec = {"suite", "Run the default suite on the shipped data: env, data verify,\n"
                                       "tokenizer check, a short FP32 training run of the small preset on KJV.",
                              "", NULL, 0, 0, 0, NULL};
    bb_args_parse(&spec, argc, argv, NULL);
    suite_step steps[] = {
        {"environment", bb_cmd_env, 0, {NULL}},
        {"data verify", bb_cmd_data, 1, {"verify"}},
        {"tokenizer check", bb_cmd_tokenizer, 1, {"check"}},
        {"train small fp32", bb_cmd_train, 8, {"--model", "small", "--steps", "20", "--batch", "8", "--seq", "256"}},
    };
    int n = (int)(sizeof steps / sizeof steps[0]), failed = 0;
    int status[8];
    for (int i = 0; i < n; i++) {
        printf("\n== [%d/%d] %s ==\n", i + 1, n, steps[i].title);
        fflush(stdout);
        status[i] = steps[i].run(steps[i].argc, steps[i].argv);
        fflush(stdout);
        failed += status[i] != 0;
    }
    printf("\n== suite summary ==\n");
    for (int i = 0; i < n; i++) printf("  %-18s %s\n", steps[i].title, status[i] ? "FAILED" : "ok");
    printf("suite: %d of %d steps ok\n", n - failed, n);
    return failed ? 1 : 0;
}
