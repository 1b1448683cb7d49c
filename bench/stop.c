/* stop.c — see stop.h. */
#include "stop.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop_flag;
static long rows_noted;
static bool installed;

static void on_signal(int sig) {
    if (stop_flag) {  /* second signal: quit now, with the conventional status */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    stop_flag = 1;
    static const char msg[] = "\nstopping after the row in flight (press Ctrl-C again to quit at once)\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
}

void bb_stop_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    installed = true;
}

bool bb_stop_requested(void) { return stop_flag != 0; }

void bb_stop_note_rows(const char *file, int n) {
    const char *hook = getenv("BITBENCH_STOP_AFTER_ROWS");
    if (!hook || !*hook) return;
    const char *colon = strrchr(hook, ':');
    if (colon) {  /* FILE:N counts only the rows of that table */
        const char *base = strrchr(file, '/');
        base = base ? base + 1 : file;
        if (strlen(base) != (size_t)(colon - hook) || strncmp(base, hook, (size_t)(colon - hook)) != 0) return;
    }
    rows_noted += n;
    if (installed && rows_noted >= atol(colon ? colon + 1 : hook) && !stop_flag) raise(SIGINT);
}

void bb_stop_exit(const char *resume_hint) {
    fflush(stdout);
    fprintf(stderr, "interrupted: finished rows are kept; %s\n", resume_hint);
    exit(130);
}
