/* isa.c — see isa.h. CPUID bits as in bench/env.c (Intel SDM vol. 2A). */
#include "isa.h"
#include "../../common/check.h"
#include <cpuid.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern const bb_eltwise_kernels bb_eltwise_scalar, bb_eltwise_avx2, bb_eltwise_avx512;
static const bb_eltwise_kernels *const tables[BB_ISA_COUNT] = {&bb_eltwise_scalar, &bb_eltwise_avx2,
                                                               &bb_eltwise_avx512};
static const char *const names[BB_ISA_COUNT] = {"scalar", "avx2", "avx512"};
static int active = -1;

const char *bb_isa_name(bb_isa isa) { return names[isa]; }

bb_isa bb_isa_best_supported(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return BB_ISA_SCALAR;
    bool fma = c & (1u << 12);
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    uint64_t xcr0 = (uint64_t)hi << 32 | lo;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return BB_ISA_SCALAR;
    bool avx2 = (xcr0 & 0x6) == 0x6 && (b & (1u << 5)) && fma;
    bool avx512 = avx2 && (xcr0 & 0xe6) == 0xe6 && (b & (1u << 16)) && (b & (1u << 17)) && (b & (1u << 30)) &&
                  (b & (1u << 31));  /* F, DQ, BW, VL */
    return avx512 ? BB_ISA_AVX512 : avx2 ? BB_ISA_AVX2 : BB_ISA_SCALAR;
}

/* AMX (Intel SDM vol. 1 ch. 18; Linux Documentation/arch/x86/xstate.rst): CPUID.(7,0)
 * EDX bit 24 AMX-TILE and bit 22 AMX-BF16, XCR0 bits 17-18 (XTILECFG, XTILEDATA) set by the
 * OS, then a per-process request for the XTILEDATA feature (18) before the first use. */
static bool amx_bf16_usable(void) {
    const char *env = getenv("BITBENCH_AMX");
    if (env && strcmp(env, "0") == 0) return false;
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 24)) || !(d & (1u << 22))) return false;
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & (3u << 17)) != (3u << 17)) return false;
#if defined(__linux__)
    enum { ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 };
    return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
#else
    return false;
#endif
}

/* CPUID traps to the hypervisor in a VM (tens of microseconds): ask once. */
static _Atomic int features = -1;

unsigned bb_cpu_features(void) {
    int cached = features;
    if (cached >= 0) return (unsigned)cached;
    unsigned a, b, c, d, f = 0;
    if (__get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29))) f |= BB_CPU_F16C;
    if (bb_isa_best_supported() < BB_ISA_AVX512) {
        features = (int)f;
        return f;
    }
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (c & (1u << 11))) f |= BB_CPU_AVX512_VNNI;
    if (__get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 5))) f |= BB_CPU_AVX512_BF16;
    if (amx_bf16_usable()) f |= BB_CPU_AMX_BF16;
    features = (int)f;
    return f;
}

bb_isa bb_isa_active(void) {
    if (active >= 0) return (bb_isa)active;
    bb_isa best = bb_isa_best_supported();
    const char *env = getenv("BITBENCH_ISA");
    if (env && *env) {
        int want = -1;
        for (int i = 0; i < BB_ISA_COUNT; i++)
            if (strcmp(env, names[i]) == 0) want = i;
        if (want < 0) bb_user_error("BITBENCH_ISA='%s' is not one of scalar, avx2, avx512", env);
        if (want > (int)best) bb_user_error("BITBENCH_ISA=%s is not supported by this CPU (best: %s)", env, names[best]);
        active = want;
    } else {
        active = (int)best;
    }
    return (bb_isa)active;
}

void bb_isa_force(bb_isa isa) {
    BB_CHECK(isa <= bb_isa_best_supported());
    active = (int)isa;
}

const bb_eltwise_kernels *bb_eltwise(void) { return tables[bb_isa_active()]; }
const bb_eltwise_kernels *bb_eltwise_for(bb_isa isa) { return tables[isa]; }
