/* cpushare.h — the share of the machine's CPU time that other processes (or the
 * hypervisor: steal) took while something was measured, from /proc/stat and getrusage
 * (Linux; -1 elsewhere). Benchmark rows carry it: on a shared machine a busy neighbour
 * makes short multi-threaded calls wait on descheduled threads, and the load average lags
 * by a minute. */
#pragma once

typedef struct {
    double machine, self, wall;
} bb_cpu_mark;

bb_cpu_mark bb_cpu_mark_now(void);
/* Other processes' CPU time between the marks / (cores x wall time); -1 if unknown. */
double bb_cpu_other_share(bb_cpu_mark a, bb_cpu_mark b);
