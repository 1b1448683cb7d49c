/* corpus.c — see corpus.h. The expected line counts are the ones specs/data.md states;
 * the expected hashes are read from SHA256SUMS next to the data (which the test suite
 * compares with shared/reference-data/SHA256SUMS). */
#include "corpus.h"
#include "../common/check.h"
#include "../common/io.h"
#include "../common/sha256.h"
#include "../engine/alloc.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef BB_SOURCE_ROOT
#define BB_SOURCE_ROOT "."
#endif

const bb_corpus_file bb_corpus_files[] = {
    {"kjv", "kjv.tsv", 31102, "KJV 1769, 'Book C:V<TAB>text'"},
    {"sblgnt", "sblgnt.tsv", 7927, "SBL Greek NT, 'Book C:V<TAB>text'"},
    {"nt.el-en", "nt.el-en.tsv", 7925, "aligned NT pairs, 'ref<TAB>greek<TAB>english'"},
    {"lm/train", "lm/train.txt", 29183, "LM train: KJV minus held-out books"},
    {"lm/valid", "lm/valid.txt", 555, "LM valid: Ruth, Esther, Hebrews"},
    {"lm/test", "lm/test.txt", 1364, "LM test: Daniel, Acts"},
    {"mt/train.el", "mt/train.el", 6620, "MT train source (Greek)"},
    {"mt/train.en", "mt/train.en", 6620, "MT train target (English)"},
    {"mt/train.ref", "mt/train.ref", 6620, "MT train verse references"},
    {"mt/dev.el", "mt/dev.el", 303, "MT dev source: Hebrews"},
    {"mt/dev.en", "mt/dev.en", 303, "MT dev target"},
    {"mt/dev.ref", "mt/dev.ref", 303, "MT dev verse references"},
    {"mt/test.el", "mt/test.el", 1002, "MT test source: Acts"},
    {"mt/test.en", "mt/test.en", 1002, "MT test target"},
    {"mt/test.ref", "mt/test.ref", 1002, "MT test verse references"},
};
const int bb_corpus_n_files = (int)(sizeof bb_corpus_files / sizeof bb_corpus_files[0]);

static const char *data_dir_override;

void bb_data_dir_set(const char *dir) { data_dir_override = dir; }

const char *bb_data_dir(void) {
    if (data_dir_override) return data_dir_override;
    const char *env = getenv("BITBENCH_DATA");
    return env && *env ? env : BB_SOURCE_ROOT "/datasets";
}

const char *bb_cache_dir(void) {
    const char *env = getenv("BITBENCH_CACHE");
    return env && *env ? env : BB_SOURCE_ROOT "/.cache";
}

void bb_path_join(char *out, size_t cap, const char *dir, const char *file) {
    int n = snprintf(out, cap, "%s/%s", dir, file);
    if (n < 0 || (size_t)n >= cap) bb_user_error("path too long: %s/%s", dir, file);
}

const bb_corpus_file *bb_corpus_find(const char *name) {
    for (int i = 0; i < bb_corpus_n_files; i++)
        if (strcmp(bb_corpus_files[i].name, name) == 0) return &bb_corpus_files[i];
    return NULL;
}

long bb_count_lines(const char *data, size_t len) {
    long n = 0;
    for (const char *p = data; (p = memchr(p, '\n', len - (size_t)(p - data))); p++) n++;
    if (len > 0 && data[len - 1] != '\n') return -1;
    return n;
}

int bb_corpus_read(const char *name, char **data, size_t *len, char *err, size_t err_len) {
    const bb_corpus_file *cf = bb_corpus_find(name);
    if (!cf) { snprintf(err, err_len, "unknown corpus split '%s'", name); return -1; }
    char path[4096];
    bb_path_join(path, sizeof path, bb_data_dir(), cf->file);
    if (bb_read_file(path, data, len) != 0) {
        snprintf(err, err_len, "cannot read %s (%s): %s; run 'bitbench data prepare' or set --data",
                 path, name, strerror(errno));
        return -1;
    }
    return 0;
}

/* Finds the expected hex digest for file in a sha256sum-format listing. */
static int expected_hash(const char *sums, const char *file, char hex[65]) {
    size_t flen = strlen(file);
    for (const char *line = sums; *line;) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        if (n == 66 + flen && line[64] == ' ' && line[65] == ' ' &&
            memcmp(line + 66, file, flen) == 0) {
            memcpy(hex, line, 64);
            hex[64] = '\0';
            return 0;
        }
        line += n + (nl ? 1 : 0);
    }
    return -1;
}

int bb_corpus_verify(bool quiet) {
    char path[4096], *sums;
    size_t sums_len;
    int problems = 0;
    bb_path_join(path, sizeof path, bb_data_dir(), "SHA256SUMS");
    if (bb_read_file(path, &sums, &sums_len) != 0) {
        printf("FAIL  %s: cannot read (%s)\n", path, strerror(errno));
        return 1;
    }
    for (int i = 0; i < bb_corpus_n_files; i++) {
        const bb_corpus_file *cf = &bb_corpus_files[i];
        char want[65], got[65], *data;
        size_t len;
        uint8_t digest[32];
        bb_path_join(path, sizeof path, bb_data_dir(), cf->file);
        if (expected_hash(sums, cf->file, want) != 0) {
            printf("FAIL  %-14s no entry in SHA256SUMS\n", cf->file);
            problems++;
            continue;
        }
        if (bb_read_file(path, &data, &len) != 0) {
            printf("FAIL  %-14s cannot read %s: %s\n", cf->file, path, strerror(errno));
            problems++;
            continue;
        }
        bb_sha256_buffer(data, len, digest);
        bb_sha256_hex(digest, got);
        long lines = bb_count_lines(data, len);
        bb_free(data);
        if (strcmp(want, got) != 0) {
            printf("FAIL  %-14s sha256 %.16s... expected %.16s...\n", cf->file, got, want);
            problems++;
        } else if (lines != cf->expected_lines) {
            printf("FAIL  %-14s %ld lines, expected %d\n", cf->file, lines, cf->expected_lines);
            problems++;
        } else if (!quiet) {
            printf("OK    %-14s %6ld lines  sha256 %.16s...\n", cf->file, lines, got);
        }
    }
    bb_free(sums);
    return problems;
}
