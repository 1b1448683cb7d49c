/* stop.h — a clean stop on Ctrl-C (SIGINT) or SIGTERM for the long drivers (issue #8).
 * The first signal only sets a flag: drivers check bb_stop_requested() between rows and
 * between training steps, drop the row in flight, and exit with status 130 after saying
 * how to resume. A second signal quits at once (the results files are still whole: every
 * write is an atomic rename, bench/csv.h).
 *
 * Test hook: BITBENCH_STOP_AFTER_ROWS=N raises SIGINT in this process once N rows have
 * been appended to results tables (=FILE:N: to the table FILE, e.g. throughput.csv:3), so
 * the interrupt-and-resume path is testable without timing a kill. */
#pragma once
#include <stdbool.h>

void bb_stop_install(void);
bool bb_stop_requested(void);
/* Called by the results tables after appending n rows to file (the test hook counts them). */
void bb_stop_note_rows(const char *file, int n);
/* Prints "interrupted: ..." with the resume hint and exits 130. */
_Noreturn void bb_stop_exit(const char *resume_hint);
