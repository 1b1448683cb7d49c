/* nf4_dump.c — the C half of tests/ref/nf4_ref.py (meson test nf4_ref): quantizes weight
 * matrices to nf4 with and without double quantization and writes, per case, the weights,
 * the packed bytes (parsed in Python from the documented layout, precisions/nf4.c), the
 * unpacked weights, and one forward and one backward_input; plus the two code books.
 * Usage: nf4_dump OUT.safetensors. Shapes: C % 64 == 0 (the blocks are bnb's flattened
 * blocks), ragged C and OC, several double-quantization blocks of 256. */
#include "../engine/alloc.h"
#include "../engine/safetensors.h"
#include "../precisions/formats.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint64_t rng = 0x243F6A8885A308D3ull;
static float uniform(void) { /* [0, 1) */
    rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
    return (float)((rng * 0x2545F4914F6CDD1Dull) >> 40) / (float)(1 << 24);
}
static float gauss(void) {
    float u = uniform() + 1e-7f, v = uniform();
    return sqrtf(-2.0f * logf(u)) * cosf(6.2831853f * v);
}

typedef struct {
    int OC, C, N;
    bool dq;
} nf4_case;

static const nf4_case cases[] = {
    {64, 256, 5, true}, {64, 256, 5, false}, {33, 200, 3, true}, {33, 200, 3, false}, {48, 4096, 2, true},
    {17, 70, 4, true},
};
enum { NCASES = sizeof cases / sizeof cases[0], PER = 7 };

/* Gaussian rows of varied scale, an outlier per few rows, a zero row, and a row of exact NF4
 * midpoints under an absmax of 1 (ties of the code rule). */
static void make_weights(float *w, int OC, int C) {
    const float *mid = bb_nf4_midpoints();
    for (int r = 0; r < OC; r++)
        for (int c = 0; c < C; c++) w[(size_t)r * C + c] = 0.02f * (1.0f + (float)(r % 5)) * gauss();
    for (int r = 0; r < OC; r += 3) w[(size_t)r * C + (r * 7) % C] *= 12.0f;
    memset(w + (size_t)2 * C, 0, (size_t)C * sizeof(float));
    for (int c = 0; c < C; c++) w[(size_t)4 * C + c] = c % 64 == 63 || c == C - 1 ? 1.0f : mid[c % 15];
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: nf4_dump OUT.safetensors\n");
        return 2;
    }
    bb_st_tensor t[NCASES * PER + 2];
    char names[NCASES * PER][32];
    void *bufs[NCASES * PER];
    int n = 0, nb = 0;
    char meta[2048];
    int m = snprintf(meta, sizeof meta, "[");
    for (int i = 0; i < NCASES; i++) {
        const nf4_case *k = &cases[i];
        bb_prec_opts o = bb_prec_default_opts(BB_PREC_NF4);
        o.nf4_no_double_quant = !k->dq;
        size_t bytes = bb_nf4_packed_size(k->OC, k->C, &o), wn = (size_t)k->OC * k->C;
        float *w = bufs[nb++] = bb_alloc(BB_MEM_OTHER, wn * sizeof(float));
        uint8_t *pk = bufs[nb++] = bb_alloc(BB_MEM_OTHER, bytes);
        float *wq = bufs[nb++] = bb_alloc(BB_MEM_OTHER, wn * sizeof(float));
        float *x = bufs[nb++] = bb_alloc(BB_MEM_OTHER, (size_t)k->N * k->C * sizeof(float));
        float *y = bufs[nb++] = bb_alloc(BB_MEM_OTHER, (size_t)k->N * k->OC * sizeof(float));
        float *dy = bufs[nb++] = bb_alloc(BB_MEM_OTHER, (size_t)k->N * k->OC * sizeof(float));
        float *dx = bufs[nb++] = bb_alloc(BB_MEM_OTHER, (size_t)k->N * k->C * sizeof(float));
        make_weights(w, k->OC, k->C);
        for (size_t e = 0; e < (size_t)k->N * k->C; e++) x[e] = gauss();
        for (size_t e = 0; e < (size_t)k->N * k->OC; e++) dy[e] = gauss();
        bb_nf4_pack(pk, w, k->OC, k->C, &o);
        bb_nf4_unpack(wq, pk, k->OC, k->C, &o);
        bb_nf4_forward(y, x, pk, k->N, k->C, k->OC, &o, 0);
        bb_nf4_backward_input(dx, dy, pk, k->N, k->C, k->OC, &o, 0);
        const char *suffix[PER] = {"w", "packed", "wq", "x", "y", "dy", "dx"};
        const void *data[PER] = {w, pk, wq, x, y, dy, dx};
        int64_t rows[PER] = {k->OC, (int64_t)bytes, k->OC, k->N, k->N, k->N, k->N};
        int64_t cols[PER] = {k->C, 0, k->C, k->C, k->OC, k->OC, k->C};
        for (int j = 0; j < PER; j++) {
            snprintf(names[n], sizeof names[n], "c%d.%s", i, suffix[j]);
            t[n] = (bb_st_tensor){.name = names[n], .dtype = j == 1 ? BB_DT_U8 : BB_DT_F32, .ndim = j == 1 ? 1 : 2,
                                  .shape = {rows[j], cols[j]}, .data = data[j]};
            n++;
        }
        m += snprintf(meta + m, sizeof meta - (size_t)m, "%s{\"name\": \"c%d\", \"OC\": %d, \"C\": %d, \"N\": %d, \"double_quant\": %s}",
                      i ? ", " : "", i, k->OC, k->C, k->N, k->dq ? "true" : "false");
    }
    snprintf(meta + m, sizeof meta - (size_t)m, "]");
    t[n++] = (bb_st_tensor){.name = "nf4_values", .dtype = BB_DT_F32, .ndim = 1, .shape = {16}, .data = bb_nf4_values};
    t[n++] = (bb_st_tensor){.name = "dq_code", .dtype = BB_DT_F32, .ndim = 1, .shape = {256}, .data = bb_nf4_dq_code()};
    const char *keys[] = {"cases", "nf4_layout"};
    const char *vals[] = {meta, bb_nf4_layout_doc};
    char err[400];
    int rc = bb_safetensors_write(argv[1], t, n, keys, vals, 2, err, sizeof err);
    if (rc != 0) fprintf(stderr, "nf4_dump: %s\n", err);
    for (int i = 0; i < nb; i++) bb_free(bufs[i]);
    return rc == 0 ? 0 : 1;
}
