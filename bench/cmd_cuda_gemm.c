/* cmd_cuda_gemm.c — `bitbench bench cuda-gemm`: GPU GEMM throughput of every precision at
 * the linear shapes of a model preset, timed with CUDA events, in one run so the ratios
 * are like for like: cuBLAS FP32 (cublasSgemm), TF32, fp16 and bf16 (cublasGemmEx, FP32
 * accumulation), the packed int8/int4/b158 kernels (engine/cuda/packed.cu, activation
 * quantization included) and INT8 IMMA through cublasLt (GEMM only, row-major int8). Each kernel is called once untimed, then --reps times between
 * two events; TFLOP/s = 2 N C OC reps / time. Without a device: "no CUDA device", exit 2. */
#include "../common/args.h"
#include "../common/check.h"
#include "../engine/alloc.h"
#include "../engine/config.h"
#include "../engine/cuda_backend.h"
#include "cli.h"
#include "model_args.h"
#include "results.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { K_FP32, K_TF32, K_FP16, K_BF16, K_INT8, K_INT4, K_B158, K_COUNT } kernel_id;
static const char *const kernel_names[K_COUNT] = {"fp32", "tf32", "fp16", "bf16", "int8", "int4", "b158"};

static double time_kernel(kernel_id k, float *out, const float *x, const float *w32, const uint16_t *w16[2],
                          const void *packed[3], int N, int C, int OC, int reps) {
    bb_prec_opts o[3] = {bb_prec_default_opts(BB_PREC_INT8), bb_prec_default_opts(BB_PREC_INT4),
                         bb_prec_default_opts(BB_PREC_B158)};
    double ms = 0;
    for (int timed = 0; timed < 2; timed++) {
        if (timed) bb_cuda_timer_start();
        for (int r = 0; r < (timed ? reps : 1); r++) switch (k) {
            case K_FP32:
            case K_TF32: bb_backend_cuda.matmul_forward(out, x, w32, NULL, N, C, OC, 0); break;
            case K_FP16: bb_cuda_gemm16(BB_PREC_FP16, out, x, w16[0], N, C, OC, 0); break;
            case K_BF16: bb_cuda_gemm16(BB_PREC_BF16, out, x, w16[1], N, C, OC, 0); break;
            case K_INT8: bb_cuda_packed_forward(BB_PREC_INT8, out, x, packed[0], N, C, OC, &o[0], 0); break;
            case K_INT4: bb_cuda_packed_forward(BB_PREC_INT4, out, x, packed[1], N, C, OC, &o[1], 0); break;
            default: bb_cuda_packed_forward(BB_PREC_B158, out, x, packed[2], N, C, OC, &o[2], 0); break;
            }
        if (timed) ms = bb_cuda_timer_stop_ms();
        else bb_cuda_sync();
    }
    return ms / reps;
}

