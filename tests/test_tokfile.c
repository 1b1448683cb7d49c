/* test_tokfile.c — binary token files and cache invalidation: a cache is used only
 * when it matches the tokenizer and the source text; stale, truncated or corrupted
 * caches are detected and rebuilt, never silently used. */
#include "../common/io.h"
#include "../common/sha256.h"
#include "../datasets/bpe.h"
#include "../datasets/tokfile.h"
#include "../engine/alloc.h"
#include "test.h"
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *TEXT1 = "In the beginning God created the heaven and the earth.\n"
                           "\xce\x95\xce\xbd \xe1\xbc\x80\xcf\x81\xcf\x87\xe1\xbf\x87 \xe1\xbc\xa6\xce\xbd \xe1\xbd\x81 \xce\xbb\xcf\x8c\xce\xb3\xce\xbf\xcf\x82.\n"
                           "And the earth was without form, and void.\n";

static void tiny_tokenizer(bb_tokenizer *t, int vocab) {
    const char *texts[] = {TEXT1};
    size_t lens[] = {strlen(TEXT1)};
    bb_tokenizer_train(t, texts, lens, 1, vocab, false);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(1); }
    fputs(text, f);
    fclose(f);
}

static void flip_byte(const char *path, long offset) {
    FILE *f = fopen(path, "r+b");
    if (!f) { perror(path); exit(1); }
    fseek(f, offset, offset < 0 ? SEEK_END : SEEK_SET);
    int c = fgetc(f);
    fseek(f, -1, SEEK_CUR);
    fputc(c ^ 0x01, f);
    fclose(f);
}

static void truncate_file(const char *path, long drop) {
    struct stat st;
    stat(path, &st);
    if (truncate(path, st.st_size - drop) != 0) { perror(path); exit(1); }
}

static void test_write_read_roundtrip(void) {
    bb_tokenizer t;
    tiny_tokenizer(&t, 300);
    bb_tokens tk, back;
    bb_tokens_encode_lines(&t, TEXT1, strlen(TEXT1), &tk);
    CHECK(tk.n > 3 && tk.ids[tk.n - 1] == BB_TOK_EOS, "encoded stream of %zu ids does not end with EOS", tk.n);
    uint8_t src[32];
    char err[700], why[700];
    bb_sha256_buffer(TEXT1, strlen(TEXT1), src);
    CHECK(bb_tokens_write("tokfile_rt.bin", &t, src, tk.ids, tk.n, err, sizeof err) == 0, "write: %s", err);
    bb_cache_status st = bb_tokens_read("tokfile_rt.bin", t.identity, src, t.vocab_size, &back, why, sizeof why);
    CHECK(st == BB_CACHE_HIT, "read back: %s (%s)", bb_cache_status_name(st), why);
    CHECK(back.n == tk.n && memcmp(back.ids, tk.ids, tk.n * sizeof *tk.ids) == 0,
          "ids differ after write/read (%zu vs %zu ids, first %u vs %u)", back.n, tk.n, back.ids ? back.ids[0] : 0,
          tk.ids[0]);
    /* Decoding the stream with EOS as newline gives the text back. */
    char out[1024];
    size_t len = 0;
    for (size_t i = 0; i < back.n; i++) {
        if (back.ids[i] == BB_TOK_EOS) { out[len++] = '\n'; continue; }
        len += bb_tokenizer_decode(&t, back.ids + i, 1, out + len, sizeof out - len, false);
    }
    CHECK(len == strlen(TEXT1) && memcmp(out, TEXT1, len) == 0, "stream decodes to '%.*s'", (int)len, out);
    remove("tokfile_rt.bin");
    bb_tokens_free(&tk);
    bb_tokens_free(&back);
    bb_tokenizer_free(&t);
}

static bb_cache_status cached(bb_tokenizer *t, const char *text_path, bb_tokens *out) {
    return bb_tokens_cached(t, text_path, "unit", out, true);
}

