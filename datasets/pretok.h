/* pretok.h — the pre-tokenizer: splits text into chunks that BPE merges never cross,
 * after GPT-2's byte-level BPE (Radford et al. 2019, encoder.py): a chunk is an optional
 * single leading space plus a run of letters, a run of digits or a run of other
 * symbols; other whitespace forms runs of its own. Any partition is lossless, so
 * decode(encode(x)) == x holds for every byte string, valid UTF-8 or not.
 * Letters are ASCII letters, the apostrophe, and every non-ASCII code point except
 * punctuation (U+00B7, U+037E, U+0387, U+2000-U+206F), so Greek words stay whole. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define BB_PRETOK_MAX_CHUNK 256

/* Returns the end (exclusive) of the chunk that starts at pos < len. */
size_t bb_pretok_next(const uint8_t *s, size_t len, size_t pos);
