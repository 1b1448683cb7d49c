/* test_tokenizer.c — BPE tokenizer: pre-tokenizer invariants, incremental trainer equal
 * to the scalar reference, determinism, round trip on every split (Greek included) and
 * on arbitrary bytes, and clear errors for corrupt tokenizer files. */
#include "../common/io.h"
#include "../common/sha256.h"
#include "../datasets/bpe.h"
#include "../datasets/corpus.h"
#include "../datasets/pretok.h"
#include "../datasets/tokenizer.h"
#include "../engine/alloc.h"
#include "test.h"

static uint64_t rng_state = 0x853c49e6748fea9bull;
static uint32_t rng_next(void) {  /* xorshift64*: fixed seed, deterministic */
    rng_state ^= rng_state >> 12; rng_state ^= rng_state << 25; rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}

static void test_pretok_partitions(void) {
    uint8_t buf[4096];
    for (int round = 0; round < 200; round++) {
        size_t len = rng_next() % sizeof buf;
        for (size_t i = 0; i < len; i++) {
            uint32_t r = rng_next() % 8;  /* mix of spaces, ASCII, Greek-like and junk bytes */
            buf[i] = r == 0 ? ' ' : r < 4 ? (uint8_t)('a' + rng_next() % 26) : r == 4 ? 0xCE
                   : r == 5 ? (uint8_t)(0x80 + rng_next() % 64) : (uint8_t)rng_next();
        }
        size_t pos = 0, chunks = 0;
        while (pos < len) {
            size_t end = bb_pretok_next(buf, len, pos);
            CHECK(end > pos && end <= len && end - pos <= BB_PRETOK_MAX_CHUNK,
                  "round %d: chunk [%zu, %zu) of %zu bytes is empty, too long or out of range", round, pos,
                  end, len);
            if (end <= pos) break;
            pos = end;
            chunks++;
        }
    }
    /* The GPT-2 style split on a concrete line. */
    const char *s = "And God said,  Let 12 be   \xce\x9b\xcf\x8c\xce\xb3\xce\xbf\xcf\x82\xc2\xb7 x";
    const char *want[] = {"And", " God", " said", ",", " ", " Let", " 12", " be", "  ",
                          " \xce\x9b\xcf\x8c\xce\xb3\xce\xbf\xcf\x82", "\xc2\xb7", " x"};
    size_t len = strlen(s), pos = 0;
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        size_t end = bb_pretok_next((const uint8_t *)s, len, pos);
        CHECK(end - pos == strlen(want[k]) && memcmp(s + pos, want[k], end - pos) == 0,
              "chunk %zu is '%.*s', expected '%s'", k, (int)(end - pos), s + pos, want[k]);
        pos = end;
    }
    CHECK(pos == len, "chunks stop at %zu of %zu", pos, len);
}

typedef struct {
    char *texts[3];
    size_t lens[3];
} train_text;

