/* sha256.h — SHA-256 (FIPS 180-4), used for dataset checksums, tokenizer identity and
 * token-cache validation. Streaming API plus one-shot helpers. */
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t state[8];
    uint64_t total_len;   /* bytes fed so far */
    uint8_t block[64];
    size_t block_len;
} bb_sha256;

void bb_sha256_init(bb_sha256 *s);
void bb_sha256_update(bb_sha256 *s, const void *data, size_t len);
void bb_sha256_final(bb_sha256 *s, uint8_t digest[32]);
void bb_sha256_buffer(const void *data, size_t len, uint8_t digest[32]);
/* Returns 0 on success, -1 if the file cannot be read (errno set). */
int bb_sha256_file(const char *path, uint8_t digest[32]);
/* Writes 64 lowercase hex chars plus NUL into out (65 bytes). */
void bb_sha256_hex(const uint8_t digest[32], char out[65]);
