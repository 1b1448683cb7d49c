/* alloc.c — see alloc.h. Each block carries a 64-byte header (size, category) in front
 * of the user pointer so frees are counted exactly and alignment is kept at 64 bytes.
 * Counters are updated with atomics so OpenMP regions may allocate. */
#include "alloc.h"
#include "../common/check.h"
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define HEADER 64

typedef struct {
    size_t bytes;
    int category;
    uint32_t magic;
} block_header;

#define BLOCK_MAGIC 0xb17be4c1u

static _Atomic size_t current[BB_MEM_COUNT], peak[BB_MEM_COUNT];
static _Atomic size_t current_total, peak_total, n_allocs;

static const char *const category_names[BB_MEM_COUNT] = {
    [BB_MEM_PARAMS] = "parameters",   [BB_MEM_GRADS] = "gradients",
    [BB_MEM_OPTIM] = "optimizer",     [BB_MEM_PACKED] = "packed weights",     [BB_MEM_ACTS] = "activations",
    [BB_MEM_WORKSPACE] = "workspace", [BB_MEM_DATA] = "data",
    [BB_MEM_TEACHER] = "teacher (KD, forward)",
    [BB_MEM_OTHER] = "other",
};

static void raise_peak(_Atomic size_t *pk, size_t value) {
    size_t old = atomic_load(pk);
    while (value > old && !atomic_compare_exchange_weak(pk, &old, value)) {}
}

static void count(int cat, size_t bytes, int sign) {
    if (sign > 0) {
        raise_peak(&peak[cat], atomic_fetch_add(&current[cat], bytes) + bytes);
        raise_peak(&peak_total, atomic_fetch_add(&current_total, bytes) + bytes);
        atomic_fetch_add(&n_allocs, 1);
    } else {
        atomic_fetch_sub(&current[cat], bytes);
        atomic_fetch_sub(&current_total, bytes);
    }
}

void *bb_alloc(bb_mem_category cat, size_t bytes) {
    BB_CHECK(cat >= 0 && cat < BB_MEM_COUNT);
    size_t total = HEADER + ((bytes + 63) & ~(size_t)63);
    BB_CHECK(total > bytes);  /* overflow */
    char *raw = aligned_alloc(64, total);
    if (!raw) bb_fatal(__FILE__, __LINE__, "out of memory allocating %zu bytes (%s)", bytes,
                       category_names[cat]);
    memset(raw, 0, total);
    block_header *h = (block_header *)raw;
    h->bytes = bytes;
    h->category = cat;
    h->magic = BLOCK_MAGIC;
    count(cat, bytes, +1);
    return raw + HEADER;
}

static block_header *header_of(void *ptr) {
    block_header *h = (block_header *)((char *)ptr - HEADER);
    BB_CHECK(h->magic == BLOCK_MAGIC);  /* not from bb_alloc, or freed twice */
    return h;
}

void *bb_realloc(void *ptr, size_t bytes) {
    BB_CHECK(ptr != NULL);
    block_header *h = header_of(ptr);
    void *fresh = bb_alloc(h->category, bytes);
    memcpy(fresh, ptr, h->bytes < bytes ? h->bytes : bytes);
    bb_free(ptr);
    return fresh;
}

void bb_free(void *ptr) {
    if (!ptr) return;
    block_header *h = header_of(ptr);
    count(h->category, h->bytes, -1);
    h->magic = 0;
    free(h);
}

char *bb_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = bb_alloc(BB_MEM_OTHER, n);
    memcpy(d, s, n);
    return d;
}

const char *bb_mem_category_name(bb_mem_category cat) { return category_names[cat]; }

bb_mem_stats bb_mem_stats_get(void) {
    bb_mem_stats s;
    for (int c = 0; c < BB_MEM_COUNT; c++) {
        s.current[c] = atomic_load(&current[c]);
        s.peak[c] = atomic_load(&peak[c]);
    }
    s.current_total = atomic_load(&current_total);
    s.peak_total = atomic_load(&peak_total);
    s.n_allocs = atomic_load(&n_allocs);
    return s;
}

void bb_mem_reset_peaks(void) {
    for (int c = 0; c < BB_MEM_COUNT; c++) atomic_store(&peak[c], atomic_load(&current[c]));
    atomic_store(&peak_total, atomic_load(&current_total));
}

void bb_mem_print(FILE *f) {
    bb_mem_stats s = bb_mem_stats_get();
    fprintf(f, "memory by category (MiB)     current        peak\n");
    for (int c = 0; c < BB_MEM_COUNT; c++)
        fprintf(f, "  %-24s %11.2f %11.2f\n", category_names[c], s.current[c] / 1048576.0,
                s.peak[c] / 1048576.0);
    fprintf(f, "  %-24s %11.2f %11.2f\n", "tracked total", s.current_total / 1048576.0,
            s.peak_total / 1048576.0);
    fprintf(f, "  %-24s %23.2f\n", "process peak RSS", bb_mem_peak_rss() / 1048576.0);
}

size_t bb_mem_peak_rss(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (size_t)ru.ru_maxrss * 1024;  /* Linux reports KiB */
}
