/* args.c — see args.h. */
#include "args.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bb_usage_error(const char *command, const char *fmt, ...) {
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "bitbench %s: ", command);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'bitbench %s --help' for usage.\n", command);
    exit(2);
}

static void print_default(const bb_arg *a) {
    switch (a->kind) {
    case BB_ARG_INT: printf(" (default %ld)", *(long *)a->dest); break;
    case BB_ARG_DOUBLE:
        if (!isnan(*(double *)a->dest)) printf(" (default %g)", *(double *)a->dest);
        break;
    case BB_ARG_STR:
        if (*(const char **)a->dest) printf(" (default %s)", *(const char **)a->dest);
        break;
    case BB_ARG_STR_LIST: printf(" (repeatable)"); break;
    case BB_ARG_FLAG: break;
    }
}

void bb_args_print_help(const bb_cmd_spec *spec) {
    printf("Usage: bitbench %s %s\n\n%s\n", spec->command, spec->usage, spec->summary);
    printf("\nOptions:\n");
    for (int i = 0; i < spec->n_args; i++) {
        const bb_arg *a = &spec->args[i];
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", a->name, a->metavar ? " " : "",
                 a->metavar ? a->metavar : "");
        printf("  %-24s %s", left, a->help);
        print_default(a);
        printf("\n");
    }
    printf("  %-24s %s\n", "-h, --help", "show this help and exit");
    if (spec->details) printf("\n%s\n", spec->details);
}

static const bb_arg *find_arg(const bb_cmd_spec *spec, const char *name, size_t len) {
    for (int i = 0; i < spec->n_args; i++)
        if (strlen(spec->args[i].name) == len && strncmp(spec->args[i].name, name, len) == 0)
            return &spec->args[i];
    return NULL;
}

static void set_value(const bb_cmd_spec *spec, const bb_arg *a, const char *value) {
    char *end;
    errno = 0;
    switch (a->kind) {
    case BB_ARG_INT: {
        long v = strtol(value, &end, 10);
        if (errno || end == value || *end)
            bb_usage_error(spec->command, "--%s expects an integer, got '%s'", a->name, value);
        if (a->min <= a->max && (v < a->min || v > a->max))
            bb_usage_error(spec->command, "--%s must be between %ld and %ld, got %ld", a->name,
                           a->min, a->max, v);
        *(long *)a->dest = v;
        break;
    }
    case BB_ARG_DOUBLE: {
        double v = strtod(value, &end);
        if (errno || end == value || *end)
            bb_usage_error(spec->command, "--%s expects a number, got '%s'", a->name, value);
        *(double *)a->dest = v;
        break;
    }
    case BB_ARG_STR:
        if (!*value) bb_usage_error(spec->command, "--%s expects a non-empty value", a->name);
        *(const char **)a->dest = value;
        break;
    case BB_ARG_STR_LIST: {
        bb_arg_list *l = a->dest;
        if (!*value) bb_usage_error(spec->command, "--%s expects a non-empty value", a->name);
        if (l->n == BB_ARG_LIST_MAX)
            bb_usage_error(spec->command, "--%s given more than %d times", a->name, BB_ARG_LIST_MAX);
        l->v[l->n++] = value;
        break;
    }
    case BB_ARG_FLAG: *(bool *)a->dest = true; break;
    }
}

int bb_args_parse(const bb_cmd_spec *spec, int argc, char **argv, char **positional) {
    int n_pos = 0;
    bool only_positional = false;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (!only_positional && (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0)) {
            bb_args_print_help(spec);
            exit(0);
        }
        if (!only_positional && strcmp(s, "--") == 0) { only_positional = true; continue; }
        if (!only_positional && s[0] == '-' && s[1] != '\0') {
            if (s[1] != '-') bb_usage_error(spec->command, "unknown option '%s'", s);
            const char *name = s + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            const bb_arg *a = find_arg(spec, name, len);
            if (!a) bb_usage_error(spec->command, "unknown option '--%.*s'", (int)len, name);
            if (a->kind == BB_ARG_FLAG) {
                if (eq) bb_usage_error(spec->command, "--%s takes no value", a->name);
                set_value(spec, a, "");
            } else if (eq) {
                set_value(spec, a, eq + 1);
            } else {
                if (i + 1 >= argc)
                    bb_usage_error(spec->command, "--%s needs a value (%s)", a->name, a->metavar);
                set_value(spec, a, argv[++i]);
            }
            continue;
        }
        if (n_pos >= spec->max_positional)
            bb_usage_error(spec->command, "unexpected argument '%s'", s);
        positional[n_pos++] = argv[i];
    }
    if (n_pos < spec->min_positional)
        bb_usage_error(spec->command, "missing argument (usage: bitbench %s %s)", spec->command,
                       spec->usage);
    return n_pos;
}
