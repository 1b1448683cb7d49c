/* loader.c — see loader.h. Shuffle: Fisher-Yates with splitmix64 seeded by (seed, epoch). */
#include "loader.h"
#include "../engine/alloc.h"
#include <string.h>

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int bb_lm_loader_init(bb_lm_loader *l, const uint32_t *ids, size_t n_ids, int T, uint64_t seed) {
    memset(l, 0, sizeof *l);
    if (T < 1 || n_ids < (size_t)T + 1) return -1;
    l->ids = ids;
    l->n_ids = n_ids;
    l->T = T;
    l->n_windows = (n_ids - 1) / (size_t)T;
    l->seed = seed;
    l->cached_epoch = -1;
    l->perm = bb_alloc(BB_MEM_DATA, l->n_windows * sizeof *l->perm);
    return 0;
}

void bb_lm_loader_free(bb_lm_loader *l) {
    bb_free(l->perm);
    memset(l, 0, sizeof *l);
}

void bb_lm_loader_window(const bb_lm_loader *l, size_t w, int *inputs, int *targets) {
    const uint32_t *src = l->ids + w * (size_t)l->T;
    for (int t = 0; t < l->T; t++) {
        inputs[t] = (int)src[t];
        targets[t] = (int)src[t + 1];
    }
}

void bb_lm_loader_batch(bb_lm_loader *l, long step, int B, int *inputs, int *targets) {
    for (int b = 0; b < B; b++) {
        uint64_t g = (uint64_t)step * (uint64_t)B + (uint64_t)b;
        long epoch = (long)(g / l->n_windows);
        if (epoch != l->cached_epoch) {
            uint64_t s = l->seed * 0x9e3779b97f4a7c15ull ^ (uint64_t)epoch * 0xd1b54a32d192ed03ull;
            for (size_t i = 0; i < l->n_windows; i++) l->perm[i] = (uint32_t)i;
            for (size_t i = l->n_windows - 1; i > 0; i--) {
                size_t j = (size_t)(splitmix(&s) % (i + 1));
                uint32_t tmp = l->perm[i];
                l->perm[i] = l->perm[j];
                l->perm[j] = tmp;
            }
            l->cached_epoch = epoch;
        }
        bb_lm_loader_window(l, l->perm[g % l->n_windows], inputs + (size_t)b * l->T, targets + (size_t)b * l->T);
    }
}
