/* args.h — table-driven command-line options shared by every bitbench command.
 * A command declares a bb_arg table; bb_args_parse fills the destinations, prints
 * --help, and rejects unknown flags or bad values with one line plus a usage hint
 * and exit status 2 (issue #2). No option has a silent default: defaults are the
 * values the destinations hold before parsing, and --help prints them. */
#pragma once
#include <stdbool.h>

typedef enum { BB_ARG_FLAG, BB_ARG_INT, BB_ARG_DOUBLE, BB_ARG_STR, BB_ARG_STR_LIST } bb_arg_kind;

/* Destination of a BB_ARG_STR_LIST option: each occurrence appends one value, in order
 * (`--ref a --ref b`); more than BB_ARG_LIST_MAX is a usage error. */
#define BB_ARG_LIST_MAX 32
typedef struct {
    const char *v[BB_ARG_LIST_MAX];
    int n;
} bb_arg_list;

typedef struct {
    const char *name;     /* without the leading "--" */
    bb_arg_kind kind;
    void *dest;           /* bool*, long*, double* (NAN: no default), const char**, bb_arg_list* */
    const char *metavar;  /* e.g. "N", "FILE"; NULL for flags */
    const char *help;
    long min, max;        /* inclusive range for BB_ARG_INT (ignored when min > max) */
} bb_arg;

typedef struct {
    const char *command;   /* "tokenizer train" */
    const char *summary;   /* one line */
    const char *usage;     /* args after the command, e.g. "[options] FILE" */
    const bb_arg *args;
    int n_args;
    int min_positional, max_positional;
    const char *details;   /* optional paragraph printed after the options */
} bb_cmd_spec;

/* Parses argv[0..argc) (argv[0] is the first argument after the command words).
 * Positional arguments are collected into positional[] (up to spec->max_positional).
 * Exits 0 after --help, 2 on a usage error. Returns the number of positionals. */
int bb_args_parse(const bb_cmd_spec *spec, int argc, char **argv, char **positional);

void bb_args_print_help(const bb_cmd_spec *spec);
_Noreturn void bb_usage_error(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
