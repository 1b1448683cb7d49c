/* env.c — see env.h. ISA bits come from CPUID leaf 7 (Intel SDM vol. 2A, "CPUID"):
 * EBX[5] AVX2, EBX[16] AVX512F, ECX[11] AVX512_VNNI; leaf 7 subleaf 1 EAX[5]
 * AVX512_BF16. AVX/AVX-512 also need the OS to save the registers (XCR0 via XGETBV). */
#include "env.h"
#include "bb_version.h"
#include "../engine/cpu/isa.h"
#include <cblas.h>
#include <cpuid.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static void read_cpu_model(char *out, size_t cap) {
    snprintf(out, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0) continue;
        const char *v = strchr(line, ':');
        if (!v) continue;
        v++;
        while (*v == ' ') v++;
        snprintf(out, cap, "%s", v);
        out[strcspn(out, "\n")] = '\0';
        break;
    }
    fclose(f);
}

static uint64_t read_xcr0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t)hi << 32 | lo;
}

static void detect_isa(bb_env *e) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    bool osxsave = c & (1u << 27);
    uint64_t xcr0 = osxsave ? read_xcr0() : 0;
    bool os_avx = (xcr0 & 0x6) == 0x6, os_avx512 = (xcr0 & 0xe6) == 0xe6;
    e->fma = os_avx && (c & (1u << 12));
    e->f16c = os_avx && (c & (1u << 29));
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return;
    unsigned max_sub = a;
    e->avx2 = os_avx && (b & (1u << 5));
    e->avx512f = os_avx512 && (b & (1u << 16));
    e->avx512_vnni = e->avx512f && (c & (1u << 11));
    if (max_sub >= 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d))
        e->avx512_bf16 = e->avx512f && (a & (1u << 5));
    e->amx_bf16 = (bb_cpu_features() & BB_CPU_AMX_BF16) != 0;
}

static const char *openblas_threading_name(int p) {
    static const char *const names[] = {"sequential", "pthreads", "openmp"};
    return p >= 0 && p <= 2 ? names[p] : "unknown";
}

void bb_env_collect(bb_env *e) {
    memset(e, 0, sizeof *e);
    read_cpu_model(e->cpu_model, sizeof e->cpu_model);
    detect_isa(e);
    e->logical_cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
    e->omp_max_threads = omp_get_max_threads();
    e->memory_gib = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE) / (1u << 30);
    struct utsname u;
    if (uname(&u) == 0) snprintf(e->kernel, sizeof e->kernel, "%s %s %s", u.sysname, u.release, u.machine);
    if (gethostname(e->hostname, sizeof e->hostname) != 0) snprintf(e->hostname, sizeof e->hostname, "unknown");
    snprintf(e->openblas_version, sizeof e->openblas_version, "%s", openblas_get_config());
    snprintf(e->openblas_core, sizeof e->openblas_core, "%s", openblas_get_corename());
    e->openblas_threading = openblas_threading_name(openblas_get_parallel());
    snprintf(e->compiler, sizeof e->compiler, "%s", BB_COMPILER);
    snprintf(e->build_type, sizeof e->build_type, "%s", BB_BUILD_TYPE);
    snprintf(e->build_flags, sizeof e->build_flags, "%s", BB_BUILD_FLAGS);
    snprintf(e->git_commit, sizeof e->git_commit, "%s", BB_GIT_COMMIT);
    time_t now = time(NULL);
    strftime(e->timestamp_utc, sizeof e->timestamp_utc, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    e->simd_path = bb_isa_name(bb_isa_active());
    bb_cuda_info_get(&e->cuda);
}

static const char *yes_no(bool b) { return b ? "yes" : "no"; }

