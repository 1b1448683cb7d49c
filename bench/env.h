/* env.h — the machine and build a result came from (`bitbench env`). Every results
 * file embeds bb_env_write_json's object so a number is never separated from the
 * machine, build and commit that produced it. */
#pragma once
#include "../common/json.h"
#include "../engine/cuda_info.h"
#include <stdbool.h>
#include <stdio.h>

typedef struct {
    char cpu_model[256];
    bool avx2, avx512f, avx512_vnni, avx512_bf16, fma, f16c;
    bool amx_bf16; /* usable: CPU, OS and kernel permission (engine/cpu/isa.h BB_CPU_AMX_BF16) */
    int logical_cpus;
    int omp_max_threads;
    double memory_gib;
    char kernel[256];
    char hostname[256];
    char openblas_version[256];   /* openblas_get_config() */
    char openblas_core[64];
    const char *openblas_threading;  /* sequential, pthreads, openmp */
    char compiler[128];
    char build_type[64];
    char build_flags[512];
    char git_commit[64];
    char timestamp_utc[32];
    const char *simd_path;        /* the eltwise kernels in use (BITBENCH_ISA forces) */
    bb_cuda_info cuda;
} bb_env;

void bb_env_collect(bb_env *e);
void bb_env_print_text(const bb_env *e, FILE *f);
/* Writes the env as one JSON object value (the caller has written the key, if any). */
void bb_env_write_json(const bb_env *e, bb_json *j);
