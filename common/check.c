/* check.c — implementation of the fail-fast helpers in check.h. */
#include "check.h"
#include <stdarg.h>

static const char *program_name = "bitbench";

void bb_set_program_name(const char *name) { program_name = name; }

void bb_fatal(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "%s: internal error at %s:%d: ", program_name, file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(3);
}

void bb_user_error(const char *fmt, ...) {
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "%s: error: ", program_name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}
