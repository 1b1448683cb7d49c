/* tokenizer.c — see tokenizer.h. */
#include "tokenizer.h"
#include "../common/check.h"
#include "../common/io.h"
#include "../engine/alloc.h"
#include "corpus.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

const char *const bb_tokenizer_train_splits[] = {"lm/train", "mt/train.el", "mt/train.en"};
const int bb_tokenizer_n_train_splits = 3;

void bb_tokenizer_train_default(bb_tokenizer *t, int vocab_size, bool verbose) {
    char *texts[3], err[600];
    size_t lens[3];
    for (int i = 0; i < bb_tokenizer_n_train_splits; i++)
        if (bb_corpus_read(bb_tokenizer_train_splits[i], &texts[i], &lens[i], err, sizeof err) != 0)
            bb_user_error("%s", err);
    bb_tokenizer_train(t, (const char *const *)texts, lens, bb_tokenizer_n_train_splits, vocab_size,
                       verbose);
    for (int i = 0; i < bb_tokenizer_n_train_splits; i++) bb_free(texts[i]);
}

void bb_tokenizer_default_path(int vocab_size, char *out, size_t cap) {
    char name[64];
    snprintf(name, sizeof name, "bpe-%d.tok", vocab_size);
    bb_path_join(out, cap, bb_cache_dir(), name);
}

void bb_tokenizer_open(bb_tokenizer *t, const char *path, int vocab_size, bool verbose) {
    char err[700], def[4096];
    if (path) {
        if (bb_tokenizer_load(t, path, err, sizeof err) != 0) bb_user_error("%s", err);
        return;
    }
    bb_tokenizer_default_path(vocab_size, def, sizeof def);
    if (bb_file_exists(def)) {
        if (bb_tokenizer_load(t, def, err, sizeof err) == 0) return;
        fprintf(stderr, "warning: %s; retraining it\n", err);
    }
    if (verbose) fprintf(stderr, "training the %d-token BPE tokenizer into %s\n", vocab_size, def);
    bb_tokenizer_train_default(t, vocab_size, verbose);
    if (bb_mkdir_p(bb_cache_dir()) != 0)
        bb_user_error("cannot create cache directory %s: %s", bb_cache_dir(), strerror(errno));
    if (bb_tokenizer_save(t, def, err, sizeof err) != 0) bb_user_error("%s", err);
}
