/* test_kernels.c — the kernel benchmark table (bench/kernels.h): every row is well formed
 * and uniquely named, each kind has exactly one ratio base, the shapes are the training
 * shapes of the presets they name (engine/config.c: small at B=8, gpt2-124m at B=1,
 * T = max_seq; the packed GEMVs one token of llama-7b), work() counts what the comments
 * say, every precision of the traits table has its packed rows (GEMM at the four small
 * linears, GEMV at the three Llama-7B shapes, the scalar GEMV) and every non-fp32 row its
 * fp32 peer, and every row of the small preset, the references and the packed GEMVs at
 * llama-7b.attn (run_gemv) runs setup/run/teardown once without leaking (under ASan in the
 * sanitizer build). The gpt2-124m rows and the other Llama-7B GEMVs share those code paths
 * at bigger sizes and are only checked, not run, to keep the suite fast. */
#include "../bench/kernels.h"
#include "../engine/alloc.h"
#include "../engine/config.h"
#include "../engine/model.h"
#include "../precisions/precision.h"
#include "test.h"
#include <math.h>

typedef struct {
    const char *preset;
    int B;
} preset_batch;

static const preset_batch batches[] = {{"small", 8}, {"gpt2-124m", 1}};

static void for_each_row(void (*fn)(const bb_kernel *k)) {
    for (int t = 0; t < bb_n_kernel_tables; t++)
        for (int i = 0; i < bb_kernel_tables[t]->n; i++) fn(&bb_kernel_tables[t]->rows[i]);
}

static void check_well_formed(const bb_kernel *k) {
    CHECK(k->op && k->precision && k->shape && k->setup && k->run && k->teardown && k->work, "row %s incomplete",
          k->op ? k->op : "?");
    CHECK(k->n_args >= 1 && k->n_args <= BB_KERNEL_MAX_ARGS, "%s: %d args", k->op, k->n_args);
    for (int i = 0; i < k->n_args; i++) CHECK(k->arg_names[i] && k->args[i] > 0, "%s: arg %d", k->op, i);
    CHECK(k->kind == BB_KERNEL_COMPUTE || k->kind == BB_KERNEL_MEMORY, "%s: kind %d", k->op, k->kind);
    CHECK(!k->ratio_base || k->reference, "%s: a ratio base must be a reference", k->op);
    CHECK(bb_precision_parse(k->precision) >= 0, "%s: precision %s", k->op, k->precision);
    CHECK(k->work(k->args) > 0, "%s/%s: work %g", k->op, k->shape, k->work(k->args));
    CHECK(!k->other_work || k->other_work(k->args) > 0, "%s/%s: other work", k->op, k->shape);
    const bb_kernel *p = bb_kernel_fp32_peer(k);
    if (p) CHECK(p->kind == k->kind && p->n_args <= k->n_args && memcmp(p->args, k->args, (size_t)p->n_args * 8) == 0,
                 "%s/%s/%s: its fp32 peer has another kind or shape", k->op, k->precision, k->shape);
}

static void test_table(void) {
    for_each_row(check_well_formed);
    char a[256], b[256];
    int n = 0;
    for (int t = 0; t < bb_n_kernel_tables; t++)
        for (int i = 0; i < bb_kernel_tables[t]->n; i++, n++) {
            bb_kernel_name(&bb_kernel_tables[t]->rows[i], a, sizeof a);
            CHECK(strlen(a) < 200 && strstr(a, "/real_time") == a + strlen(a) - 10, "name %s", a);
            for (int u = 0; u <= t; u++)
                for (int j = 0; j < (u == t ? i : bb_kernel_tables[u]->n); j++) {
                    bb_kernel_name(&bb_kernel_tables[u]->rows[j], b, sizeof b);
                    CHECK(strcmp(a, b) != 0, "duplicate name %s", a);
                }
        }
    CHECK(n == 3 + 2 * 34 + BB_PREC_COUNT * 8, "%d rows (3 references + 2 presets x 34 + %d precisions x 8 packed)", n,
          (int)BB_PREC_COUNT);
    for (int kind = 0; kind < BB_KERNEL_KIND_COUNT; kind++) {
        int bases = 0;
        for (int t = 0; t < bb_n_kernel_tables; t++)
            for (int i = 0; i < bb_kernel_tables[t]->n; i++)
                bases += bb_kernel_tables[t]->rows[i].ratio_base && (int)bb_kernel_tables[t]->rows[i].kind == kind;
        CHECK(bases == 1, "kind %s has %d ratio bases", bb_kernel_kind_name((bb_kernel_kind)kind), bases);
    }
    bb_kernel_name(bb_kernel_ratio_base(BB_KERNEL_COMPUTE), a, sizeof a);
    CHECK(strcmp(a, "ref_sgemm/fp32/square/n:2048/real_time") == 0, "compute base %s", a);
    bb_kernel_name(bb_kernel_ratio_base(BB_KERNEL_MEMORY), a, sizeof a);
    CHECK(strcmp(a, "ref_triad/fp32/stream/n:16777216/real_time") == 0, "memory base %s", a);
}

