/* cmd_env.c — `bitbench env [--json]`. */
#include "../common/args.h"
#include "../common/json.h"
#include "bb_version.h"
#include "cli.h"
#include "env.h"
#include <stdio.h>

const char *bb_version_string(void) { return "bitbench " BB_GIT_COMMIT; }

int bb_cmd_env(int argc, char **argv) {
    bool json = false;
    const bb_arg args[] = {{"json", BB_ARG_FLAG, &json, NULL, "print JSON instead of text", 0, -1}};
    const bb_cmd_spec spec = {"env", "Show the CPU, ISA features, memory, OpenBLAS, compiler, build,\n"
                                     "git commit and CUDA devices that results are measured on.",
                              "[--json]", args, 1, 0, 0, NULL};
    bb_args_parse(&spec, argc, argv, NULL);
    bb_env e;
    bb_env_collect(&e);
    if (json) {
        bb_json j;
        bb_json_init(&j, stdout);
        bb_env_write_json(&e, &j);
    } else {
        bb_env_print_text(&e, stdout);
    }
    return 0;
}
