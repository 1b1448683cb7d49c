/* cmd_tokenizer.c — `bitbench tokenizer train|check|encode|decode|bench`. */
#include "../common/args.h"
#include "../common/check.h"
#include "../common/io.h"
#include "../common/sha256.h"
#include "../datasets/corpus.h"
#include "../datasets/tokenizer.h"
#include "../datasets/tokfile.h"
#include "../engine/alloc.h"
#include "cli.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define VOCAB_ARG(dest) \
    {"vocab", BB_ARG_INT, dest, "N", "vocabulary size, specials and bytes included", 261, BB_TOK_MAX_VOCAB}
#define TOK_ARG(dest) \
    {"tok", BB_ARG_STR, dest, "FILE", "tokenizer file (default: <cache>/bpe-<vocab>.tok, trained if missing)", 0, -1}
#define DATA_ARG(dest) {"data", BB_ARG_STR, dest, "DIR", "data dir (default: shipped datasets/)", 0, -1}

static int tok_train(int argc, char **argv) {
    long vocab = BB_TOK_DEFAULT_VOCAB;
    const char *out = NULL, *data = NULL;
    bool quiet = false;
    const bb_arg args[] = {VOCAB_ARG(&vocab),
                           {"out", BB_ARG_STR, &out, "FILE", "where to save (default: <cache>/bpe-<vocab>.tok)", 0, -1},
                           DATA_ARG(&data),
                           {"quiet", BB_ARG_FLAG, &quiet, NULL, "no progress output", 0, -1}};
    const bb_cmd_spec spec = {"tokenizer train",
                              "Train the byte-level BPE tokenizer on LM train + MT train (Greek and\n"
                              "English). Deterministic: the same data and vocab give the same file.",
                              "[--vocab N] [--out FILE] [--data DIR]", args, 4, 0, 0,
                              "File format: see datasets/bpe.h."};
    bb_args_parse(&spec, argc, argv, NULL);
    if (data) bb_data_dir_set(data);
    char path[4096], err[700];
    if (out) snprintf(path, sizeof path, "%s", out);
    else {
        bb_tokenizer_default_path((int)vocab, path, sizeof path);
        if (bb_mkdir_p(bb_cache_dir()) != 0)
            bb_user_error("cannot create cache directory %s: %s", bb_cache_dir(), strerror(errno));
    }
    bb_tokenizer t;
    double t0 = now_seconds();
    bb_tokenizer_train_default(&t, (int)vocab, !quiet);
    double secs = now_seconds() - t0;
    if (bb_tokenizer_save(&t, path, err, sizeof err) != 0) bb_user_error("%s", err);
    printf("trained %d merges (vocab %d) in %.2f s -> %s\n  identity sha256 %s\n", t.n_merges,
           t.vocab_size, secs, path, t.identity_hex);
    bb_tokenizer_free(&t);
    return 0;
}

/* Encodes each line alone and decodes it back; returns the number of lines that differ
 * and prints the first one. */
static long roundtrip_lines(bb_tokenizer *t, const char *name, const char *text, size_t len,
                            size_t *n_tokens) {
    uint32_t *ids = NULL;
    size_t cap = 0, out_cap = 1 << 16;
    char *out = bb_alloc(BB_MEM_DATA, out_cap);
    long bad = 0, lineno = 0;
    for (size_t pos = 0; pos < len; lineno++) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len, n = 0;
        bb_tokenizer_encode(t, (const uint8_t *)text + pos, end - pos, &ids, &n, &cap);
        size_t got = bb_tokenizer_decode(t, ids, n, out, out_cap, false);
        if (got != end - pos || memcmp(out, text + pos, got) != 0) {
            if (!bad) fprintf(stderr, "round trip FAILED in %s line %ld: '%.*s'\n", name, lineno + 1,
                              (int)(end - pos), text + pos);
            bad++;
        }
        *n_tokens += n;
        pos = end + 1;
    }
    bb_free(ids);
    bb_free(out);
    return bad;
}

