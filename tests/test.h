/* test.h — a tiny test harness: a table of named test functions, CHECK macros that
 * print file, line, the condition and context, and a main that runs them all and
 * exits non-zero if any check failed. A test can be selected by name: ./test NAME. */
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern int bb_test_failures;

#define CHECK(cond, ...)                                                          \
    do {                                                                          \
        if (!(cond)) {                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n    ", __FILE__, __LINE__,  \
                    #cond);                                                       \
            fprintf(stderr, __VA_ARGS__);                                         \
            fputc('\n', stderr);                                                  \
            bb_test_failures++;                                                   \
        }                                                                         \
    } while (0)

typedef struct {
    const char *name;
    void (*fn)(void);
} bb_test_case;

#define BB_TEST_MAIN(cases)                                                       \
    int bb_test_failures = 0;                                                     \
    int main(int argc, char **argv) {                                             \
        int n = (int)(sizeof cases / sizeof cases[0]), ran = 0;                   \
        for (int i = 0; i < n; i++) {                                             \
            if (argc > 1 && strcmp(argv[1], cases[i].name) != 0) continue;        \
            int before = bb_test_failures;                                        \
            cases[i].fn();                                                        \
            printf("%s %s\n", bb_test_failures == before ? "ok  " : "FAIL",       \
                   cases[i].name);                                                \
            fflush(stdout);                                                       \
            ran++;                                                                \
        }                                                                         \
        if (!ran) { fprintf(stderr, "no test named %s\n", argv[1]); return 2; }   \
        return bb_test_failures ? 1 : 0;                                          \
    }