static void test_cache_invalidation(void) {
    char dir[] = "/tmp/bitbench-cache-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp failed");
    setenv("BITBENCH_CACHE", dir, 1);
    char text_path[256], cache_path[4096];
    snprintf(text_path, sizeof text_path, "%s/text.txt", dir);
    write_text(text_path, TEXT1);
    bb_tokenizer t;
    tiny_tokenizer(&t, 300);
    bb_tokens_cache_path(&t, "unit", cache_path, sizeof cache_path);
    bb_tokens a, b;

    CHECK(cached(&t, text_path, &a) == BB_CACHE_MISSING, "first use should build the cache");
    CHECK(bb_file_exists(cache_path), "cache file %s not written", cache_path);
    CHECK(cached(&t, text_path, &b) == BB_CACHE_HIT, "second use should hit");
    CHECK(a.n == b.n && memcmp(a.ids, b.ids, a.n * sizeof *a.ids) == 0, "cache hit returns different ids");
    bb_tokens_free(&b);

    flip_byte(cache_path, -3);
    CHECK(cached(&t, text_path, &b) == BB_CACHE_CORRUPT, "flipped payload byte not detected");
    bb_tokens_free(&b);
    CHECK(cached(&t, text_path, &b) == BB_CACHE_HIT, "cache not rebuilt after corruption");
    CHECK(b.n == a.n && memcmp(a.ids, b.ids, a.n * sizeof *a.ids) == 0, "rebuilt cache differs");
    bb_tokens_free(&b);

    truncate_file(cache_path, 5);
    CHECK(cached(&t, text_path, &b) == BB_CACHE_CORRUPT, "truncated cache not detected");
    bb_tokens_free(&b);
    flip_byte(cache_path, 0);  /* magic */
    CHECK(cached(&t, text_path, &b) == BB_CACHE_CORRUPT, "bad magic not detected");
    bb_tokens_free(&b);
    flip_byte(cache_path, 8);  /* version */
    CHECK(cached(&t, text_path, &b) == BB_CACHE_STALE, "old format version not detected");
    bb_tokens_free(&b);
    flip_byte(cache_path, 40);  /* tokenizer identity */
    CHECK(cached(&t, text_path, &b) == BB_CACHE_STALE, "other tokenizer's cache not detected");
    bb_tokens_free(&b);

    /* The source text changes: the cache is stale and the new ids reflect the new text. */
    write_text(text_path, "A different text now.\n");
    CHECK(cached(&t, text_path, &b) == BB_CACHE_STALE, "edited source text not detected");
    CHECK(b.n != a.n || memcmp(a.ids, b.ids, a.n * sizeof *a.ids) != 0, "stale ids returned");
    bb_tokens_free(&b);
    CHECK(cached(&t, text_path, &b) == BB_CACHE_HIT, "cache not rebuilt after the text changed");
    bb_tokens_free(&b);

    /* Another tokenizer gets its own cache file and never reads this one. */
    bb_tokenizer t2;
    tiny_tokenizer(&t2, 262);
    char other_path[4096];
    bb_tokens_cache_path(&t2, "unit", other_path, sizeof other_path);
    CHECK(strcmp(other_path, cache_path) != 0, "two tokenizers share cache path %s", cache_path);
    char why[700];
    CHECK(bb_tokens_read(cache_path, t2.identity, NULL, 0, &b, why, sizeof why) == BB_CACHE_STALE &&
              strstr(why, "different tokenizer"),
          "reading with another tokenizer: '%s'", why);

    bb_tokens_free(&a);
    bb_tokenizer_free(&t);
    bb_tokenizer_free(&t2);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup of %s failed", dir);
}

static const bb_test_case cases[] = {
    {"write_read_roundtrip", test_write_read_roundtrip},
    {"cache_invalidation", test_cache_invalidation},
};
BB_TEST_MAIN(cases)
