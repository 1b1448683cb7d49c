/* parallel.h — when a loop is worth an OpenMP team.
 *
 * Small work (decoding one token, tiny models, packing a small matrix) runs on the
 * calling thread: an OpenMP fork/join costs microseconds, and far more when another
 * process holds a core while the team spins at the barrier (CI runs two tests at once
 * on two cores, so a test that forks for every 32x32 GEMV can take 1000x longer).
 * Loops compare the elements they touch (rows x width) with BB_PAR_MIN_WORK;
 * BB_PAR_MIN_MACS is the same idea for multiply-accumulate work (N x C x OC). It is
 * 2^16, not higher: decoding's matrix-vector products stream their weights once, and
 * a 384x384 one (small's attention projection, 0.6 MB) runs at the bandwidth of both
 * cores only when split; at 2^18 it ran on one thread and `bench infer` decoded 25 %
 * slower (small: 855 -> 631 tokens/s, measured side by side). */
#ifndef BB_PARALLEL_H
#define BB_PARALLEL_H

#define BB_PAR_MIN_WORK 32768
#define BB_PAR_MIN_MACS (1L << 16)

#endif
