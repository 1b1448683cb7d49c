/* hashmap.c — see hashmap.h. Hashes: splitmix64 finaliser for integers, FNV-1a for bytes. */
#include "hashmap.h"
#include "../engine/alloc.h"
#include <string.h>

static uint64_t mix64(uint64_t x) {
    x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27; x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static size_t round_pow2(size_t n) {
    size_t c = 16;
    while (c < n) c <<= 1;
    return c;
}

void bb_u64map_init(bb_u64map *m, size_t initial_cap) {
    m->cap = round_pow2(initial_cap * 2);
    m->len = 0;
    m->keys = bb_alloc(BB_MEM_DATA, m->cap * sizeof *m->keys);
    m->vals = bb_alloc(BB_MEM_DATA, m->cap * sizeof *m->vals);
    m->used = bb_alloc(BB_MEM_DATA, m->cap);
}

void bb_u64map_free(bb_u64map *m) {
    bb_free(m->keys); bb_free(m->vals); bb_free(m->used);
    memset(m, 0, sizeof *m);
}

static size_t u64_slot(const bb_u64map *m, uint64_t key) {
    size_t mask = m->cap - 1, i = mix64(key) & mask;
    while (m->used[i] && m->keys[i] != key) i = (i + 1) & mask;
    return i;
}

static void u64_grow(bb_u64map *m) {
    bb_u64map old = *m;
    bb_u64map_init(m, old.cap);  /* init doubles: cap = 2 * old.cap */
    for (size_t i = 0; i < old.cap; i++) {
        if (!old.used[i]) continue;
        size_t s = u64_slot(m, old.keys[i]);
        m->used[s] = 1; m->keys[s] = old.keys[i]; m->vals[s] = old.vals[i];
        m->len++;
    }
    bb_u64map_free(&old);
}

uint32_t *bb_u64map_upsert(bb_u64map *m, uint64_t key, uint32_t init_val) {
    if (2 * (m->len + 1) > m->cap) u64_grow(m);
    size_t s = u64_slot(m, key);
    if (!m->used[s]) {
        m->used[s] = 1; m->keys[s] = key; m->vals[s] = init_val;
        m->len++;
    }
    return &m->vals[s];
}

uint32_t *bb_u64map_get(const bb_u64map *m, uint64_t key) {
    size_t s = u64_slot(m, key);
    return m->used[s] ? &m->vals[s] : NULL;
}

static uint64_t fnv1a(const uint8_t *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return mix64(h);
}

void bb_strmap_init(bb_strmap *m, size_t initial_cap) {
    memset(m, 0, sizeof *m);
    m->cap = round_pow2(initial_cap * 2);
    m->slots = bb_alloc(BB_MEM_DATA, m->cap * sizeof *m->slots);
    m->entries_cap = initial_cap < 16 ? 16 : initial_cap;
    m->key_off = bb_alloc(BB_MEM_DATA, m->entries_cap * sizeof *m->key_off);
    m->key_len = bb_alloc(BB_MEM_DATA, m->entries_cap * sizeof *m->key_len);
    m->vals = bb_alloc(BB_MEM_DATA, m->entries_cap * sizeof *m->vals);
    m->hashes = bb_alloc(BB_MEM_DATA, m->entries_cap * sizeof *m->hashes);
    m->arena_cap = 1 << 16;
    m->arena = bb_alloc(BB_MEM_DATA, m->arena_cap);
}

void bb_strmap_free(bb_strmap *m) {
    bb_free(m->slots); bb_free(m->key_off); bb_free(m->key_len);
    bb_free(m->vals); bb_free(m->hashes); bb_free(m->arena);
    memset(m, 0, sizeof *m);
}

static size_t str_slot(const bb_strmap *m, const uint8_t *key, size_t len, uint64_t h) {
    size_t mask = m->cap - 1, i = h & mask;
    for (;; i = (i + 1) & mask) {
        uint32_t e = m->slots[i];
        if (!e) return i;
        e--;
        if (m->hashes[e] == h && m->key_len[e] == len &&
            memcmp(m->arena + m->key_off[e], key, len) == 0)
            return i;
    }
}

static void str_rehash(bb_strmap *m) {
    bb_free(m->slots);
    m->cap *= 2;
    m->slots = bb_alloc(BB_MEM_DATA, m->cap * sizeof *m->slots);
    size_t mask = m->cap - 1;
    for (size_t e = 0; e < m->len; e++) {
        size_t i = m->hashes[e] & mask;
        while (m->slots[i]) i = (i + 1) & mask;
        m->slots[i] = (uint32_t)(e + 1);
    }
}

size_t bb_strmap_find(const bb_strmap *m, const uint8_t *key, size_t len) {
    uint32_t e = m->slots[str_slot(m, key, len, fnv1a(key, len))];
    return e ? e - 1 : SIZE_MAX;
}

size_t bb_strmap_upsert(bb_strmap *m, const uint8_t *key, size_t len, uint32_t init_val) {
    uint64_t h = fnv1a(key, len);
    size_t s = str_slot(m, key, len, h);
    if (m->slots[s]) return m->slots[s] - 1;
    if (m->len == m->entries_cap) {
        m->entries_cap *= 2;
        m->key_off = bb_realloc(m->key_off, m->entries_cap * sizeof *m->key_off);
        m->key_len = bb_realloc(m->key_len, m->entries_cap * sizeof *m->key_len);
        m->vals = bb_realloc(m->vals, m->entries_cap * sizeof *m->vals);
        m->hashes = bb_realloc(m->hashes, m->entries_cap * sizeof *m->hashes);
    }
    while (m->arena_len + len > m->arena_cap) {
        m->arena_cap *= 2;
        m->arena = bb_realloc(m->arena, m->arena_cap);
    }
    size_t e = m->len++;
    memcpy(m->arena + m->arena_len, key, len);
    m->key_off[e] = m->arena_len;
    m->key_len[e] = (uint32_t)len;
    m->vals[e] = init_val;
    m->hashes[e] = h;
    m->arena_len += len;
    m->slots[s] = (uint32_t)(e + 1);
    if (2 * m->len > m->cap) str_rehash(m);
    return e;
}
