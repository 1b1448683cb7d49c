/* schedule.h — learning-rate schedules: linear warmup, then cosine or linear decay to
 * min_lr_frac * lr, or constant (the nanoGPT / llm.c schedule shape). */
#pragma once

typedef enum { BB_SCHED_COSINE, BB_SCHED_LINEAR, BB_SCHED_CONSTANT, BB_SCHED_COUNT } bb_sched_kind;

typedef struct {
    bb_sched_kind kind;
    float lr;           /* peak */
    float min_lr_frac;  /* final lr = lr * min_lr_frac */
    int warmup;         /* steps of linear warmup: lr * (step + 1) / warmup */
    int total;          /* total steps */
} bb_schedule;

/* Learning rate for step 0 .. total-1. */
float bb_schedule_lr(const bb_schedule *s, int step);
const char *bb_sched_name(bb_sched_kind k);
/* Returns -1 for an unknown name. */
int bb_sched_parse(const char *name);
