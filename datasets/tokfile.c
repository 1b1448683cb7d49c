/* tokfile.c — see tokfile.h. */
#include "tokfile.h"
#include "../common/check.h"
#include "../common/io.h"
#include "../common/sha256.h"
#include "../engine/alloc.h"
#include "corpus.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define HEADER_BYTES 128
static const char MAGIC[8] = {'B', 'B', 'T', 'O', 'K', 'E', 'N', 'S'};
enum { VERSION = 1 };

const char *bb_cache_status_name(bb_cache_status s) {
    static const char *const names[] = {[BB_CACHE_HIT] = "hit", [BB_CACHE_MISSING] = "missing",
                                        [BB_CACHE_STALE] = "stale", [BB_CACHE_CORRUPT] = "corrupt"};
    return names[s];
}

static void put_u32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> 8 * i); }
static void put_u64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> 8 * i); }
static uint32_t get_u32(const uint8_t *p) { uint32_t v = 0; for (int i = 3; i >= 0; i--) v = v << 8 | p[i]; return v; }
static uint64_t get_u64(const uint8_t *p) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = v << 8 | p[i]; return v; }

static uint32_t id_bytes_for(int vocab) { return vocab <= 65536 ? 2 : 4; }

/* Packs ids to little-endian id_bytes-wide integers. */
static uint8_t *pack_ids(const uint32_t *ids, size_t n, uint32_t width) {
    uint8_t *buf = bb_alloc(BB_MEM_DATA, n * width + 1);
    for (size_t i = 0; i < n; i++)
        for (uint32_t b = 0; b < width; b++) buf[i * width + b] = (uint8_t)(ids[i] >> 8 * b);
    return buf;
}

int bb_tokens_write(const char *path, const bb_tokenizer *t, const uint8_t source_sha[32],
                    const uint32_t *ids, size_t n, char *err, size_t err_len) {
    uint32_t width = id_bytes_for(t->vocab_size);
    uint8_t header[HEADER_BYTES] = {0}, *payload = pack_ids(ids, n, width);
    memcpy(header, MAGIC, 8);
    put_u32(header + 8, VERSION);
    put_u32(header + 12, (uint32_t)t->vocab_size);
    put_u32(header + 16, width);
    put_u64(header + 24, n);
    memcpy(header + 32, t->identity, 32);
    memcpy(header + 64, source_sha, 32);
    bb_sha256_buffer(payload, n * width, header + 96);
    bb_atomic_file af;
    int rc = -1;
    if (!bb_atomic_open(&af, path))
        snprintf(err, err_len, "cannot write token file '%s': %s", path, strerror(errno));
    else if (fwrite(header, 1, HEADER_BYTES, af.f) != HEADER_BYTES ||
             fwrite(payload, 1, n * width, af.f) != n * width) {
        snprintf(err, err_len, "cannot write token file '%s': %s", path, strerror(errno));
        bb_atomic_abort(&af);
    } else if (bb_atomic_commit(&af) != 0)
        snprintf(err, err_len, "cannot write token file '%s': %s", path, strerror(errno));
    else
        rc = 0;
    bb_free(payload);
    return rc;
}

