/* cmd_plot.c — `bitbench plot RUN` (issue #8): every chart of a results folder as PNG and
 * SVG in RUN/plots/ (bench/plot.h). */
#include "../common/args.h"
#include "../common/check.h"
#include "cli.h"
#include "plot.h"
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int bb_cmd_plot(int argc, char **argv) {
    const char *formats = "png,svg", *only = NULL;
    const bb_arg args[] = {
        {"format", BB_ARG_STR, &formats, "F,...", "png (pngcairo), svg, or both", 0, -1},
        {"only", BB_ARG_STR, &only, "NAME,...", "render only these charts", 0, -1},
    };
    char details[1024];
    int n = snprintf(details, sizeof details, "Charts (plots/<name>.gp, each reads only the run's CSVs):\n");
    for (int i = 0; i < bb_n_charts && n > 0 && (size_t)n < sizeof details; i++)
        n += snprintf(details + n, sizeof details - (size_t)n, "  %-11s %s (%s)\n", bb_charts[i].name, bb_charts[i].title,
                      bb_charts[i].csv);
    const bb_cmd_spec spec = {"plot", "Render the charts of a results folder as PNG and SVG into RUN/plots/ (gnuplot).",
                              "RUN [--format png,svg] [--only NAME,...]", args, (int)(sizeof args / sizeof args[0]), 1, 1,
                              details};
    char *pos[1];
    bb_args_parse(&spec, argc, argv, pos);
    struct stat st;
    if (stat(pos[0], &st) != 0 || !S_ISDIR(st.st_mode)) bb_user_error("%s is not a results folder", pos[0]);
    bool want_png = strstr(formats, "png") != NULL, want_svg = strstr(formats, "svg") != NULL;
    if (!want_png && !want_svg) bb_usage_error("plot", "--format must name png, svg or both, got '%s'", formats);
    if (only) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", only);
        for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            bool known = false;
            for (int i = 0; i < bb_n_charts; i++) known |= strcmp(bb_charts[i].name, t) == 0;
            if (!known) bb_usage_error("plot", "--only: unknown chart '%s' (see bitbench plot --help)", t);
        }
    }
    int failed = 0, made = 0;
    for (int i = 0; i < bb_n_charts; i++) {
        if (only) {
            char pat[64];
            snprintf(pat, sizeof pat, ",%s,", bb_charts[i].name);
            char list[300];
            snprintf(list, sizeof list, ",%s,", only);
            if (!strstr(list, pat)) continue;
        }
        const char *fmts[2] = {want_png ? "png" : NULL, want_svg ? "svg" : NULL};
        for (int f = 0; f < 2; f++) {
            if (!fmts[f]) continue;
            char msg[1200];
            int rc = bb_plot_chart(pos[0], &bb_charts[i], fmts[f], msg, sizeof msg);
            printf("%-11s %s %s\n", bb_charts[i].name, fmts[f], msg);
            if (rc < 0) failed++;
            if (rc == 0) made++;
            if (rc == 1) break;  /* skipped: the other format would say the same */
        }
    }
    printf("plot: %d files written, %d failed\n", made, failed);
    return failed ? 1 : 0;
}
