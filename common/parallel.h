/* parallel.h — when a loop is worth an OpenMP team.
 *
 * Small work (decoding one token, tiny models, packing a small matrix) runs on the
 * calling thread: an OpenMP fork/join costs microseconds, and far more when another
 * process holds a core while the team spins at the barrier (CI runs two tests at once
 * on two cores, so a test that forks for every 32x32 GEMV can take 1000x longer).
 * Loops compare the elements they touch (rows x width) with BB_PAR_MIN_WORK;
 * BB_PAR_MIN_MACS is the same idea for multiply-accumulate work (N x C x OC). */
#ifndef BB_PARALLEL_H
#define BB_PARALLEL_H

#define BB_PAR_MIN_WORK 32768
#define BB_PAR_MIN_MACS (1L << 18)

#endif
