/* schedule.c — see schedule.h. Cosine: lr_min + 0.5 (1 + cos(pi p)) (lr - lr_min) with
 * p the fraction of post-warmup steps done (Loshchilov & Hutter 2017, SGDR, without
 * restarts). */
#include "schedule.h"
#include <math.h>
#include <string.h>

static const char *const names[BB_SCHED_COUNT] = {"cosine", "linear", "constant"};

const char *bb_sched_name(bb_sched_kind k) { return names[k]; }

int bb_sched_parse(const char *name) {
    for (int i = 0; i < BB_SCHED_COUNT; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

float bb_schedule_lr(const bb_schedule *s, int step) {
    if (step < s->warmup) return s->lr * (float)(step + 1) / (float)s->warmup;
    if (s->kind == BB_SCHED_CONSTANT) return s->lr;
    int decay_steps = s->total - s->warmup;
    double p = decay_steps > 1 ? (double)(step - s->warmup) / (double)(decay_steps - 1) : 1.0;
    if (p > 1.0) p = 1.0;
    double lo = (double)s->lr * s->min_lr_frac;
    double k = s->kind == BB_SCHED_COSINE ? 0.5 * (1.0 + cos(M_PI * p)) : 1.0 - p;
    return (float)(lo + k * ((double)s->lr - lo));
}
