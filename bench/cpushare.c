/* cpushare.c — see cpushare.h. */
#include "cpushare.h"
#include "progress.h"
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

bb_cpu_mark bb_cpu_mark_now(void) {
    bb_cpu_mark m = {-1, 0, bb_now()};
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    if (f) {
        if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                   &v[7]) == 8) /* user nice system idle iowait irq softirq steal */
            m.machine = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
        fclose(f);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    m.self = (double)ru.ru_utime.tv_sec + 1e-6 * ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
             1e-6 * ru.ru_stime.tv_usec;
    return m;
}

double bb_cpu_other_share(bb_cpu_mark a, bb_cpu_mark b) {
    if (a.machine < 0 || b.machine < 0) return -1;
    double other = (b.machine - a.machine) - (b.self - a.self), cores = (double)sysconf(_SC_NPROCESSORS_ONLN);
    return other > 0 ? other / (cores * (b.wall - a.wall)) : 0;
}
