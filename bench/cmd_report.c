/* cmd_report.c — `bitbench report RUN` (issue #8): REPORT.md and REPORT.html of a results
 * folder against the claims file (bench/report.h). */
#include "../common/args.h"
#include "../common/check.h"
#include "../common/io.h"
#include "cli.h"
#include "report.h"
#include <stdio.h>
#include <stdlib.h>

#ifndef BB_SOURCE_ROOT
#define BB_SOURCE_ROOT "."
#endif

/* ../shared/specs/claims.md beside the source tree, or $BITBENCH_CLAIMS. */
const char *bb_default_claims(void) {
    const char *c = getenv("BITBENCH_CLAIMS");
    return c && *c ? c : BB_SOURCE_ROOT "/../shared/specs/claims.md";
}

int bb_cmd_report(int argc, char **argv) {
    const char *claims = bb_default_claims();
    const bb_arg args[] = {
        {"claims", BB_ARG_STR, &claims, "FILE", "the claims to re-measure (default ../shared/specs/claims.md)", 0, -1},
    };
    const bb_cmd_spec spec = {
        "report", "Write REPORT.md and REPORT.html for a results folder: every claims table in its own shape with\n"
                  "claimed, measured (or computed) values and a verdict per row, the machine, build and commands.",
        "RUN [--claims FILE]", args, (int)(sizeof args / sizeof args[0]), 1, 1,
        "Run `bitbench plot RUN` first to have the charts embedded."};
    char *pos[1];
    bb_args_parse(&spec, argc, argv, pos);
    if (!bb_file_exists(claims)) bb_user_error("cannot read the claims file %s (pass --claims FILE)", claims);
    char err[700];
    if (bb_report_write(pos[0], claims, err, sizeof err) != 0) bb_user_error("%s", err);
    printf("report: %s/REPORT.md and %s/REPORT.html\n", pos[0], pos[0]);
    return 0;
}
