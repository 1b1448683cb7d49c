/* cli.c — command dispatch (see cli.h). */
#include "cli.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_commands(const char *prefix, const bb_command *cmds, int n) {
    printf("Usage: bitbench %s%s<command> [options]\n\nCommands:\n", prefix, *prefix ? " " : "");
    for (int i = 0; i < n; i++) printf("  %-12s %s\n", cmds[i].name, cmds[i].summary);
    printf("\nRun 'bitbench %s%s<command> --help' for a command's options.\n", prefix,
           *prefix ? " " : "");
}

int bb_dispatch(const char *prefix, const bb_command *cmds, int n, int argc, char **argv) {
    if (argc < 1) {
        print_commands(prefix, cmds, n);
        return *prefix ? 2 : 0;
    }
    if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "help") == 0) {
        print_commands(prefix, cmds, n);
        return 0;
    }
    for (int i = 0; i < n; i++)
        if (strcmp(cmds[i].name, argv[0]) == 0) return cmds[i].run(argc - 1, argv + 1);
    const char *sp = *prefix ? " " : "";
    if (argv[0][0] == '-')
        fprintf(stderr, "bitbench%s%s: unknown option '%s'\n", sp, prefix, argv[0]);
    else
        fprintf(stderr, "bitbench%s%s: unknown command '%s'\n", sp, prefix, argv[0]);
    fprintf(stderr, "Try 'bitbench%s%s --help' for the list of commands.\n", sp, prefix);
    return 2;
}
