/* progress.c — see progress.h. */
#include "progress.h"
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double bb_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void bb_progress_init(bb_progress *p, long total) {
    p->tty = isatty(fileno(stderr));
    p->total = total;
    p->start = bb_now();
    p->last_len = 0;
}

void bb_progress_update(bb_progress *p, long done, const char *text) {
    double elapsed = bb_now() - p->start;
    double eta = done > 0 ? elapsed * (double)(p->total - done) / (double)done : 0.0;
    int eta_s = (int)(eta + 0.5);
    char line[512], eta_text[32];
    if (done > 0) snprintf(eta_text, sizeof eta_text, "ETA %d:%02d", eta_s / 60, eta_s % 60);
    else snprintf(eta_text, sizeof eta_text, "ETA --:--");  /* nothing done yet: no rate to go by */
    if (p->tty) {
        enum { WIDTH = 24 };
        char bar[WIDTH + 1];
        int fill = p->total > 0 ? (int)(WIDTH * done / p->total) : WIDTH;
        for (int i = 0; i < WIDTH; i++) bar[i] = i < fill ? '#' : '.';
        bar[WIDTH] = '\0';
        int n = snprintf(line, sizeof line, "\r[%s] %s  %s", bar, text, eta_text);
        fputs(line, stderr);
        for (int i = n; i < p->last_len; i++) fputc(' ', stderr);
        p->last_len = n;
        fflush(stderr);
    } else {
        fprintf(stderr, "%s  %s\n", text, eta_text);
    }
}

void bb_progress_finish(bb_progress *p) {
    if (p->tty && p->last_len) fputc('\n', stderr);
    p->last_len = 0;
}

void bb_progress_clear(bb_progress *p) {
    if (p->tty && p->last_len) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        p->last_len = 0;
    }
}
