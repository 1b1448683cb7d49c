/* kernels.c — the list of kernel tables (see kernels.h). A new kernel file adds its table
 * here and its file to meson.build; the driver does not change. */
#include "kernels.h"
#include <stdio.h>
#include <string.h>

const bb_kernel_table *const bb_kernel_tables[] = {
    &bb_kernels_ref,
    &bb_kernels_fp32,
    &bb_kernels_packed,
};
const int bb_n_kernel_tables = (int)(sizeof bb_kernel_tables / sizeof bb_kernel_tables[0]);

static const struct {
    const char *name, *unit;
} kinds[BB_KERNEL_KIND_COUNT] = {
    [BB_KERNEL_COMPUTE] = {"compute", "GFLOP/s"},
    [BB_KERNEL_MEMORY] = {"memory", "GB/s"},
};

const char *bb_kernel_kind_name(bb_kernel_kind k) { return kinds[k].name; }
const char *bb_kernel_kind_unit(bb_kernel_kind k) { return kinds[k].unit; }

void bb_kernel_name(const bb_kernel *k, char *out, int cap) {
    int n = snprintf(out, (size_t)cap, "%s/%s/%s", k->op, k->precision, k->shape);
    for (int i = 0; i < k->n_args && n > 0 && n < cap; i++)
        n += snprintf(out + n, (size_t)(cap - n), "/%s:%lld", k->arg_names[i], (long long)k->args[i]);
    if (n > 0 && n < cap) snprintf(out + n, (size_t)(cap - n), "/real_time");
}

const bb_kernel *bb_kernel_ratio_base(bb_kernel_kind kind) {
    for (int t = 0; t < bb_n_kernel_tables; t++)
        for (int i = 0; i < bb_kernel_tables[t]->n; i++) {
            const bb_kernel *k = &bb_kernel_tables[t]->rows[i];
            if (k->ratio_base && k->kind == kind) return k;
        }
    return NULL;
}

const bb_kernel *bb_kernel_fp32_peer(const bb_kernel *k) {
    if (strcmp(k->precision, "fp32") == 0) return NULL;
    for (int t = 0; t < bb_n_kernel_tables; t++)
        for (int i = 0; i < bb_kernel_tables[t]->n; i++) {
            const bb_kernel *p = &bb_kernel_tables[t]->rows[i];
            if (strcmp(p->precision, "fp32") == 0 && strcmp(p->op, k->op) == 0 && strcmp(p->shape, k->shape) == 0)
                return p;
        }
    return NULL;
}

void bb_kernel_fill(float *x, int64_t n, uint64_t seed, float lo, float hi) {
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    for (int64_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;  /* xorshift64 (Marsaglia 2003) */
        x[i] = lo + (hi - lo) * (float)((s >> 40) * (1.0 / 16777216.0));
    }
}
