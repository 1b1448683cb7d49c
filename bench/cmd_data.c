/* cmd_data.c — `bitbench data prepare|verify|stats`. */
#include "../common/args.h"
#include "../common/check.h"
#include "../datasets/corpus.h"
#include "../datasets/tokenizer.h"
#include "../datasets/tokfile.h"
#include "../engine/alloc.h"
#include "cli.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef BB_SOURCE_ROOT
#define BB_SOURCE_ROOT "."
#endif

static int data_prepare(int argc, char **argv) {
    const char *src = NULL, *deb = NULL, *data = NULL;
    const bb_arg args[] = {
        {"src", BB_ARG_STR, &src, "DIR", "use an extracted bibledit-data package tree", 0, -1},
        {"deb", BB_ARG_STR, &deb, "FILE", "use a downloaded bibledit-data .deb", 0, -1},
        {"data", BB_ARG_STR, &data, "DIR", "write the corpora here instead of the data dir", 0, -1},
    };
    const bb_cmd_spec spec = {
        "data prepare",
        "Regenerate the shipped corpora from Debian's bibledit-data package (specs/data.md),\n"
        "then verify them. Without --src/--deb the package is fetched with apt-get download.",
        "[--src DIR | --deb FILE] [--data DIR]", args, 3, 0, 0,
        "Runs datasets/prepare (Python 3, standard library only)."};
    bb_args_parse(&spec, argc, argv, NULL);
    if (src && deb) bb_usage_error("data prepare", "--src and --deb are mutually exclusive");
    if (data) bb_data_dir_set(data);
    const char *script = BB_SOURCE_ROOT "/datasets/prepare";
    if (access(script, R_OK) != 0) bb_user_error("cannot find the prep script %s: %s", script, strerror(errno));
    char *cmd[8];
    int n = 0;
    cmd[n++] = "python3";
    cmd[n++] = (char *)script;
    cmd[n++] = "--out";
    cmd[n++] = (char *)bb_data_dir();
    if (src) { cmd[n++] = "--src"; cmd[n++] = (char *)src; }
    if (deb) { cmd[n++] = "--deb"; cmd[n++] = (char *)deb; }
    cmd[n] = NULL;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) bb_user_error("cannot start %s: %s", script, strerror(errno));
    if (pid == 0) {
        execvp(cmd[0], cmd);
        fprintf(stderr, "bitbench: cannot run python3: %s\n", strerror(errno));
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0) bb_user_error("waiting for %s: %s", script, strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bitbench data prepare: %s failed (status %d)\n", script,
                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return 1;
    }
    int problems = bb_corpus_verify(false);
    if (problems) fprintf(stderr, "bitbench data prepare: %d file(s) do not verify\n", problems);
    return problems ? 1 : 0;
}

static int data_verify(int argc, char **argv) {
    const char *data = NULL;
    bool quiet = false;
    const bb_arg args[] = {
        {"data", BB_ARG_STR, &data, "DIR", "data dir to check (default: shipped datasets/)", 0, -1},
        {"quiet", BB_ARG_FLAG, &quiet, NULL, "print only problems", 0, -1},
    };
    const bb_cmd_spec spec = {"data verify",
                              "Check every corpus file against SHA256SUMS and the line counts of\n"
                              "specs/data.md (31,102 KJV verses; 7,925 pairs; MT 6,620/303/1,002;\n"
                              "LM 29,183/555/1,364). Exits 1 on any mismatch.",
                              "[--data DIR] [--quiet]", args, 2, 0, 0, NULL};
    bb_args_parse(&spec, argc, argv, NULL);
    if (data) bb_data_dir_set(data);
    int problems = bb_corpus_verify(quiet);
    if (problems) {
        fprintf(stderr, "bitbench data verify: %d of %d files FAILED in %s\n", problems,
                bb_corpus_n_files, bb_data_dir());
        return 1;
    }
    printf("data verify: all %d files match SHA256SUMS and the expected counts (%s)\n",
           bb_corpus_n_files, bb_data_dir());
    return 0;
}

static long count_words(const char *s, size_t len) {
    long words = 0;
    bool in_word = false;
    for (size_t i = 0; i < len; i++) {
        bool space = s[i] == ' ' || s[i] == '\t' || s[i] == '\n';
        if (!space && !in_word) words++;
        in_word = !space;
    }
    return words;
}

static int data_stats(int argc, char **argv) {
    const char *data = NULL, *tok_path = NULL;
    bool tokens = false;
    long vocab = BB_TOK_DEFAULT_VOCAB;
    const bb_arg args[] = {
        {"data", BB_ARG_STR, &data, "DIR", "data dir (default: shipped datasets/)", 0, -1},
        {"tokens", BB_ARG_FLAG, &tokens, NULL, "also count BPE tokens per file", 0, -1},
        {"tok", BB_ARG_STR, &tok_path, "FILE", "tokenizer file (default: the cached one)", 0, -1},
        {"vocab", BB_ARG_INT, &vocab, "N", "vocab size of the default tokenizer", 261, BB_TOK_MAX_VOCAB},
    };
    const bb_cmd_spec spec = {"data stats", "Describe each corpus file: lines, bytes, words, distinct bytes\n"
                                            "and, with --tokens, BPE tokens per word.",
                              "[--data DIR] [--tokens [--tok FILE | --vocab N]]", args, 4, 0, 0, NULL};
    bb_args_parse(&spec, argc, argv, NULL);
    if (data) bb_data_dir_set(data);
    bb_tokenizer tok;
    if (tokens) bb_tokenizer_open(&tok, tok_path, (int)vocab, true);
    printf("%-14s %8s %10s %9s %7s", "file", "lines", "bytes", "words", "bytes#");
    if (tokens) printf(" %9s %8s", "tokens", "tok/word");
    printf("\n");
    for (int i = 0; i < bb_corpus_n_files; i++) {
        char *text, err[600];
        size_t len;
        if (bb_corpus_read(bb_corpus_files[i].name, &text, &len, err, sizeof err) != 0)
            bb_user_error("%s", err);
        bool seen[256] = {0};
        int distinct = 0;
        for (size_t k = 0; k < len; k++)
            if (!seen[(uint8_t)text[k]]) { seen[(uint8_t)text[k]] = true; distinct++; }
        long words = count_words(text, len);
        printf("%-14s %8ld %10zu %9ld %7d", bb_corpus_files[i].file, bb_count_lines(text, len), len,
               words, distinct);
        if (tokens) {
            bb_tokens tk;
            bb_tokens_encode_lines(&tok, text, len, &tk);
            long n_lines = bb_count_lines(text, len);
            size_t content = tk.n - (size_t)n_lines;  /* without the per-line EOS */
            printf(" %9zu %8.2f", content, words ? (double)content / (double)words : 0.0);
            bb_tokens_free(&tk);
        }
        printf("\n");
        bb_free(text);
    }
    if (tokens) bb_tokenizer_free(&tok);
    return 0;
}

static const bb_command data_commands[] = {
    {"prepare", data_prepare, "regenerate the corpora from the bibledit-data package"},
    {"verify", data_verify, "check checksums and counts; fails loudly on a mismatch"},
    {"stats", data_stats, "lines, bytes, words and tokens per corpus file"},
};

int bb_cmd_data(int argc, char **argv) {
    return bb_dispatch("data", data_commands, 3, argc, argv);
}