static int tok_check(int argc, char **argv) {
    long vocab = BB_TOK_DEFAULT_VOCAB;
    const char *tok_path = NULL, *data = NULL;
    const bb_arg args[] = {VOCAB_ARG(&vocab), TOK_ARG(&tok_path), DATA_ARG(&data)};
    const bb_cmd_spec spec = {"tokenizer check",
                              "Check decode(encode(line)) == line for every line of every split\n"
                              "and build the token caches of the LM splits.",
                              "[--tok FILE | --vocab N] [--data DIR]", args, 3, 0, 0, NULL};
    bb_args_parse(&spec, argc, argv, NULL);
    if (data) bb_data_dir_set(data);
    bb_tokenizer t;
    bb_tokenizer_open(&t, tok_path, (int)vocab, true);
    printf("tokenizer %.16s... vocab %d\n", t.identity_hex, t.vocab_size);
    long total_bad = 0;
    for (int i = 0; i < bb_corpus_n_files; i++) {
        const bb_corpus_file *cf = &bb_corpus_files[i];
        char *text, err[600];
        size_t len, n_tokens = 0;
        if (bb_corpus_read(cf->name, &text, &len, err, sizeof err) != 0) bb_user_error("%s", err);
        long bad = roundtrip_lines(&t, cf->name, text, len, &n_tokens);
        printf("%-4s %-14s %6ld lines %9zu tokens %6.2f bytes/token\n", bad ? "FAIL" : "OK", cf->file,
               bb_count_lines(text, len), n_tokens, n_tokens ? (double)len / (double)n_tokens : 0.0);
        total_bad += bad;
        bb_free(text);
    }
    const char *lm[] = {"lm/train", "lm/valid", "lm/test"};
    for (int i = 0; i < 3; i++) {
        char path[4096];
        bb_path_join(path, sizeof path, bb_data_dir(), bb_corpus_find(lm[i])->file);
        bb_tokens tk;
        bb_cache_status st = bb_tokens_cached(&t, path, lm[i], &tk, false);
        printf("cache %-9s %9zu ids (%s)\n", lm[i], tk.n, bb_cache_status_name(st));
        bb_tokens_free(&tk);
    }
    bb_tokenizer_free(&t);
    if (total_bad) {
        fprintf(stderr, "bitbench tokenizer check: %ld line(s) do not round-trip\n", total_bad);
        return 1;
    }
    printf("tokenizer check: every line of every split round-trips\n");
    return 0;
}

static void print_ids(const uint32_t *ids, size_t n) {
    for (size_t i = 0; i < n; i++) printf(i ? " %u" : "%u", ids[i]);
    printf("\n");
}

static int tok_encode(int argc, char **argv) {
    long vocab = BB_TOK_DEFAULT_VOCAB;
    const char *tok_path = NULL, *text = NULL, *in = NULL, *out = NULL;
    const bb_arg args[] = {VOCAB_ARG(&vocab), TOK_ARG(&tok_path),
                           {"text", BB_ARG_STR, &text, "STRING", "encode this string", 0, -1},
                           {"in", BB_ARG_STR, &in, "FILE", "encode this text file, line by line", 0, -1},
                           {"out", BB_ARG_STR, &out, "FILE", "with --in: write a binary token file", 0, -1}};
    const bb_cmd_spec spec = {"tokenizer encode",
                              "Print token ids (one line of ids per input line), or with --out write\n"
                              "a binary token file (each line's ids followed by EOS; datasets/tokfile.h).",
                              "(--text STRING | --in FILE [--out FILE]) [--tok FILE | --vocab N]", args, 5, 0, 0,
                              NULL};
    bb_args_parse(&spec, argc, argv, NULL);
    if (!text == !in) bb_usage_error("tokenizer encode", "give exactly one of --text or --in");
    if (out && !in) bb_usage_error("tokenizer encode", "--out needs --in");
    char *data = NULL, err[700];
    size_t len;
    if (in && bb_read_file(in, &data, &len) != 0) bb_user_error("cannot read %s: %s", in, strerror(errno));
    bb_tokenizer t;
    bb_tokenizer_open(&t, tok_path, (int)vocab, true);
    if (text) {
        uint32_t *ids = NULL;
        size_t n = 0, cap = 0;
        bb_tokenizer_encode(&t, (const uint8_t *)text, strlen(text), &ids, &n, &cap);
        print_ids(ids, n);
        bb_free(ids);
    } else if (out) {
        bb_tokens tk;
        uint8_t src[32];
        bb_tokens_encode_lines(&t, data, len, &tk);
        bb_sha256_buffer(data, len, src);
        if (bb_tokens_write(out, &t, src, tk.ids, tk.n, err, sizeof err) != 0) bb_user_error("%s", err);
        printf("wrote %zu ids (%zu bytes of text) to %s\n", tk.n, len, out);
        bb_tokens_free(&tk);
    } else {
        uint32_t *ids = NULL;
        size_t cap = 0;
        for (size_t pos = 0; pos < len;) {
            const char *nl = memchr(data + pos, '\n', len - pos);
            size_t end = nl ? (size_t)(nl - data) : len, n = 0;
            bb_tokenizer_encode(&t, (const uint8_t *)data + pos, end - pos, &ids, &n, &cap);
            print_ids(ids, n);
            pos = end + 1;
        }
        bb_free(ids);
    }
    bb_free(data);
    bb_tokenizer_free(&t);
    return 0;
}