void bb_env_print_text(const bb_env *e, FILE *f) {
    fprintf(f, "cpu            %s\n", e->cpu_model);
    fprintf(f, "isa            AVX2 %s, AVX-512F %s, AVX-512 VNNI %s, AVX-512 BF16 %s, AMX-BF16 %s, FMA %s, F16C %s\n",
            yes_no(e->avx2), yes_no(e->avx512f), yes_no(e->avx512_vnni), yes_no(e->avx512_bf16),
            yes_no(e->amx_bf16), yes_no(e->fma), yes_no(e->f16c));
    fprintf(f, "simd path      %s (BITBENCH_ISA=scalar|avx2|avx512 forces one)\n", e->simd_path);
    fprintf(f, "cores          %d logical CPUs, OpenMP max threads %d\n", e->logical_cpus, e->omp_max_threads);
    fprintf(f, "memory         %.1f GiB\n", e->memory_gib);
    fprintf(f, "os             %s (host %s)\n", e->kernel, e->hostname);
    fprintf(f, "openblas       %s\n", e->openblas_version);
    fprintf(f, "openblas core  %s, threading %s\n", e->openblas_core, e->openblas_threading);
    fprintf(f, "compiler       %s\n", e->compiler);
    fprintf(f, "build          %s, flags: %s\n", e->build_type, e->build_flags);
    fprintf(f, "git commit     %s\n", e->git_commit);
    fprintf(f, "cuda           %s", e->cuda.built_with_cuda ? "built with CUDA" : "built without CUDA");
    if (e->cuda.runtime_version)
        fprintf(f, ", runtime %d.%d", e->cuda.runtime_version / 1000, e->cuda.runtime_version % 1000 / 10);
    if (e->cuda.cublas_version)
        fprintf(f, ", cuBLAS %d.%d.%d", e->cuda.cublas_version / 10000, e->cuda.cublas_version / 100 % 100,
                e->cuda.cublas_version % 100);
    fprintf(f, "\ncuda devices   %s\n", e->cuda.status);
    for (int i = 0; i < e->cuda.n_devices; i++) {
        const bb_cuda_device *d = &e->cuda.devices[i];
        fprintf(f, "  [%d] %s, compute %d.%d, %.1f GiB, %d SMs\n", i, d->name, d->cc_major, d->cc_minor,
                d->memory_gib, d->sm_count);
    }
    fprintf(f, "time           %s\n", e->timestamp_utc);
}

void bb_env_write_json(const bb_env *e, bb_json *j) {
    bb_json_obj_begin(j);
    bb_json_key(j, "cpu_model"); bb_json_str(j, e->cpu_model);
    bb_json_key(j, "isa");
    bb_json_obj_begin(j);
    bb_json_key(j, "avx2"); bb_json_bool(j, e->avx2);
    bb_json_key(j, "avx512f"); bb_json_bool(j, e->avx512f);
    bb_json_key(j, "avx512_vnni"); bb_json_bool(j, e->avx512_vnni);
    bb_json_key(j, "avx512_bf16"); bb_json_bool(j, e->avx512_bf16);
    bb_json_key(j, "amx_bf16"); bb_json_bool(j, e->amx_bf16);
    bb_json_key(j, "fma"); bb_json_bool(j, e->fma);
    bb_json_key(j, "f16c"); bb_json_bool(j, e->f16c);
    bb_json_obj_end(j);
    bb_json_key(j, "simd_path"); bb_json_str(j, e->simd_path);
    bb_json_key(j, "logical_cpus"); bb_json_int(j, e->logical_cpus);
    bb_json_key(j, "omp_max_threads"); bb_json_int(j, e->omp_max_threads);
    bb_json_key(j, "memory_gib"); bb_json_num(j, e->memory_gib);
    bb_json_key(j, "os"); bb_json_str(j, e->kernel);
    bb_json_key(j, "hostname"); bb_json_str(j, e->hostname);
    bb_json_key(j, "openblas"); bb_json_str(j, e->openblas_version);
    bb_json_key(j, "openblas_core"); bb_json_str(j, e->openblas_core);
    bb_json_key(j, "openblas_threading"); bb_json_str(j, e->openblas_threading);
    bb_json_key(j, "compiler"); bb_json_str(j, e->compiler);
    bb_json_key(j, "build_type"); bb_json_str(j, e->build_type);
    bb_json_key(j, "build_flags"); bb_json_str(j, e->build_flags);
    bb_json_key(j, "git_commit"); bb_json_str(j, e->git_commit);
    bb_json_key(j, "timestamp_utc"); bb_json_str(j, e->timestamp_utc);
    bb_json_key(j, "cuda");
    bb_json_obj_begin(j);
    bb_json_key(j, "built_with_cuda"); bb_json_bool(j, e->cuda.built_with_cuda);
    bb_json_key(j, "runtime_version"); bb_json_int(j, e->cuda.runtime_version);
    bb_json_key(j, "cublas_version"); bb_json_int(j, e->cuda.cublas_version);
    bb_json_key(j, "status"); bb_json_str(j, e->cuda.status);
    bb_json_key(j, "devices");
    bb_json_arr_begin(j);
    for (int i = 0; i < e->cuda.n_devices; i++) {
        const bb_cuda_device *d = &e->cuda.devices[i];
        bb_json_obj_begin(j);
        bb_json_key(j, "name"); bb_json_str(j, d->name);
        bb_json_key(j, "compute_capability");
        char cc[16];
        snprintf(cc, sizeof cc, "%d.%d", d->cc_major, d->cc_minor);
        bb_json_str(j, cc);
        bb_json_key(j, "memory_gib"); bb_json_num(j, d->memory_gib);
        bb_json_key(j, "sm_count"); bb_json_int(j, d->sm_count);
        bb_json_obj_end(j);
    }
    bb_json_arr_end(j);
    bb_json_obj_end(j);
    bb_json_obj_end(j);
}
