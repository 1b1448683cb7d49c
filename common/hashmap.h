/* hashmap.h — two small open-addressing hash maps (linear probing, power-of-two size,
 * grow at 50% load). u64map: uint64 key -> uint32 value (BPE pairs). strmap: byte
 * string -> uint32 value, keys copied into an arena (word counts, encode cache).
 * Deterministic: no random seeds, so iteration order depends only on the inserts. */
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t *keys;
    uint32_t *vals;
    uint8_t *used;
    size_t cap, len;
} bb_u64map;

void bb_u64map_init(bb_u64map *m, size_t initial_cap);
void bb_u64map_free(bb_u64map *m);
/* Returns a pointer to the value slot for key, inserting init_val if absent. */
uint32_t *bb_u64map_upsert(bb_u64map *m, uint64_t key, uint32_t init_val);
/* Returns NULL when absent. */
uint32_t *bb_u64map_get(const bb_u64map *m, uint64_t key);

typedef struct {
    uint32_t *slots;     /* entry index + 1; 0 = empty */
    size_t cap;
    /* entries, in insertion order */
    uint64_t *key_off;   /* offset of key bytes in arena */
    uint32_t *key_len;
    uint32_t *vals;
    uint64_t *hashes;
    size_t len, entries_cap;
    uint8_t *arena;
    size_t arena_len, arena_cap;
} bb_strmap;

void bb_strmap_init(bb_strmap *m, size_t initial_cap);
void bb_strmap_free(bb_strmap *m);
/* Returns the entry index for key, inserting it with init_val if absent. */
size_t bb_strmap_upsert(bb_strmap *m, const uint8_t *key, size_t len, uint32_t init_val);
/* Returns the entry index or SIZE_MAX. */
size_t bb_strmap_find(const bb_strmap *m, const uint8_t *key, size_t len);
static inline const uint8_t *bb_strmap_key(const bb_strmap *m, size_t i) {
    return m->arena + m->key_off[i];
}
