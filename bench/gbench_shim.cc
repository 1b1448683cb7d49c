// gbench_shim.cc — the C++ side of gbench.h: forwards each C call to Google Benchmark
// (1.7.1 API, shared/specs/evaluation.md §4.4–4.5). The only C++ file in bitbench. No
// exceptions cross the C boundary (nothing here throws but std::bad_alloc). The
// library's own std::string/std::map allocations are outside bb_alloc by necessity.
#include "gbench.h"
#include <benchmark/benchmark.h>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

namespace {
// 1.7.1 calls the class benchmark::internal::Benchmark, 1.9 benchmark::Benchmark: take it
// from RegisterBenchmark's return type.
using bench_t = std::remove_pointer<decltype(benchmark::RegisterBenchmark("", (void (*)(benchmark::State &))nullptr))>::type;

bench_t *B(gb_benchmark *b) { return reinterpret_cast<bench_t *>(b); }
benchmark::State &S(gb_state *st) { return *reinterpret_cast<benchmark::State *>(st); }

constexpr int F(benchmark::Counter::Flags f) { return static_cast<int>(f); }
static_assert(F(benchmark::Counter::kIsRate) == GB_COUNTER_RATE, "counter flags");
static_assert(F(benchmark::Counter::kAvgThreads) == GB_COUNTER_AVG_THREADS, "counter flags");
static_assert(F(benchmark::Counter::kIsIterationInvariant) == GB_COUNTER_ITERATION_INVARIANT, "counter flags");
static_assert(F(benchmark::Counter::kAvgIterations) == GB_COUNTER_AVG_ITERATIONS, "counter flags");
static_assert(F(benchmark::Counter::kInvert) == static_cast<int>(GB_COUNTER_INVERT), "counter flags");

// Sends every call to both reporters: the console for the user, JSON into a string.
class TeeReporter : public benchmark::BenchmarkReporter {
  public:
    TeeReporter(benchmark::BenchmarkReporter *a, benchmark::BenchmarkReporter *b) : a_(a), b_(b) {}
    bool ReportContext(const Context &context) override {
        bool ok = a_->ReportContext(context);
        return b_->ReportContext(context) && ok;
    }
    void ReportRuns(const std::vector<Run> &runs) override {
        a_->ReportRuns(runs);
        b_->ReportRuns(runs);
    }
    void Finalize() override {
        a_->Finalize();
        b_->Finalize();
    }

  private:
    benchmark::BenchmarkReporter *a_, *b_;
};

std::string spec_of(const char *filter) { return filter && *filter ? filter : "."; }
} // namespace

extern "C" {

void gb_initialize(int *argc, char **argv) { benchmark::Initialize(argc, argv); }
bool gb_report_unrecognized(int argc, char **argv) { return benchmark::ReportUnrecognizedArguments(argc, argv); }

gb_benchmark *gb_register(const char *name, gb_fn fn, void *user) {
    auto *b = benchmark::RegisterBenchmark(name, [fn, user](benchmark::State &st) {
        fn(reinterpret_cast<gb_state *>(&st), user);
    });
    return reinterpret_cast<gb_benchmark *>(b);
}

gb_benchmark *gb_arg(gb_benchmark *b, int64_t x) { return reinterpret_cast<gb_benchmark *>(B(b)->Arg(x)); }

gb_benchmark *gb_args(gb_benchmark *b, const int64_t *args, int n) {
    return reinterpret_cast<gb_benchmark *>(B(b)->Args(std::vector<int64_t>(args, args + n)));
}

gb_benchmark *gb_arg_names(gb_benchmark *b, const char *const *names, int n) {
    return reinterpret_cast<gb_benchmark *>(B(b)->ArgNames(std::vector<std::string>(names, names + n)));
}

gb_benchmark *gb_unit(gb_benchmark *b, gb_time_unit unit) {
    static const benchmark::TimeUnit units[] = {benchmark::kNanosecond, benchmark::kMicrosecond,
                                                benchmark::kMillisecond, benchmark::kSecond};
    return reinterpret_cast<gb_benchmark *>(B(b)->Unit(units[unit]));
}

gb_benchmark *gb_use_real_time(gb_benchmark *b) { return reinterpret_cast<gb_benchmark *>(B(b)->UseRealTime()); }
gb_benchmark *gb_use_manual_time(gb_benchmark *b) { return reinterpret_cast<gb_benchmark *>(B(b)->UseManualTime()); }
gb_benchmark *gb_repetitions(gb_benchmark *b, int n) { return reinterpret_cast<gb_benchmark *>(B(b)->Repetitions(n)); }
gb_benchmark *gb_min_time(gb_benchmark *b, double s) { return reinterpret_cast<gb_benchmark *>(B(b)->MinTime(s)); }
gb_benchmark *gb_fixed_iterations(gb_benchmark *b, int64_t n) {
    return reinterpret_cast<gb_benchmark *>(B(b)->Iterations(n));
}

void gb_add_context(const char *key, const char *value) { benchmark::AddCustomContext(key, value); }

size_t gb_run_specified(const char *filter) { return benchmark::RunSpecifiedBenchmarks(spec_of(filter)); }

size_t gb_run_json(const char *filter, void (*sink)(const char *, size_t, void *), void *ctx) {
    benchmark::ConsoleReporter console(benchmark::ConsoleReporter::OO_None);
    benchmark::JSONReporter json;
    std::ostringstream text;
    json.SetOutputStream(&text);
    json.SetErrorStream(&text);
    TeeReporter tee(&console, &json);
    size_t n = benchmark::RunSpecifiedBenchmarks(&tee, spec_of(filter));
    std::string s = text.str();
    sink(s.data(), s.size(), ctx);
    return n;
}

void gb_shutdown(void) { benchmark::Shutdown(); }

bool gb_keep_running(gb_state *st) { return S(st).KeepRunning(); }
bool gb_keep_running_batch(gb_state *st, int64_t n) { return S(st).KeepRunningBatch(n); }
int64_t gb_range(gb_state *st, int i) { return S(st).range(static_cast<std::size_t>(i)); }
int64_t gb_iterations(gb_state *st) { return S(st).iterations(); }
int gb_thread_index(gb_state *st) { return S(st).thread_index(); }
int gb_threads(gb_state *st) { return S(st).threads(); }
void gb_pause_timing(gb_state *st) { S(st).PauseTiming(); }
void gb_resume_timing(gb_state *st) { S(st).ResumeTiming(); }
void gb_set_iteration_time(gb_state *st, double seconds) { S(st).SetIterationTime(seconds); }
void gb_set_bytes_processed(gb_state *st, int64_t bytes) { S(st).SetBytesProcessed(bytes); }
void gb_set_items_processed(gb_state *st, int64_t items) { S(st).SetItemsProcessed(items); }

void gb_set_counter(gb_state *st, const char *name, double value, int flags) {
    S(st).counters[name] = benchmark::Counter(value, static_cast<benchmark::Counter::Flags>(flags));
}

void gb_set_label(gb_state *st, const char *label) { S(st).SetLabel(label); }
void gb_skip_with_error(gb_state *st, const char *message) { S(st).SkipWithError(message); }
bool gb_error_occurred(gb_state *st) { return S(st).error_occurred(); }

} // extern "C"