static void load_train_text(train_text *tt) {
    char err[600];
    for (int i = 0; i < bb_tokenizer_n_train_splits; i++)
        if (bb_corpus_read(bb_tokenizer_train_splits[i], &tt->texts[i], &tt->lens[i], err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            exit(1);
        }
}

static void free_train_text(train_text *tt) {
    for (int i = 0; i < 3; i++) bb_free(tt->texts[i]);
}

static void test_train_matches_reference(void) {
    train_text tt;
    load_train_text(&tt);
    bb_tokenizer fast, ref;
    bb_tokenizer_train(&fast, (const char *const *)tt.texts, tt.lens, 3, BB_TOK_DEFAULT_VOCAB, false);
    bb_tokenizer_train_ref(&ref, (const char *const *)tt.texts, tt.lens, 3, BB_TOK_DEFAULT_VOCAB);
    CHECK(fast.n_merges == ref.n_merges, "incremental trainer made %d merges, reference %d", fast.n_merges,
          ref.n_merges);
    int first_diff = -1;
    for (int i = 0; i < fast.n_merges && i < ref.n_merges; i++)
        if (fast.merges[i].left != ref.merges[i].left || fast.merges[i].right != ref.merges[i].right) {
            first_diff = i;
            break;
        }
    CHECK(first_diff < 0, "merge %d differs: incremental (%u,%u), reference (%u,%u)", first_diff,
          fast.merges[first_diff < 0 ? 0 : first_diff].left, fast.merges[first_diff < 0 ? 0 : first_diff].right,
          ref.merges[first_diff < 0 ? 0 : first_diff].left, ref.merges[first_diff < 0 ? 0 : first_diff].right);
    CHECK(fast.vocab_size == BB_TOK_DEFAULT_VOCAB, "vocab %d, expected %d", fast.vocab_size, BB_TOK_DEFAULT_VOCAB);
    bb_tokenizer_free(&fast);
    bb_tokenizer_free(&ref);
    free_train_text(&tt);
}

static void test_train_deterministic(void) {
    train_text tt;
    load_train_text(&tt);
    bb_tokenizer a, b;
    size_t la, lb;
    bb_tokenizer_train(&a, (const char *const *)tt.texts, tt.lens, 3, BB_TOK_DEFAULT_VOCAB, false);
    bb_tokenizer_train(&b, (const char *const *)tt.texts, tt.lens, 3, BB_TOK_DEFAULT_VOCAB, false);
    char *sa = bb_tokenizer_serialize(&a, &la), *sb = bb_tokenizer_serialize(&b, &lb);
    CHECK(la == lb && memcmp(sa, sb, la) == 0, "two trainings serialize differently (%zu vs %zu bytes)", la, lb);
    /* Save, load, save again: the file is a fixed point. */
    char err[700];
    const char *path = "test_tokenizer_roundtrip.tok";
    CHECK(bb_tokenizer_save(&a, path, err, sizeof err) == 0, "save: %s", err);
    bb_tokenizer c;
    CHECK(bb_tokenizer_load(&c, path, err, sizeof err) == 0, "load: %s", err);
    size_t lc;
    char *sc = bb_tokenizer_serialize(&c, &lc);
    CHECK(lc == la && memcmp(sa, sc, la) == 0, "save/load/save changes the file");
    CHECK(strcmp(a.identity_hex, c.identity_hex) == 0, "identity changes across save/load");
    remove(path);
    bb_free(sa); bb_free(sb); bb_free(sc);
    bb_tokenizer_free(&a); bb_tokenizer_free(&b); bb_tokenizer_free(&c);
    free_train_text(&tt);
}

static bb_tokenizer *shared_tokenizer(void) {
    static bb_tokenizer t;
    static int ready;
    if (!ready) {
        train_text tt;
        load_train_text(&tt);
        bb_tokenizer_train(&t, (const char *const *)tt.texts, tt.lens, 3, BB_TOK_DEFAULT_VOCAB, false);
        free_train_text(&tt);
        ready = 1;
    }
    return &t;
}

static int roundtrip(bb_tokenizer *t, const uint8_t *s, size_t len, size_t *n_ids) {
    uint32_t *ids = NULL;
    size_t n = 0, cap = 0;
    bb_tokenizer_encode(t, s, len, &ids, &n, &cap);
    char *out = bb_alloc(BB_MEM_DATA, len * 8 + 64);
    size_t got = bb_tokenizer_decode(t, ids, n, out, len * 8 + 64, false);
    int ok = got == len && memcmp(out, s, len) == 0;
    *n_ids = n;
    bb_free(out);
    bb_free(ids);
    return ok;
}

static void test_roundtrip_all_splits(void) {
    bb_tokenizer *t = shared_tokenizer();
    for (int f = 0; f < bb_corpus_n_files; f++) {
        char *text, err[600];
        size_t len, lines = 0, bad = 0, ids = 0;
        if (bb_corpus_read(bb_corpus_files[f].name, &text, &len, err, sizeof err) != 0) {
            CHECK(0, "%s", err);
            continue;
        }
        for (size_t pos = 0; pos < len; lines++) {
            const char *nl = memchr(text + pos, '\n', len - pos);
            size_t end = nl ? (size_t)(nl - text) : len, n;
            if (!roundtrip(t, (const uint8_t *)text + pos, end - pos, &n)) {
                if (!bad) fprintf(stderr, "  %s line %zu does not round-trip: '%.*s'\n", bb_corpus_files[f].name,
                                  lines + 1, (int)(end - pos), text + pos);
                bad++;
            }
            CHECK(end == pos || n > 0, "%s line %zu: no ids for a non-empty line", bb_corpus_files[f].name, lines + 1);
            ids += n;
            pos = end + 1;
        }
        CHECK(bad == 0, "%s: %zu of %zu lines fail the round trip", bb_corpus_files[f].name, bad, lines);
        CHECK(ids < len, "%s: %zu ids for %zu bytes: BPE compressed nothing", bb_corpus_files[f].name, ids, len);
        bb_free(text);
    }
}

static void test_roundtrip_arbitrary_bytes(void) {
    bb_tokenizer *t = shared_tokenizer();
    uint8_t buf[2048];
    for (int round = 0; round < 300; round++) {
        size_t len = rng_next() % sizeof buf, n;
        for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)rng_next();
        CHECK(roundtrip(t, buf, len, &n), "random buffer %d (%zu bytes) does not round-trip", round, len);
    }
    const char *tricky = "   leading and trailing   \n\n\t tabs \xff\xfe invalid \xce truncated UTF-8 \xce";
    size_t n;
    CHECK(roundtrip(t, (const uint8_t *)tricky, strlen(tricky), &n), "tricky string does not round-trip");
    CHECK(roundtrip(t, (const uint8_t *)"", 0, &n) && n == 0, "empty string gives %zu ids", n);
}