/* ---- shapes against the presets ------------------------------------------------------ */

static bool starts(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

/* The (inputs, outputs) of the linear a shape's layer names ("small.fc" -> fc), from the
 * preset's config; false for an unknown layer. */
static bool layer_io(const bb_config *c, const char *shape, int64_t *in, int64_t *out) {
    static const struct {
        const char *layer;
        char in, out; /* C: n_embd, F: ffn_hidden, 3: 3C, V: vocab */
    } layers[] = {{"qkv", 'C', '3'}, {"attproj", 'C', 'C'}, {"fc", 'C', 'F'}, {"fcproj", 'F', 'C'},
                  {"lmhead", 'C', 'V'}, {"attn", 'C', 'C'}, {"up", 'C', 'F'}, {"down", 'F', 'C'}};
    const char *dot = strchr(shape, '.');
    for (size_t i = 0; dot && i < sizeof layers / sizeof layers[0]; i++)
        if (strcmp(dot + 1, layers[i].layer) == 0) {
            char d[2] = {layers[i].in, layers[i].out};
            int64_t v[2];
            for (int j = 0; j < 2; j++)
                v[j] = d[j] == 'C' ? c->n_embd : d[j] == 'F' ? c->ffn_hidden : d[j] == '3' ? 3 * c->n_embd : c->vocab_size;
            *in = v[0], *out = v[1];
            return true;
        }
    return false;
}

/* gemm_forward / gemv_forward[_ref] (kernels_packed.c): args N, C, OC [, G]. The GEMMs
 * are small's linears at B=8, T=max_seq; the GEMVs one token of llama-7b. */
static void check_packed_shape(const bb_kernel *k) {
    bool gemv = starts(k->op, "gemv_forward");
    const char *preset = gemv ? "llama-7b" : "small";
    CHECK(starts(k->shape, preset) && k->shape[strlen(preset)] == '.', "%s/%s: shape %s, want %s.<layer>", k->op,
          k->precision, k->shape, preset);
    bb_config c;
    char err[200];
    CHECK(bb_config_from_preset(&c, preset, err, sizeof err) == 0, "%s", err);
    int64_t in = 0, out = 0, N = gemv ? 1 : 8 * (int64_t)c.max_seq;
    CHECK(layer_io(&c, k->shape, &in, &out), "%s: unknown layer in %s", k->op, k->shape);
    const int64_t *a = k->args;
    CHECK(a[0] == N && a[1] == in && a[2] == out, "%s/%s/%s: N,C,OC %lld,%lld,%lld want %lld,%lld,%lld", k->op,
          k->precision, k->shape, (long long)a[0], (long long)a[1], (long long)a[2], (long long)N, (long long)in,
          (long long)out);
    int p = bb_precision_parse(k->precision);
    if (p < 0) return;
    CHECK(k->n_args == (p == BB_PREC_INT4 ? 4 : 3) && (p != BB_PREC_INT4 || a[3] == 32), "%s/%s: int4 runs group 32",
          k->op, k->precision);
    bb_prec_opts o = bb_prec_default_opts((bb_precision)p);
    double flops = 2.0 * a[0] * a[1] * a[2], bytes = (double)bb_precisions[p].packed_size((int)a[2], (int)a[1], &o);
    CHECK(k->kind == (gemv ? BB_KERNEL_MEMORY : BB_KERNEL_COMPUTE) && k->other_work, "%s/%s: kind", k->op, k->shape);
    if (!k->other_work) return;
    double want_work = gemv ? bytes : flops, want_other = gemv ? flops : bytes;
    CHECK(k->work(a) == want_work && k->other_work(a) == want_other,
          "%s/%s/%s: work %g other %g, want %g (2*N*C*OC ops or packed weight bytes) and %g", k->op, k->precision,
          k->shape, k->work(a), k->other_work(a), want_work, want_other);
}

static void check_shape(const bb_kernel *k) {
    if (k->reference) return;
    if (starts(k->op, "gemm_forward") || starts(k->op, "gemv_forward")) {
        check_packed_shape(k);
        return;
    }
    const preset_batch *pb = NULL;
    for (size_t i = 0; i < sizeof batches / sizeof batches[0]; i++)
        if (starts(k->shape, batches[i].preset) &&
            (k->shape[strlen(batches[i].preset)] == '\0' || k->shape[strlen(batches[i].preset)] == '.'))
            pb = &batches[i];
    CHECK(pb != NULL, "%s: shape %s names no preset", k->op, k->shape);
    if (!pb) return;
    bb_config c;
    char err[200];
    CHECK(bb_config_from_preset(&c, pb->preset, err, sizeof err) == 0, "%s", err);
    int64_t N = (int64_t)pb->B * c.max_seq, C = c.n_embd, V = c.vocab_size, hd = C / c.n_head;
    const int64_t *a = k->args;
    const char *dot = strchr(k->shape, '.'), *layer = dot ? dot + 1 : "";
    /* a linear's (in, out) features */
    int64_t in = strcmp(layer, "fcproj") == 0 ? 4 * C : C;
    int64_t out = strcmp(layer, "qkv") == 0       ? 3 * C
                  : strcmp(layer, "fc") == 0      ? 4 * C
                  : strcmp(layer, "lmhead") == 0  ? V
                                                  : C;
    if (starts(k->op, "matvec_")) {
        /* one token through the layer: C = in, OC = out; bytes = the fp32 weights + x + out */
        CHECK(dot != NULL && a[0] == in && a[1] == out, "%s/%s: C,OC %lld,%lld want %lld,%lld", k->op, k->shape,
              (long long)a[0], (long long)a[1], (long long)in, (long long)out);
        CHECK(k->work(a) == 4.0 * (a[0] * a[1] + a[0] + a[1]), "%s/%s: bytes", k->op, k->shape);
    } else if (starts(k->op, "sgemm_")) {
        /* the layer's (tokens, in, out) */
        int64_t want[3];
        if (strcmp(k->op, "sgemm_forward") == 0) want[0] = N, want[1] = out, want[2] = in;
        else if (strcmp(k->op, "sgemm_backward_input") == 0) want[0] = N, want[1] = in, want[2] = out;
        else want[0] = out, want[1] = in, want[2] = N;
        CHECK(a[0] == want[0] && a[1] == want[1] && a[2] == want[2], "%s/%s: M,N,K %lld,%lld,%lld want %lld,%lld,%lld",
              k->op, k->shape, (long long)a[0], (long long)a[1], (long long)a[2], (long long)want[0],
              (long long)want[1], (long long)want[2]);
        CHECK(k->work(a) == 2.0 * a[0] * a[1] * a[2], "%s: 2MNK", k->op);
    } else if (starts(k->op, "layernorm_") || starts(k->op, "rmsnorm_")) {
        CHECK(a[0] == N && a[1] == C, "%s/%s: N,C", k->op, k->shape);
    } else if (starts(k->op, "gelu_")) {
        CHECK(a[0] == N && a[1] == c.ffn_hidden, "%s/%s: N,F", k->op, k->shape);
    } else if (starts(k->op, "swiglu_")) {
        CHECK(a[0] == N && a[1] == bb_config_default_ffn(BB_FAMILY_LLAMA, (int)C), "%s/%s: N,F %lld", k->op, k->shape,
              (long long)a[1]);
    } else if (starts(k->op, "softmax_")) {
        CHECK(a[0] == pb->B * c.n_head * c.max_seq && a[1] == c.max_seq, "%s/%s: R,T", k->op, k->shape);
    } else if (starts(k->op, "attention_")) {
        CHECK(a[0] == pb->B && a[1] == c.max_seq && a[2] == c.n_head && a[3] == hd, "%s/%s: B,T,NH,hd", k->op, k->shape);
    } else if (starts(k->op, "adamw_")) {
        bb_tensor_spec specs[BB_N_PARAMS];
        bb_param_specs(&c, specs);
        int64_t n = 0;
        for (int i = 0; i < BB_N_PARAMS; i++) n += (int64_t)specs[i].numel;
        CHECK(a[0] == n, "%s/%s: n %lld, the preset has %lld parameters", k->op, k->shape, (long long)a[0], (long long)n);
        CHECK(k->work(a) == 28.0 * n, "adamw moves 7 floats per parameter");
    } else if (starts(k->op, "crossentropy_")) {
        CHECK(a[0] == N && a[1] == V, "%s/%s: N,V", k->op, k->shape);
    } else {
        CHECK(0, "test does not know op %s", k->op);
    }
}

static void test_shapes(void) { for_each_row(check_shape); }

/* ---- the packed rows of every precision -------------------------------------------- */

static int count_rows(const char *op, const char *precision, const char *shape) {
    int n = 0;
    for (int t = 0; t < bb_n_kernel_tables; t++)
        for (int i = 0; i < bb_kernel_tables[t]->n; i++) {
            const bb_kernel *k = &bb_kernel_tables[t]->rows[i];
            n += strcmp(k->op, op) == 0 && strcmp(k->precision, precision) == 0 && strcmp(k->shape, shape) == 0;
        }
    return n;
}

static void test_packed_rows(void) {
    static const struct {
        const char *op, *shape;
    } want[] = {{"gemm_forward", "small.qkv"},        {"gemm_forward", "small.attproj"},
                {"gemm_forward", "small.fc"},         {"gemm_forward", "small.fcproj"},
                {"gemv_forward", "llama-7b.attn"},    {"gemv_forward", "llama-7b.up"},
                {"gemv_forward", "llama-7b.down"},    {"gemv_forward_ref", "llama-7b.attn"}};
    for (int p = 0; p < BB_PREC_COUNT; p++)
        for (size_t w = 0; w < sizeof want / sizeof want[0]; w++)
            CHECK(count_rows(want[w].op, bb_precisions[p].name, want[w].shape) == 1, "%s/%s/%s: %d rows, want 1",
                  want[w].op, bb_precisions[p].name, want[w].shape,
                  count_rows(want[w].op, bb_precisions[p].name, want[w].shape));
    /* every row of another precision has its fp32 peer (it runs with it: the speed-up) */
    int peers = 0;
    for (int t = 0; t < bb_n_kernel_tables; t++)
        for (int i = 0; i < bb_kernel_tables[t]->n; i++) {
            const bb_kernel *k = &bb_kernel_tables[t]->rows[i], *p = bb_kernel_fp32_peer(k);
            bool fp32 = strcmp(k->precision, "fp32") == 0;
            CHECK(fp32 == (p == NULL), "%s/%s/%s: peer %s", k->op, k->precision, k->shape, p ? p->precision : "none");
            if (p) CHECK(strcmp(p->op, k->op) == 0 && strcmp(p->shape, k->shape) == 0 && strcmp(p->precision, "fp32") == 0,
                         "%s/%s/%s: wrong peer", k->op, k->precision, k->shape);
            peers += p != NULL;
        }
    CHECK(peers == (BB_PREC_COUNT - 1) * 8, "%d rows with an fp32 peer, want %d precisions x 8", peers,
          (int)BB_PREC_COUNT - 1);
}

/* ---- run once ------------------------------------------------------------------------ */

/* The packed GEMVs (SIMD and scalar) at llama-7b.attn of the precisions with the fewest and
 * the most copies of their cold weights (each cold setup fills 512 MiB; the code paths of
 * the others are the same, and their kernels are checked by test_precisions). */
static bool run_gemv(const bb_kernel *k) {
    return strcmp(k->shape, "llama-7b.attn") == 0 &&
           (strcmp(k->precision, "fp32") == 0 || strcmp(k->precision, "b158") == 0);
}

static void run_once(const bb_kernel *k) {
    bool gemv = run_gemv(k), cold = gemv && strcmp(k->op, "gemv_forward") == 0;
    if (!k->reference && !starts(k->shape, "small") && !gemv) return;
    size_t before = bb_mem_stats_get().current_total;
    void *s = k->setup(k->args);
    /* cold GEMV weights: copies of the packed matrix cover 512 MiB (kernels_packed.c) */
    if (cold)
        CHECK(bb_mem_stats_get().current_total - before >= ((size_t)512 << 20), "%s/%s: %zu bytes of weight copies",
              k->op, k->precision, bb_mem_stats_get().current_total - before);
    k->run(s, k->args);
    k->run(s, k->args);
    k->teardown(s);
    CHECK(bb_mem_stats_get().current_total == before, "%s/%s leaked %zu bytes", k->op, k->shape,
          bb_mem_stats_get().current_total - before);
}

static void test_run_small(void) { for_each_row(run_once); }

static void test_fill(void) {
    float a[1000], b[1000];
    bb_kernel_fill(a, 1000, 7, -2.0f, 3.0f);
    bb_kernel_fill(b, 1000, 7, -2.0f, 3.0f);
    CHECK(memcmp(a, b, sizeof a) == 0, "fill is deterministic");
    double mean = 0;
    for (int i = 0; i < 1000; i++) {
        CHECK(a[i] >= -2.0f && a[i] < 3.0f, "a[%d] = %g out of range", i, (double)a[i]);
        mean += a[i] / 1000.0;
    }
    CHECK(fabs(mean - 0.5) < 0.2, "mean %g", mean);
    bb_kernel_fill(b, 1000, 8, -2.0f, 3.0f);
    CHECK(memcmp(a, b, sizeof a) != 0, "seeds differ");
}

static const bb_test_case cases[] = {
    {"table", test_table},
    {"shapes", test_shapes},
    {"packed_rows", test_packed_rows},
    {"fill", test_fill},
    {"run_small", test_run_small},
};
BB_TEST_MAIN(cases)
