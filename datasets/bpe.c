/* bpe.c — tokenizer tables, encode/decode and the file format (see bpe.h).
 * Encode applies merges by rank inside each pre-token chunk, the standard BPE rule
 * (Sennrich et al. 2016, §3.1), and memoises chunk -> ids since words repeat. */
#include "bpe.h"
#include "../common/check.h"
#include "../common/io.h"
#include "../common/sha256.h"
#include "../engine/alloc.h"
#include "pretok.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENCODE_CACHE_MAX_ENTRIES (1u << 20)

static const char *const special_names[BB_TOK_N_SPECIAL] = {
    [BB_TOK_PAD] = "<|pad|>", [BB_TOK_BOS] = "<|bos|>",
    [BB_TOK_EOS] = "<|eos|>", [BB_TOK_SEP] = "<|sep|>"};

const char *bb_tokenizer_special_name(uint32_t id) {
    return id < BB_TOK_N_SPECIAL ? special_names[id] : NULL;
}

static uint64_t pair_key(uint32_t a, uint32_t b) { return (uint64_t)a << 32 | b; }

void bb_tokenizer_init(bb_tokenizer *t, const bb_bpe_merge *merges, int n_merges) {
    memset(t, 0, sizeof *t);
    t->n_merges = n_merges;
    t->vocab_size = BB_TOK_FIRST_MERGE + n_merges;
    t->merges = bb_alloc(BB_MEM_DATA, (size_t)(n_merges + 1) * sizeof *merges);
    memcpy(t->merges, merges, (size_t)n_merges * sizeof *merges);
    t->piece_off = bb_alloc(BB_MEM_DATA, (size_t)t->vocab_size * sizeof *t->piece_off);
    t->piece_len = bb_alloc(BB_MEM_DATA, (size_t)t->vocab_size * sizeof *t->piece_len);
    /* Each token's bytes: bytes are length 1, merges the concatenation of their parts. */
    size_t total = 256;
    for (int i = 0; i < BB_TOK_N_SPECIAL; i++) total += strlen(special_names[i]);
    uint32_t *len = t->piece_len;
    for (int i = 0; i < BB_TOK_N_SPECIAL; i++) len[i] = (uint32_t)strlen(special_names[i]);
    for (int b = 0; b < 256; b++) len[BB_TOK_BYTE0 + b] = 1;
    for (int i = 0; i < n_merges; i++) {
        len[BB_TOK_FIRST_MERGE + i] = len[merges[i].left] + len[merges[i].right];
        total += len[BB_TOK_FIRST_MERGE + i];
    }
    t->pieces = bb_alloc(BB_MEM_DATA, total);
    size_t off = 0;
    for (int i = 0; i < BB_TOK_N_SPECIAL; i++) {
        t->piece_off[i] = (uint32_t)off;
        memcpy(t->pieces + off, special_names[i], len[i]);
        off += len[i];
    }
    for (int b = 0; b < 256; b++) {
        t->piece_off[BB_TOK_BYTE0 + b] = (uint32_t)off;
        t->pieces[off++] = (uint8_t)b;
    }
    bb_u64map_init(&t->merge_rank, (size_t)n_merges + 16);
    for (int i = 0; i < n_merges; i++) {
        uint32_t id = BB_TOK_FIRST_MERGE + i, l = merges[i].left, r = merges[i].right;
        t->piece_off[id] = (uint32_t)off;
        memcpy(t->pieces + off, t->pieces + t->piece_off[l], len[l]);
        memcpy(t->pieces + off + len[l], t->pieces + t->piece_off[r], len[r]);
        off += len[id];
        *bb_u64map_upsert(&t->merge_rank, pair_key(l, r), (uint32_t)i) = (uint32_t)i;
    }
    bb_strmap_init(&t->cache, 1 << 12);
    t->cache_ids_cap = 1 << 16;
    t->cache_ids = bb_alloc(BB_MEM_DATA, t->cache_ids_cap * sizeof *t->cache_ids);
    size_t body_len;
    char *body = bb_tokenizer_serialize(t, &body_len);
    bb_free(body);
}