static void decode_print(const bb_tokenizer *t, const uint32_t *ids, size_t n, bool skip_special,
                         bool eos_newline) {
    char buf[1 << 12];
    for (size_t i = 0; i < n; i++) {
        if (eos_newline && ids[i] == BB_TOK_EOS) { putchar('\n'); continue; }
        size_t k = bb_tokenizer_decode(t, ids + i, 1, buf, sizeof buf, skip_special);
        fwrite(buf, 1, k, stdout);
    }
}

static int tok_decode(int argc, char **argv) {
    long vocab = BB_TOK_DEFAULT_VOCAB;
    const char *tok_path = NULL, *ids_str = NULL, *in = NULL;
    bool skip = false;
    const bb_arg args[] = {VOCAB_ARG(&vocab), TOK_ARG(&tok_path),
                           {"ids", BB_ARG_STR, &ids_str, "\"ID ID ...\"", "decode these ids", 0, -1},
                           {"in", BB_ARG_STR, &in, "FILE", "decode a binary token file (EOS -> newline)", 0, -1},
                           {"skip-special", BB_ARG_FLAG, &skip, NULL, "omit PAD/BOS/EOS/SEP", 0, -1}};
    const bb_cmd_spec spec = {"tokenizer decode", "Turn token ids back into text.",
                              "(--ids \"ID ...\" | --in FILE) [--tok FILE | --vocab N]", args, 5, 0, 0, NULL};
    bb_args_parse(&spec, argc, argv, NULL);
    if (!ids_str == !in) bb_usage_error("tokenizer decode", "give exactly one of --ids or --in");
    bb_tokenizer t;
    bb_tokenizer_open(&t, tok_path, (int)vocab, true);
    if (ids_str) {
        size_t n = 0, cap = 16;
        uint32_t *ids = bb_alloc(BB_MEM_DATA, cap * sizeof *ids);
        for (const char *p = ids_str; *p;) {
            while (*p == ' ' || *p == ',' || *p == '\n' || *p == '\t') p++;
            if (!*p) break;
            char *end;
            errno = 0;
            long v = strtol(p, &end, 10);
            if (end == p || errno || v < 0 || v >= t.vocab_size)
                bb_user_error("--ids: '%.20s' is not a token id in [0, %d)", p, t.vocab_size);
            if (n == cap) ids = bb_realloc(ids, (cap *= 2) * sizeof *ids);
            ids[n++] = (uint32_t)v;
            p = end;
        }
        decode_print(&t, ids, n, skip, false);
        putchar('\n');
        bb_free(ids);
    } else {
        bb_tokens tk;
        char why[700];
        bb_cache_status st = bb_tokens_read(in, NULL, NULL, 0, &tk, why, sizeof why);
        if (st != BB_CACHE_HIT) bb_user_error("%s", why);
        if (tk.vocab_size != t.vocab_size)
            bb_user_error("%s has vocab %d but the tokenizer has %d", in, tk.vocab_size, t.vocab_size);
        decode_print(&t, tk.ids, tk.n, skip, true);
        bb_tokens_free(&tk);
    }
    bb_tokenizer_free(&t);
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int tok_bench(int argc, char **argv) {
    long vocab = BB_TOK_DEFAULT_VOCAB, repeat = 3;
    const char *data = NULL;
    const bb_arg args[] = {VOCAB_ARG(&vocab), DATA_ARG(&data),
                           {"repeat", BB_ARG_INT, &repeat, "N", "repetitions (median is reported)", 1, 100}};
    const bb_cmd_spec spec = {"tokenizer bench",
                              "Time tokenizer training on the training splits and encoding of the\n"
                              "same text (cold: empty chunk memo; warm: memo filled). Reports medians.\n"
                              "Targets (issue #2): training 4,096 tokens < 60 s, encoding >= 10 MB/s.",
                              "[--vocab N] [--repeat N]", args, 3, 0, 0, NULL};
    bb_args_parse(&spec, argc, argv, NULL);
    if (data) bb_data_dir_set(data);
    double train_s[100], cold_s[100], warm_s[100];
    size_t bytes = 0, n_ids = 0;
    char *texts[3], err[600];
    size_t lens[3];
    for (int i = 0; i < bb_tokenizer_n_train_splits; i++) {
        if (bb_corpus_read(bb_tokenizer_train_splits[i], &texts[i], &lens[i], err, sizeof err) != 0)
            bb_user_error("%s", err);
        bytes += lens[i];
    }
    for (long r = 0; r < repeat; r++) {
        bb_tokenizer t;
        double t0 = now_seconds();
        bb_tokenizer_train(&t, (const char *const *)texts, lens, 3, (int)vocab, false);
        train_s[r] = now_seconds() - t0;
        for (int pass = 0; pass < 2; pass++) {
            uint32_t *ids = NULL;
            size_t n = 0, cap = 0;
            t0 = now_seconds();
            for (int i = 0; i < 3; i++) bb_tokenizer_encode(&t, (const uint8_t *)texts[i], lens[i], &ids, &n, &cap);
            (pass ? warm_s : cold_s)[r] = now_seconds() - t0;
            n_ids = n;
            bb_free(ids);
        }
        fprintf(stderr, "  repeat %ld/%ld: train %.2f s, encode cold %.3f s, warm %.3f s\n", r + 1, repeat,
                train_s[r], cold_s[r], warm_s[r]);
        bb_tokenizer_free(&t);
    }
    qsort(train_s, (size_t)repeat, sizeof(double), cmp_double);
    qsort(cold_s, (size_t)repeat, sizeof(double), cmp_double);
    qsort(warm_s, (size_t)repeat, sizeof(double), cmp_double);
    double mb = (double)bytes / 1e6;
    printf("tokenizer bench: %.2f MB of training text, vocab %ld, %zu ids, median of %ld\n", mb, vocab, n_ids, repeat);
    printf("  train        %8.2f s      (target < 60 s)\n", train_s[repeat / 2]);
    printf("  encode cold  %8.1f MB/s   (target >= 10 MB/s)\n", mb / cold_s[repeat / 2]);
    printf("  encode warm  %8.1f MB/s\n", mb / warm_s[repeat / 2]);
    for (int i = 0; i < 3; i++) bb_free(texts[i]);
    return 0;
}

static const bb_command tokenizer_commands[] = {
    {"train", tok_train, "train the BPE tokenizer on the training splits"},
    {"check", tok_check, "round-trip every split and build the token caches"},
    {"encode", tok_encode, "text -> token ids"},
    {"decode", tok_decode, "token ids -> text"},
    {"bench", tok_bench, "time training and encoding"},
};

int bb_cmd_tokenizer(int argc, char **argv) {
    return bb_dispatch("tokenizer", tokenizer_commands, 5, argc, argv);
}
