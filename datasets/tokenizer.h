/* tokenizer.h — the project's tokenizer: which texts train it and where it is kept.
 * Training text (specs/data.md): LM train + MT train Greek + MT train English. The
 * held-out books never reach the tokenizer. */
#pragma once
#include "bpe.h"

extern const char *const bb_tokenizer_train_splits[];
extern const int bb_tokenizer_n_train_splits;

/* Trains on the training splits (exits with a clear error if they are missing). */
void bb_tokenizer_train_default(bb_tokenizer *t, int vocab_size, bool verbose);
/* <cache dir>/bpe-<vocab>.tok */
void bb_tokenizer_default_path(int vocab_size, char *out, size_t cap);
/* Loads path if given (a bad file is an error); otherwise loads the default file, and
 * trains and saves it when it is missing or invalid (it is a cache). */
void bb_tokenizer_open(bb_tokenizer *t, const char *path, int vocab_size, bool verbose);