void bb_tokenizer_free(bb_tokenizer *t) {
    bb_free(t->merges); bb_free(t->piece_off); bb_free(t->piece_len); bb_free(t->pieces);
    bb_u64map_free(&t->merge_rank);
    bb_strmap_free(&t->cache);
    bb_free(t->cache_ids);
    memset(t, 0, sizeof *t);
}

/* ---- serialization ---------------------------------------------------------------- */

/* Writes the body (everything above the sha256 line) and sets the identity from it.
 * Returned buffer = body + "sha256 <hex>\n". */
char *bb_tokenizer_serialize(const bb_tokenizer *t, size_t *len) {
    size_t cap = 256 + (size_t)t->n_merges * 24, n = 0;
    char *buf = bb_alloc(BB_MEM_DATA, cap);
    n += (size_t)snprintf(buf + n, cap - n,
                          "bitbench-bpe 1\nvocab_size %d\nspecials %s %s %s %s\n"
                          "pretokenizer words-v1\nmerges %d\n",
                          t->vocab_size, special_names[0], special_names[1], special_names[2],
                          special_names[3], t->n_merges);
    for (int i = 0; i < t->n_merges; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%u %u\n", t->merges[i].left, t->merges[i].right);
    bb_tokenizer *mut = (bb_tokenizer *)t;  /* identity is derived state, set here once */
    bb_sha256_buffer(buf, n, mut->identity);
    bb_sha256_hex(mut->identity, mut->identity_hex);
    n += (size_t)snprintf(buf + n, cap - n, "sha256 %s\n", t->identity_hex);
    *len = n;
    return buf;
}

int bb_tokenizer_save(const bb_tokenizer *t, const char *path, char *err, size_t err_len) {
    size_t len;
    char *buf = bb_tokenizer_serialize(t, &len);
    bb_atomic_file af;
    int rc = -1;
    if (!bb_atomic_open(&af, path)) {
        snprintf(err, err_len, "cannot write tokenizer file '%s': %s", path, strerror(errno));
    } else if (fwrite(buf, 1, len, af.f) != len) {
        snprintf(err, err_len, "cannot write tokenizer file '%s': %s", path, strerror(errno));
        bb_atomic_abort(&af);
    } else if (bb_atomic_commit(&af) != 0) {
        snprintf(err, err_len, "cannot write tokenizer file '%s': %s", path, strerror(errno));
    } else {
        rc = 0;
    }
    bb_free(buf);
    return rc;
}

/* Reads one line starting at *pos into line (NUL-terminated, without '\n'). */
static int next_line(const char *data, size_t len, size_t *pos, char *line, size_t cap) {
    if (*pos >= len) return -1;
    const char *start = data + *pos, *nl = memchr(start, '\n', len - *pos);
    if (!nl) return -1;  /* every line, the last included, ends with '\n' */
    size_t n = (size_t)(nl - start);
    if (n >= cap) return -1;
    memcpy(line, start, n);
    line[n] = '\0';
    *pos += n + 1;
    return 0;
}

int bb_tokenizer_parse(bb_tokenizer *t, const char *data, size_t len, char *err, size_t err_len) {
    char line[512], expect[512];
    size_t pos = 0;
    int vocab = 0, n_merges = 0, lineno = 0;
#define FAIL(...) do { snprintf(err, err_len, __VA_ARGS__); goto fail; } while (0)
    bb_bpe_merge *merges = NULL;
    if (len == 0) FAIL("file is empty");
    if (next_line(data, len, &pos, line, sizeof line) || strcmp(line, "bitbench-bpe 1") != 0)
        FAIL("not a bitbench tokenizer file (first line must be 'bitbench-bpe 1')");
    lineno = 1;
    /* The checksum comes first: any damage is reported as corruption, not as whatever
     * structural error it happens to cause. The last line is "sha256 <64 hex>\n". */
    {
        const char *tail = "sha256 ";
        if (len < 72 || data[len - 1] != '\n' || memcmp(data + len - 72, tail, 7) != 0 ||
            (len > 72 && data[len - 73] != '\n'))
            FAIL("missing 'sha256' checksum line at the end (truncated?)");
        char hex[65], actual[65];
        uint8_t digest[32];
        memcpy(hex, data + len - 65, 64);
        hex[64] = '\0';
        bb_sha256_buffer(data, len - 72, digest);
        bb_sha256_hex(digest, actual);
        if (strcmp(actual, hex) != 0)
            FAIL("checksum mismatch (file says %.12s..., content hashes to %.12s...): the file is corrupt",
                 hex, actual);
        len -= 72;  /* parse the body only */
    }
    if (next_line(data, len, &pos, line, sizeof line) || sscanf(line, "vocab_size %d", &vocab) != 1)
        FAIL("line 2: expected 'vocab_size N'");
    if (vocab < BB_TOK_FIRST_MERGE || vocab > BB_TOK_MAX_VOCAB)
        FAIL("line 2: vocab_size %d is outside [%d, %d]", vocab, BB_TOK_FIRST_MERGE, BB_TOK_MAX_VOCAB);
    snprintf(expect, sizeof expect, "specials %s %s %s %s", special_names[0], special_names[1],
             special_names[2], special_names[3]);
    if (next_line(data, len, &pos, line, sizeof line) || strcmp(line, expect) != 0)
        FAIL("line 3: expected '%s'", expect);
    if (next_line(data, len, &pos, line, sizeof line) || strcmp(line, "pretokenizer words-v1") != 0)
        FAIL("line 4: unknown pre-tokenizer (expected 'pretokenizer words-v1')");
    if (next_line(data, len, &pos, line, sizeof line) || sscanf(line, "merges %d", &n_merges) != 1 ||
        n_merges != vocab - BB_TOK_FIRST_MERGE)
        FAIL("line 5: expected 'merges %d'", vocab - BB_TOK_FIRST_MERGE);
    lineno = 5;
    merges = bb_alloc(BB_MEM_DATA, (size_t)(n_merges + 1) * sizeof *merges);
    for (int i = 0; i < n_merges; i++) {
        unsigned l, r;
        char tail;
        lineno++;
        if (next_line(data, len, &pos, line, sizeof line))
            FAIL("line %d: file ends after %d of %d merges (truncated?)", lineno, i, n_merges);
        if (sscanf(line, "%u %u%c", &l, &r, &tail) != 2)
            FAIL("line %d: expected two token ids, got '%.40s'", lineno, line);
        unsigned limit = BB_TOK_FIRST_MERGE + (unsigned)i;
        if (l < BB_TOK_BYTE0 || r < BB_TOK_BYTE0 || l >= limit || r >= limit)
            FAIL("line %d: merge %d uses id %u, which is a special token or not yet defined",
                 lineno, i, l >= limit || l < BB_TOK_BYTE0 ? l : r);
        merges[i].left = l;
        merges[i].right = r;
    }
    if (pos != len) FAIL("line %d: unexpected data after the merges", lineno + 1);
    bb_tokenizer_init(t, merges, n_merges);
    bb_free(merges);
    return 0;
fail:
    bb_free(merges);
    return -1;
#undef FAIL
}

int bb_tokenizer_load(bb_tokenizer *t, const char *path, char *err, size_t err_len) {
    char *data;
    size_t len;
    if (bb_read_file(path, &data, &len) != 0) {
        snprintf(err, err_len, "cannot read tokenizer file '%s': %s", path, strerror(errno));
        return -1;
    }
    char inner[400];
    int rc = bb_tokenizer_parse(t, data, len, inner, sizeof inner);
    if (rc != 0) snprintf(err, err_len, "tokenizer file '%s': %s", path, inner);
    bb_free(data);
    return rc;
}

/* ---- encode / decode -------------------------------------------------------------- */

/* BPE on one chunk: repeatedly merge the adjacent pair with the lowest merge rank.
 * sym has room for len ids; returns the number of ids left. */
static size_t encode_chunk(const bb_tokenizer *t, const uint8_t *c, size_t len, uint32_t *sym) {
    size_t n = len;
    for (size_t i = 0; i < len; i++) sym[i] = BB_TOK_BYTE0 + c[i];
    while (n > 1) {
        uint32_t best = UINT32_MAX;
        for (size_t i = 0; i + 1 < n; i++) {
            uint32_t *r = bb_u64map_get(&t->merge_rank, pair_key(sym[i], sym[i + 1]));
            if (r && *r < best) best = *r;
        }
        if (best == UINT32_MAX) break;
        uint32_t l = t->merges[best].left, r = t->merges[best].right;
        uint32_t z = BB_TOK_FIRST_MERGE + best;
        size_t out = 0;
        for (size_t i = 0; i < n; i++) {
            if (i + 1 < n && sym[i] == l && sym[i + 1] == r) { sym[out++] = z; i++; }
            else sym[out++] = sym[i];
        }
        n = out;
    }
    return n;
}

static void ensure_ids(uint32_t **ids, size_t *cap, size_t need) {
    if (need <= *cap) return;
    size_t c = *cap ? *cap : 1024;
    while (c < need) c *= 2;
    *ids = *ids ? bb_realloc(*ids, c * sizeof **ids) : bb_alloc(BB_MEM_DATA, c * sizeof **ids);
    *cap = c;
}

size_t bb_tokenizer_encode(bb_tokenizer *t, const uint8_t *text, size_t len, uint32_t **ids,
                           size_t *n, size_t *cap) {
    size_t start_n = *n;
    uint32_t sym[BB_PRETOK_MAX_CHUNK];
    for (size_t pos = 0; pos < len;) {
        size_t end = bb_pretok_next(text, len, pos), clen = end - pos;
        size_t e = bb_strmap_find(&t->cache, text + pos, clen);
        const uint32_t *chunk_ids;
        size_t k;
        if (e != SIZE_MAX) {
            chunk_ids = t->cache_ids + t->cache.vals[e] + 1;
            k = t->cache_ids[t->cache.vals[e]];
        } else {
            k = encode_chunk(t, text + pos, clen, sym);
            chunk_ids = sym;
            if (t->cache.len < ENCODE_CACHE_MAX_ENTRIES) {
                ensure_ids(&t->cache_ids, &t->cache_ids_cap, t->cache_ids_len + k + 1);
                size_t off = t->cache_ids_len;
                t->cache_ids[off] = (uint32_t)k;
                memcpy(t->cache_ids + off + 1, sym, k * sizeof *sym);
                t->cache_ids_len += k + 1;
                bb_strmap_upsert(&t->cache, text + pos, clen, (uint32_t)off);
            }
        }
        ensure_ids(ids, cap, *n + k);
        memcpy(*ids + *n, chunk_ids, k * sizeof *chunk_ids);
        *n += k;
        pos = end;
    }
    return *n - start_n;
}

size_t bb_tokenizer_decode(const bb_tokenizer *t, const uint32_t *ids, size_t n, char *out,
                           size_t out_cap, bool skip_special) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t id = ids[i];
        /* Callers validate user-supplied ids; an out-of-range id here is a bug. */
        BB_CHECK(id < (uint32_t)t->vocab_size);
        if (skip_special && id < BB_TOK_N_SPECIAL) continue;
        uint32_t l = t->piece_len[id];
        if (total + l < out_cap) memcpy(out + total, t->pieces + t->piece_off[id], l);
        total += l;
    }
    if (total < out_cap) out[total] = '\0';
    return total;
}
