/* check.h — fail-fast macros used everywhere (DESIGN.md "Fail fast with context").
 * Invariant: a failed check prints the call, file and line, then exits; it never returns.
 * User errors (bad input) use bb_user_error(): one clear sentence, exit status 1. */
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

_Noreturn void bb_fatal(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
_Noreturn void bb_user_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void bb_set_program_name(const char *name);

/* Internal invariant or library call that must hold. */
#define BB_CHECK(cond)                                                         \
    do {                                                                       \
        if (!(cond)) bb_fatal(__FILE__, __LINE__, "check failed: %s", #cond);  \
    } while (0)

/* A libc I/O call that sets errno on failure. */
#define BB_CHECK_IO(cond, what)                                                \
    do {                                                                       \
        if (!(cond))                                                           \
            bb_fatal(__FILE__, __LINE__, "%s: %s (%s)", #cond, (what),        \
                     strerror(errno));                                         \
    } while (0)
