/* bpe.h — byte-level BPE tokenizer (Sennrich et al. 2016; byte-level as in GPT-2).
 *
 * Ids: 0..3 are the special tokens PAD, BOS, EOS and SEP (source/target separator);
 * 4..259 are the 256 bytes; merge i creates id 260 + i. vocab_size = 260 + n_merges.
 *
 * File format ("bitbench-bpe 1"), plain text, LF line ends:
 *     bitbench-bpe 1
 *     vocab_size <V>
 *     specials <|pad|> <|bos|> <|eos|> <|sep|>
 *     pretokenizer words-v1
 *     merges <M>                  M = V - 260
 *     <left> <right>              M lines: merge i joins ids left,right into 260+i;
 *     ...                         both ids are < 260+i
 *     sha256 <hex>                SHA-256 of every byte above this line
 * The sha256 is the tokenizer's identity: token caches and checkpoints record it.
 * Training is deterministic: ties in pair frequency go to the smaller (left, right). */
#pragma once
#include "../common/hashmap.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { BB_TOK_PAD = 0, BB_TOK_BOS = 1, BB_TOK_EOS = 2, BB_TOK_SEP = 3, BB_TOK_N_SPECIAL = 4 };
#define BB_TOK_BYTE0 4
#define BB_TOK_FIRST_MERGE 260
#define BB_TOK_DEFAULT_VOCAB 4096
#define BB_TOK_MAX_VOCAB 65536

typedef struct {
    uint32_t left, right;
} bb_bpe_merge;

typedef struct {
    int vocab_size;
    int n_merges;
    bb_bpe_merge *merges;     /* (n_merges) */
    uint32_t *piece_off;      /* (vocab_size) offset of each token's bytes in pieces */
    uint32_t *piece_len;      /* (vocab_size) */
    uint8_t *pieces;
    bb_u64map merge_rank;     /* (left << 32 | right) -> merge index */
    bb_strmap cache;          /* chunk bytes -> offset into cache_ids (encode memo) */
    uint32_t *cache_ids;      /* per entry: count, then ids */
    size_t cache_ids_len, cache_ids_cap;
    uint8_t identity[32];     /* sha256 of the serialized file body */
    char identity_hex[65];
} bb_tokenizer;

/* Builds a tokenizer from a merge list (takes a copy). */
void bb_tokenizer_init(bb_tokenizer *t, const bb_bpe_merge *merges, int n_merges);
void bb_tokenizer_free(bb_tokenizer *t);

/* Trains on the given texts until vocab_size tokens exist (or no pair occurs twice).
 * Prints progress to stderr when verbose. */
void bb_tokenizer_train(bb_tokenizer *t, const char *const *texts, const size_t *lens,
                        int n_texts, int vocab_size, bool verbose);

/* Scalar reference trainer: recounts all pairs before each merge. Tests only; it gives
 * the same merges as bb_tokenizer_train. */
void bb_tokenizer_train_ref(bb_tokenizer *t, const char *const *texts, const size_t *lens,
                            int n_texts, int vocab_size);

/* Serialized form (see above); returns a bb_alloc'd buffer. */
char *bb_tokenizer_serialize(const bb_tokenizer *t, size_t *len);
/* Returns 0, or -1 with a one-sentence reason in err. */
int bb_tokenizer_save(const bb_tokenizer *t, const char *path, char *err, size_t err_len);
int bb_tokenizer_load(bb_tokenizer *t, const char *path, char *err, size_t err_len);
int bb_tokenizer_parse(bb_tokenizer *t, const char *data, size_t len, char *err, size_t err_len);

/* Encodes len bytes; ids go to a growing bb_alloc'd array. Returns the number of ids
 * appended at *ids + *n (the array is reallocated as needed; *cap tracks capacity). */
size_t bb_tokenizer_encode(bb_tokenizer *t, const uint8_t *text, size_t len, uint32_t **ids,
                           size_t *n, size_t *cap);
/* Decodes into out (capacity out_cap, NUL-terminated when room); returns the full
 * decoded length. Specials print as <|pad|> etc. unless skip_special. */
size_t bb_tokenizer_decode(const bb_tokenizer *t, const uint32_t *ids, size_t n, char *out,
                           size_t out_cap, bool skip_special);
const char *bb_tokenizer_special_name(uint32_t id);
