/* tokfile.h — binary token files and the token cache.
 *
 * Layout (little-endian), a 128-byte header then the ids:
 *   0  char[8]  magic "BBTOKENS"
 *   8  u32      version (1)
 *  12  u32      vocab_size
 *  16  u32      bytes per id (2 when vocab_size <= 65536, else 4)
 *  20  u32      reserved (0)
 *  24  u64      count (number of ids)
 *  32  u8[32]   tokenizer identity (sha256 of the tokenizer file body, bpe.h)
 *  64  u8[32]   source identity (sha256 of the text the ids came from)
 *  96  u8[32]   payload sha256 (of the id bytes)
 * 128  ids
 * A cache file is used only if every field matches what the caller expects and the
 * payload hash is right; otherwise it is reported STALE or CORRUPT and rebuilt.
 *
 * Text-to-stream rule: every line of the text file is encoded without its '\n' and
 * followed by EOS, so each verse ends with EOS (the LM stream). */
#pragma once
#include "bpe.h"
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t *ids;
    size_t n;
    int vocab_size;
} bb_tokens;

typedef enum { BB_CACHE_HIT, BB_CACHE_MISSING, BB_CACHE_STALE, BB_CACHE_CORRUPT } bb_cache_status;

const char *bb_cache_status_name(bb_cache_status s);

int bb_tokens_write(const char *path, const bb_tokenizer *t, const uint8_t source_sha[32],
                    const uint32_t *ids, size_t n, char *err, size_t err_len);

/* Reads a token file. expect_tok/expect_src may be NULL (not checked). On anything but
 * HIT, why holds one sentence. */
bb_cache_status bb_tokens_read(const char *path, const uint8_t *expect_tok,
                               const uint8_t *expect_src, int expect_vocab, bb_tokens *out,
                               char *why, size_t why_len);

/* Encodes text with the line rule above. */
void bb_tokens_encode_lines(bb_tokenizer *t, const char *text, size_t len, bb_tokens *out);

/* The cached token stream of a text file: loads <cache_dir>/tokens/<tag>.<tok>.bin if
 * valid, else encodes and (re)writes it. Reports MISSING/STALE/CORRUPT rebuilds on stderr
 * unless quiet. Returns the status found before any rebuild. */
bb_cache_status bb_tokens_cached(bb_tokenizer *t, const char *text_path, const char *tag,
                                 bb_tokens *out, bool quiet);
void bb_tokens_cache_path(const bb_tokenizer *t, const char *tag, char *out, size_t cap);

void bb_tokens_free(bb_tokens *tk);