int bb_cmd_bench_cuda_gemm(int argc, char **argv) {
    bb_model_args ma = BB_MODEL_ARGS_DEFAULT;
    long tokens = 16 * 1024, reps = 20;
    const char *out_dir = NULL;
    const bb_arg args[] = {
        BB_MODEL_ARG_ENTRIES(ma),
        {"tokens", BB_ARG_INT, &tokens, "N", "rows of the activations (B*T; 16*1024 = gpt2 B=16 T=1024)", 1, 1 << 24},
        {"reps", BB_ARG_INT, &reps, "N", "timed calls per kernel and shape", 1, 100000},
        {"out", BB_ARG_STR, &out_dir, "DIR", "results folder (default results/runs/<time>-cuda-gemm)", 0, -1},
    };
    const bb_cmd_spec spec = {"bench cuda-gemm",
                              "GPU GEMM TFLOP/s of every precision (cuBLAS fp32/tf32/fp16/bf16, packed int8/int4/b158)\n"
                              "at the linear shapes of a model, CUDA-event timed, in one run.",
                              "[--model gpt2-124m] [--tokens N] [--reps N]", args, (int)(sizeof args / sizeof args[0]), 0, 0,
                              NULL};
    bb_args_parse(&spec, argc, argv, NULL);
    char err[256];
    if (bb_cuda_init(err, sizeof err) != 0) {
        fprintf(stderr, "bitbench bench cuda-gemm: %s; this command needs a GPU\n", err);
        exit(2);
    }
    bb_config cfg;
    bb_model_args_resolve(&ma, "bench cuda-gemm", &cfg);
    int N = (int)tokens, E = cfg.n_embd, F = cfg.ffn_hidden;
    int FF1 = cfg.family == BB_FAMILY_LLAMA ? 2 * F : F; /* SwiGLU: gate and up in one matrix */
    int QKV = (cfg.n_head + 2 * cfg.n_kv_head) * (E / cfg.n_head);
    int shapes[4][2] = {{E, QKV}, {E, E}, {E, FF1}, {F, E}}; /* C, OC: qkv, attn proj, fc, fc proj */
    const char *shape_names[4] = {"qkv", "attproj", "fc", "fcproj"};
    bb_run run;
    bb_run_create(&run, "cuda-gemm", out_dir, argc, argv);
    bb_atomic_file af;
    FILE *csv = bb_run_open(&run, "cuda-gemm.csv", &af);
    fprintf(csv, "model,shape,N,C,OC,kernel,ms,tflops,ratio_to_bf16,commit\n");
    printf("bench cuda-gemm: %s, N=%d, %ld reps\n%-8s %6s %6s", ma.model, N, reps, "shape", "C", "OC");
    for (int k = 0; k < K_COUNT; k++) printf(" %8s", kernel_names[k]);
    printf(" %8s   (TFLOP/s; int8-imma: cublasLt GEMM only, activations pre-quantized)\n", "i8-imma");
    for (int s = 0; s < 4; s++) {
        int C = shapes[s][0], OC = shapes[s][1];
        float *hw = bb_alloc(BB_MEM_OTHER, (size_t)OC * C * sizeof(float)), *hx = bb_alloc(BB_MEM_OTHER, (size_t)N * C * sizeof(float));
        uint64_t st = 0x9E3779B97F4A7C15ull + (uint64_t)s;
        for (size_t i = 0; i < (size_t)OC * C; i++) { st = st * 6364136223846793005ull + 1; hw[i] = (float)((st >> 40) & 0xffff) / 65536.0f - 0.5f; }
        for (size_t i = 0; i < (size_t)N * C; i++) { st = st * 6364136223846793005ull + 1; hx[i] = (float)((st >> 40) & 0xffff) / 32768.0f - 1.0f; }
        uint16_t *h16 = bb_alloc(BB_MEM_OTHER, (size_t)OC * C * sizeof(uint16_t));
        float *x = bb_cuda_alloc(BB_MEM_ACTS, (size_t)N * C * sizeof(float)), *out = bb_cuda_alloc(BB_MEM_ACTS, (size_t)N * OC * sizeof(float));
        float *w32 = bb_cuda_alloc(BB_MEM_PARAMS, (size_t)OC * C * sizeof(float));
        bb_cuda_upload(x, hx, (size_t)N * C * sizeof(float));
        bb_cuda_upload(w32, hw, (size_t)OC * C * sizeof(float));
        const uint16_t *w16[2];
        for (int b = 0; b < 2; b++) {
            for (size_t i = 0; i < (size_t)OC * C; i++) h16[i] = b ? bb_fp32_to_bf16(hw[i]) : bb_fp32_to_fp16(hw[i]);
            uint16_t *d = bb_cuda_alloc(BB_MEM_PACKED, (size_t)OC * C * sizeof(uint16_t));
            bb_cuda_upload(d, h16, (size_t)OC * C * sizeof(uint16_t));
            w16[b] = d;
        }
        const void *packed[3];
        bb_precision pp[3] = {BB_PREC_INT8, BB_PREC_INT4, BB_PREC_B158};
        for (int i = 0; i < 3; i++) {
            const bb_precision_traits *t = bb_precision_get(pp[i]);
            bb_prec_opts o = bb_prec_default_opts(pp[i]);
            size_t bytes = t->packed_size(OC, C, &o);
            void *hp = bb_alloc(BB_MEM_OTHER, bytes), *dp = bb_cuda_alloc(BB_MEM_PACKED, bytes);
            t->pack(hp, hw, OC, C, &o);
            bb_cuda_upload(dp, hp, bytes);
            bb_free(hp);
            packed[i] = dp;
        }
        double ms[K_COUNT];
        for (int k = 0; k < K_COUNT; k++) {
            bb_cuda_set_tf32(k == K_TF32);
            ms[k] = time_kernel((kernel_id)k, out, x, w32, w16, packed, N, C, OC, (int)reps);
        }
        bb_cuda_set_tf32(0);
        /* INT8 IMMA (cublasLt) on row-major codes: the GEMM alone, activations already int8 */
        double imma_ms = -1;
        {
            int8_t *hq = bb_alloc(BB_MEM_OTHER, (size_t)(N > OC ? N : OC) * C);
            int8_t *qa = bb_cuda_alloc(BB_MEM_ACTS, (size_t)N * C), *qw = bb_cuda_alloc(BB_MEM_PACKED, (size_t)OC * C);
            int32_t *o32 = bb_cuda_alloc(BB_MEM_ACTS, (size_t)N * OC * sizeof(int32_t));
            for (size_t i = 0; i < (size_t)(N > OC ? N : OC) * C; i++) hq[i] = (int8_t)((i * 2654435761u) >> 25);
            bb_cuda_upload(qa, hq, (size_t)N * C);
            bb_cuda_upload(qw, hq, (size_t)OC * C);
            if (bb_cuda_gemm_i8(o32, qa, qw, N, C, OC) == 0) {
                bb_cuda_sync();
                bb_cuda_timer_start();
                for (int r = 0; r < reps; r++) bb_cuda_gemm_i8(o32, qa, qw, N, C, OC);
                imma_ms = bb_cuda_timer_stop_ms() / reps;
            }
            bb_cuda_free(qa); bb_cuda_free(qw); bb_cuda_free(o32);
            bb_free(hq);
        }
        printf("%-8s %6d %6d", shape_names[s], C, OC);
        for (int k = 0; k < K_COUNT; k++) {
            double tf = 2.0 * N * C * OC / (ms[k] * 1e-3) / 1e12;
            printf(" %8.1f", tf);
            fprintf(csv, "%s,%s,%d,%d,%d,%s,%.4f,%.3f,%.3f,%s\n", ma.model, shape_names[s], N, C, OC, kernel_names[k], ms[k], tf,
                    ms[K_BF16] / ms[k], run.env.git_commit);
        }
        if (imma_ms > 0) {
            double tf = 2.0 * N * C * OC / (imma_ms * 1e-3) / 1e12;
            printf(" %8.1f", tf);
            fprintf(csv, "%s,%s,%d,%d,%d,%s,%.4f,%.3f,%.3f,%s\n", ma.model, shape_names[s], N, C, OC, "int8-imma", imma_ms, tf,
                    ms[K_BF16] / imma_ms, run.env.git_commit);
        } else {
            printf(" %8s", "n/a");
        }
        printf("\n");
        fflush(stdout);
        bb_cuda_free(x); bb_cuda_free(out); bb_cuda_free(w32);
        bb_cuda_free((void *)w16[0]); bb_cuda_free((void *)w16[1]);
        for (int i = 0; i < 3; i++) bb_cuda_free((void *)packed[i]);
        bb_free(hw); bb_free(hx); bb_free(h16);
    }
    bb_run_commit(&af);
    bb_cuda_mem_print(stdout);
    printf("results: %s/cuda-gemm.csv\n", run.dir);
    return 0;
}