/* Each corruption must be rejected with a message, never crash or load. */
static void test_corrupt_files_rejected(void) {
    bb_tokenizer *t = shared_tokenizer();
    size_t len;
    char *good = bb_tokenizer_serialize(t, &len), err[400];
    bb_tokenizer out;
    CHECK(bb_tokenizer_parse(&out, good, len, err, sizeof err) == 0, "the good file fails to parse: %s", err);
    bb_tokenizer_free(&out);
    char *bad = bb_alloc(BB_MEM_DATA, len + 64);
    struct { const char *what; size_t cut; size_t flip; const char *expect; } cases[] = {
        {"empty", 0, SIZE_MAX, "empty"},
        {"header only", 20, SIZE_MAX, "truncated"},
        {"truncated mid-merges", len / 2, SIZE_MAX, "truncated"},
        {"checksum line cut", len - 30, SIZE_MAX, "checksum"},
        {"one merge digit changed", len, 200, "checksum"},
        {"magic changed", len, 0, "not a bitbench tokenizer"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        memcpy(bad, good, len);
        size_t blen = cases[k].cut;
        if (cases[k].flip != SIZE_MAX) {
            size_t at = cases[k].flip;
            while (bad[at] < '0' || bad[at] > '9') at++;  /* change a digit, keep the shape */
            bad[at] = bad[at] == '9' ? '8' : (char)(bad[at] + 1);
            if (cases[k].flip == 0) bad[0] = 'X';
        }
        err[0] = '\0';
        int rc = bb_tokenizer_parse(&out, bad, blen, err, sizeof err);
        CHECK(rc != 0, "%s: corrupt file accepted", cases[k].what);
        if (rc == 0) bb_tokenizer_free(&out);
        CHECK(strstr(err, cases[k].expect) != NULL, "%s: message '%s' lacks '%s'", cases[k].what, err,
              cases[k].expect);
    }
    /* A merge that refers to a token not yet defined, with a valid checksum. */
    const char *forward = "bitbench-bpe 1\nvocab_size 261\nspecials <|pad|> <|bos|> <|eos|> <|sep|>\n"
                          "pretokenizer words-v1\nmerges 1\n300 5\n";
    uint8_t d[32];
    char hex[65];
    bb_sha256_buffer(forward, strlen(forward), d);
    bb_sha256_hex(d, hex);
    snprintf(bad, len + 64, "%ssha256 %s\n", forward, hex);
    CHECK(bb_tokenizer_parse(&out, bad, strlen(bad), err, sizeof err) != 0 && strstr(err, "not yet defined"),
          "forward reference accepted or unclear message: '%s'", err);
    CHECK(bb_tokenizer_load(&out, "/nonexistent/tok.tok", err, sizeof err) != 0 && strstr(err, "cannot read"),
          "missing file: '%s'", err);
    bb_free(bad);
    bb_free(good);
}

static const bb_test_case cases[] = {
    {"pretok_partitions", test_pretok_partitions},
    {"train_matches_reference", test_train_matches_reference},
    {"train_deterministic", test_train_deterministic},
    {"roundtrip_all_splits", test_roundtrip_all_splits},
    {"roundtrip_arbitrary_bytes", test_roundtrip_arbitrary_bytes},
    {"corrupt_files_rejected", test_corrupt_files_rejected},
};
BB_TEST_MAIN(cases)
