/* gbench.h — Google Benchmark from C: a thin extern "C" layer over the C++ API
 * (implemented in gbench_shim.cc; Debian libbenchmark-dev 1.7.1, pkg-config `benchmark`).
 * Shape after shared/specs/evaluation.md §4.4 and IREE's runtime/src/iree/testing/benchmark.h.
 *
 *   static void bm(gb_state *st, void *user) {
 *       ... setup (not timed) ...
 *       while (gb_keep_running(st)) { kernel(); gb_clobber_memory(); }
 *       gb_set_bytes_processed(st, gb_iterations(st) * bytes_per_iter);
 *   }
 *   gb_benchmark *b = gb_register("copy/fp32", bm, NULL);
 *   gb_use_real_time(b); gb_min_time(b, 0.05); gb_repetitions(b, 9);
 *
 * Version notes (§4.5): gb_repetitions / gb_min_time put "/repeats:N" and "/min_time:X"
 * into the benchmark's name; to keep names independent of settings pass
 * --benchmark_repetitions=N and --benchmark_min_time=X to gb_initialize instead, with X a
 * bare double (1.7.1 refuses "0.5s"; 1.8+ wants "0.5s" but still accepts a bare number).
 * Counter flag values are checked against benchmark::Counter::Flags at compile time in
 * the shim. The barriers
 * are the same asm statements benchmark.h uses for DoNotOptimize / ClobberMemory. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gb_state gb_state;          /* a benchmark::State */
typedef struct gb_benchmark gb_benchmark;  /* a registered benchmark::internal::Benchmark */
typedef void (*gb_fn)(gb_state *st, void *user);

typedef enum { GB_NS, GB_US, GB_MS, GB_S } gb_time_unit;

/* benchmark::Counter::Flags */
enum {
    GB_COUNTER_DEFAULT = 0,
    GB_COUNTER_RATE = 1,                    /* divide by the run's seconds */
    GB_COUNTER_AVG_THREADS = 2,
    GB_COUNTER_ITERATION_INVARIANT = 4,     /* multiply by iterations */
    GB_COUNTER_AVG_ITERATIONS = 8,          /* divide by iterations */
    GB_COUNTER_INVERT = (int)(1u << 31),    /* 1/v, applied last */
};

/* ---- setup and running ---------------------------------------------------------- */
/* Parses and removes --benchmark_* flags from argv (argv[0] names the executable in the
 * JSON context). */
void gb_initialize(int *argc, char **argv);
/* Prints the remaining arguments as unrecognized; true if there were any. */
bool gb_report_unrecognized(int argc, char **argv);
/* Registers fn under name; user is passed back on every call. */
gb_benchmark *gb_register(const char *name, gb_fn fn, void *user);
gb_benchmark *gb_arg(gb_benchmark *b, int64_t x);
/* One argument tuple (a "range"), read back with gb_range(st, i). */
gb_benchmark *gb_args(gb_benchmark *b, const int64_t *args, int n);
/* Names the arguments: the name then shows "/M:2048/N:1152" instead of "/2048/1152". */
gb_benchmark *gb_arg_names(gb_benchmark *b, const char *const *names, int n);
gb_benchmark *gb_unit(gb_benchmark *b, gb_time_unit unit);
gb_benchmark *gb_use_real_time(gb_benchmark *b);    /* name gains "/real_time" */
gb_benchmark *gb_use_manual_time(gb_benchmark *b);  /* name gains "/manual_time" */
gb_benchmark *gb_repetitions(gb_benchmark *b, int n);
gb_benchmark *gb_min_time(gb_benchmark *b, double seconds);
gb_benchmark *gb_fixed_iterations(gb_benchmark *b, int64_t n);  /* Iterations(n) */
/* Adds a key to the "context" object of every report (string values). */
void gb_add_context(const char *key, const char *value);
/* Runs every registered benchmark whose name matches filter (NULL: all) with the
 * default reporters (console, plus --benchmark_out if given). Returns the count. */
size_t gb_run_specified(const char *filter);
/* Runs like gb_run_specified with the console reporter on stdout, and passes the
 * whole JSON report (what --benchmark_format=json would print) to sink once at the end. */
size_t gb_run_json(const char *filter, void (*sink)(const char *json, size_t len, void *ctx), void *ctx);
void gb_shutdown(void);

/* ---- inside a benchmark ------------------------------------------------------------ */
bool gb_keep_running(gb_state *st);
/* KeepRunningBatch(n): lower overhead; may overshoot by up to n iterations. */
bool gb_keep_running_batch(gb_state *st, int64_t n);
int64_t gb_range(gb_state *st, int i);
int64_t gb_iterations(gb_state *st);
int gb_thread_index(gb_state *st);
int gb_threads(gb_state *st);
void gb_pause_timing(gb_state *st);
void gb_resume_timing(gb_state *st);
void gb_set_iteration_time(gb_state *st, double seconds);  /* with gb_use_manual_time */
/* Totals over all iterations (e.g. gb_iterations(st) * bytes per iteration). */
void gb_set_bytes_processed(gb_state *st, int64_t bytes);
void gb_set_items_processed(gb_state *st, int64_t items);
void gb_set_counter(gb_state *st, const char *name, double value, int flags);
void gb_set_label(gb_state *st, const char *label);
void gb_skip_with_error(gb_state *st, const char *message);
bool gb_error_occurred(gb_state *st);

/* ---- barriers ------------------------------------------------------------------- */
/* The value at p (and all memory) must be considered used. */
static inline void gb_do_not_optimize(void *p) { __asm__ volatile("" : : "g"(p) : "memory"); }
/* All pending writes must be considered visible. */
static inline void gb_clobber_memory(void) { __asm__ volatile("" : : : "memory"); }
/* The lvalue is read and may be modified. */
#define GB_DO_NOT_OPTIMIZE(lvalue) __asm__ volatile("" : "+m"(lvalue) : : "memory")

#ifdef __cplusplus
}
#endif