bb_cache_status bb_tokens_read(const char *path, const uint8_t *expect_tok,
                               const uint8_t *expect_src, int expect_vocab, bb_tokens *out,
                               char *why, size_t why_len) {
    char *data;
    size_t len;
    memset(out, 0, sizeof *out);
    if (bb_read_file(path, &data, &len) != 0) {
        snprintf(why, why_len, "cannot read '%s': %s", path, strerror(errno));
        return errno == ENOENT ? BB_CACHE_MISSING : BB_CACHE_CORRUPT;
    }
    const uint8_t *h = (const uint8_t *)data;
    bb_cache_status st = BB_CACHE_CORRUPT;
#define BAD(status, ...) do { st = status; snprintf(why, why_len, __VA_ARGS__); goto done; } while (0)
    if (len < HEADER_BYTES || memcmp(h, MAGIC, 8) != 0)
        BAD(BB_CACHE_CORRUPT, "'%s' is not a bitbench token file (bad magic or too short)", path);
    if (get_u32(h + 8) != VERSION)
        BAD(BB_CACHE_STALE, "'%s' has format version %u, expected %d", path, get_u32(h + 8), VERSION);
    uint32_t vocab = get_u32(h + 12), width = get_u32(h + 16);
    uint64_t count = get_u64(h + 24);
    if (width != id_bytes_for((int)vocab) || vocab == 0 || vocab > BB_TOK_MAX_VOCAB)
        BAD(BB_CACHE_CORRUPT, "'%s' has an invalid header (vocab %u, %u bytes per id)", path, vocab, width);
    if (count > (len - HEADER_BYTES) / width || len != HEADER_BYTES + count * width)
        BAD(BB_CACHE_CORRUPT, "'%s' is %zu bytes, header promises %llu ids (truncated?)", path, len,
            (unsigned long long)count);
    if (expect_tok && memcmp(h + 32, expect_tok, 32) != 0)
        BAD(BB_CACHE_STALE, "'%s' was made with a different tokenizer", path);
    if (expect_vocab && (int)vocab != expect_vocab)
        BAD(BB_CACHE_STALE, "'%s' has vocab %u, expected %d", path, vocab, expect_vocab);
    if (expect_src && memcmp(h + 64, expect_src, 32) != 0)
        BAD(BB_CACHE_STALE, "'%s' was made from a different version of its source text", path);
    uint8_t digest[32];
    bb_sha256_buffer(h + HEADER_BYTES, count * width, digest);
    if (memcmp(digest, h + 96, 32) != 0)
        BAD(BB_CACHE_CORRUPT, "'%s' fails its payload checksum", path);
    out->n = count;
    out->vocab_size = (int)vocab;
    out->ids = bb_alloc(BB_MEM_DATA, (count + 1) * sizeof *out->ids);
    for (uint64_t i = 0; i < count; i++) {
        uint32_t v = 0;
        for (uint32_t b = 0; b < width; b++) v |= (uint32_t)h[HEADER_BYTES + i * width + b] << 8 * b;
        if (v >= vocab) {
            bb_tokens_free(out);
            BAD(BB_CACHE_CORRUPT, "'%s' holds id %u at position %llu, outside vocab %u", path, v,
                (unsigned long long)i, vocab);
        }
        out->ids[i] = v;
    }
    st = BB_CACHE_HIT;
done:
    bb_free(data);
    return st;
#undef BAD
}

void bb_tokens_encode_lines(bb_tokenizer *t, const char *text, size_t len, bb_tokens *out) {
    size_t cap = 0;
    memset(out, 0, sizeof *out);
    out->vocab_size = t->vocab_size;
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        bb_tokenizer_encode(t, (const uint8_t *)text + pos, end - pos, &out->ids, &out->n, &cap);
        if (out->n + 1 > cap) {
            cap = cap ? cap * 2 : 1024;
            out->ids = out->ids ? bb_realloc(out->ids, cap * sizeof *out->ids)
                                : bb_alloc(BB_MEM_DATA, cap * sizeof *out->ids);
        }
        out->ids[out->n++] = BB_TOK_EOS;
        pos = end + 1;
    }
}

void bb_tokens_cache_path(const bb_tokenizer *t, const char *tag, char *out, size_t cap) {
    char name[256];
    snprintf(name, sizeof name, "tokens/%s.%.16s.bin", tag, t->identity_hex);
    for (char *p = name + 7; *p; p++)
        if (*p == '/') *p = '_';
    bb_path_join(out, cap, bb_cache_dir(), name);
}

bb_cache_status bb_tokens_cached(bb_tokenizer *t, const char *text_path, const char *tag,
                                 bb_tokens *out, bool quiet) {
    char *text, cache_path[4096], dir[4096], why[600], err[600];
    size_t len;
    if (bb_read_file(text_path, &text, &len) != 0)
        bb_user_error("cannot read %s: %s", text_path, strerror(errno));
    uint8_t src_sha[32];
    bb_sha256_buffer(text, len, src_sha);
    bb_tokens_cache_path(t, tag, cache_path, sizeof cache_path);
    bb_cache_status st = bb_tokens_read(cache_path, t->identity, src_sha, t->vocab_size, out, why,
                                        sizeof why);
    if (st == BB_CACHE_HIT) { bb_free(text); return st; }
    if (!quiet) {
        if (st == BB_CACHE_MISSING) fprintf(stderr, "token cache: building %s\n", cache_path);
        else fprintf(stderr, "token cache: %s (%s); rebuilding\n", why, bb_cache_status_name(st));
    }
    bb_tokens_encode_lines(t, text, len, out);
    bb_free(text);
    bb_path_join(dir, sizeof dir, bb_cache_dir(), "tokens");
    if (bb_mkdir_p(dir) != 0)
        bb_user_error("cannot create cache directory %s: %s", dir, strerror(errno));
    if (bb_tokens_write(cache_path, t, src_sha, out->ids, out->n, err, sizeof err) != 0)
        bb_user_error("%s", err);
    return st;
}

void bb_tokens_free(bb_tokens *tk) {
    bb_free(tk->ids);
    memset(tk, 0, sizeof *tk);
}
