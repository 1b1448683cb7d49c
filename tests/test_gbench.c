/* test_gbench.c — the C face of Google Benchmark (bench/gbench.h) against the library
 * itself: arguments and their names, fixed iterations, manual time, counters and their
 * flags (rates divide by the manual time), bytes/items processed (next to a "flops" rate,
 * both read back by gbench_json.h, as the packed kernels report them), labels, errors, custom
 * context, the barriers, and the JSON the shim hands back (read with gbench_json.h). */
#include "../bench/gbench.h"
#include "../bench/gbench_json.h"
#include "../common/json_parse.h"
#include "../engine/alloc.h"
#include "test.h"
#include <math.h>

static void bm_manual(gb_state *st, void *user) {
    int *calls = user;
    (*calls)++;
    CHECK(gb_range(st, 0) == 7 && gb_range(st, 1) == 9, "ranges %lld %lld", (long long)gb_range(st, 0),
          (long long)gb_range(st, 1));
    CHECK(gb_thread_index(st) == 0 && gb_threads(st) == 1, "one thread");
    double acc = 0;
    while (gb_keep_running(st)) {
        for (int i = 0; i < 100; i++) acc += i;
        GB_DO_NOT_OPTIMIZE(acc);
        gb_set_iteration_time(st, 0.001);  /* every iteration "took" 1 ms */
    }
    int64_t it = gb_iterations(st);
    gb_set_counter(st, "answer", 42, GB_COUNTER_DEFAULT);
    gb_set_counter(st, "per_iter", 3.0 * (double)it, GB_COUNTER_AVG_ITERATIONS);
    gb_set_counter(st, "secs_per_item", 10.0 * (double)it, GB_COUNTER_RATE | GB_COUNTER_INVERT);
    gb_set_items_processed(st, 10 * it);
    gb_set_bytes_processed(st, 1000 * it);
    /* a packed kernel's row reports both (bench/kernels_packed.c): "flops" next to bytes */
    gb_set_counter(st, "flops", 2e6 * (double)it, GB_COUNTER_RATE);
    gb_set_label(st, "hello");
}

static void bm_batch(gb_state *st, void *user) {
    (void)user;
    float x[64] = {0};
    while (gb_keep_running_batch(st, 4)) {
        gb_pause_timing(st);
        x[0] += 1.0f;
        gb_resume_timing(st);
        for (int i = 0; i < 64; i++) x[i] = x[i] * 0.5f + 1.0f;
        gb_do_not_optimize(x);
        gb_clobber_memory();
    }
}

static void bm_error(gb_state *st, void *user) {
    (void)user;
    gb_skip_with_error(st, "planned failure");
    CHECK(gb_error_occurred(st), "error flag");
    while (gb_keep_running(st)) {}
}

typedef struct {
    char *text;
    size_t len;
} sink_buf;

static void sink(const char *json, size_t len, void *ctx) {
    sink_buf *b = ctx;
    b->text = bb_alloc(BB_MEM_DATA, len + 1);
    memcpy(b->text, json, len);
    b->len = len;
}

static const bb_gb_entry *find(const bb_gb_run *r, const char *name) {
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->e[i].name, name) == 0 && !r->e[i].aggregate) return &r->e[i];
    return NULL;
}

static double number(const char *text, size_t len, const char *bench, const char *key) {
    char err[200];
    size_t n;
    char *clean = bb_gbench_sanitize(text, len, &n);
    bb_json_doc *doc = bb_json_parse(clean, n, err, sizeof err);
    double v = NAN;
    for (const bb_json_node *b = doc ? bb_json_get(bb_json_doc_root(doc), "benchmarks")->child : NULL; b; b = b->next)
        if (strcmp(bb_json_get(b, "name")->str, bench) == 0 && bb_json_get(b, key)) {
            v = bb_json_get(b, key)->number;
            break;
        }
    bb_json_doc_free(doc);
    bb_free(clean);
    return v;
}

static void test_shim(void) {
    char *argv[] = {"test_gbench", "--benchmark_min_time=0.001", NULL};
    int argc = 2;
    gb_initialize(&argc, argv);
    CHECK(argc == 1 && !gb_report_unrecognized(argc, argv), "flags consumed, argc %d", argc);
    int calls = 0;
    static const int64_t args[2] = {7, 9};
    static const char *const names[2] = {"a", "b"};
    gb_benchmark *b = gb_register("shim_manual", bm_manual, &calls);
    gb_args(b, args, 2);
    gb_arg_names(b, names, 2);
    gb_use_manual_time(b);
    gb_fixed_iterations(b, 5);
    gb_unit(b, GB_US);
    gb_unit(gb_use_real_time(gb_arg(gb_register("shim_batch", bm_batch, NULL), 3)), GB_NS);
    gb_fixed_iterations(gb_register("shim_error", bm_error, NULL), 1);
    gb_add_context("shim_context", "yes");
    sink_buf out = {NULL, 0};
    size_t ran = gb_run_json(NULL, sink, &out);
    CHECK(ran == 3, "ran %zu benchmarks", ran);
    CHECK(calls == 1, "fixed iterations: one call, got %d", calls);
    bb_gb_run r;
    char err[300];
    CHECK(bb_gb_run_parse(&r, out.text, out.len, err, sizeof err) == 0, "%s", err);
    CHECK(bb_gb_run_context(&r, "shim_context") && strcmp(bb_gb_run_context(&r, "shim_context"), "yes") == 0,
          "custom context");
    const char *mn = "shim_manual/a:7/b:9/iterations:5/manual_time";
    const bb_gb_entry *m = find(&r, mn);
    CHECK(m != NULL, "no entry %s in:\n%.2000s", mn, out.text);
    if (m) {
        CHECK(m->iterations == 5, "iterations %g", m->iterations);
        CHECK(fabs(m->real_time - 1000.0) < 1e-6 && strcmp(m->time_unit, "us") == 0, "manual time %g %s", m->real_time,
              m->time_unit);
        CHECK(m->label && strcmp(m->label, "hello") == 0, "label");
        CHECK(fabs(m->bytes_per_second - 1e6) < 1e-3, "bytes/s over manual time: %g", m->bytes_per_second);
        CHECK(fabs(m->flops - 2e9) < 1e-3, "flops rate next to bytes/s: %g", m->flops);
        CHECK(fabs(number(out.text, out.len, mn, "items_per_second") - 1e4) < 1e-6, "items/s");
        CHECK(number(out.text, out.len, mn, "answer") == 42, "plain counter");
        CHECK(fabs(number(out.text, out.len, mn, "per_iter") - 3) < 1e-12, "avg-iterations counter");
        CHECK(fabs(number(out.text, out.len, mn, "secs_per_item") - 1e-4) < 1e-12, "inverted rate counter");
    }
    const bb_gb_entry *bt = find(&r, "shim_batch/3/real_time");
    CHECK(bt && bt->real_time > 0 && strcmp(bt->time_unit, "ns") == 0 && bt->iterations >= 4, "batch entry");
    const bb_gb_entry *e = find(&r, "shim_error/iterations:1");
    CHECK(e && e->error, "error entry");
    bb_gb_run_free(&r);
    bb_free(out.text);
    gb_shutdown();
}

static const bb_test_case cases[] = {
    {"shim", test_shim},
};
BB_TEST_MAIN(cases)
