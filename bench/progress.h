/* progress.h — progress for long runs: a redrawn bar on a terminal (stderr is a TTY),
 * plain log lines otherwise (CI logs, pipes). */
#pragma once
#include <stdbool.h>

typedef struct {
    bool tty;
    long total;
    double start;     /* seconds, monotonic */
    int last_len;
} bb_progress;

double bb_now(void);
void bb_progress_init(bb_progress *p, long total);
/* done = units completed; text = the status to show after the bar. Plain mode prints a
 * line each call, so call it only every log interval there. */
void bb_progress_update(bb_progress *p, long done, const char *text);
void bb_progress_finish(bb_progress *p);
/* Erases the bar on a terminal (before printing other lines); it is redrawn by the next update. */
void bb_progress_clear(bb_progress *p);
