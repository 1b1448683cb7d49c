/* mt.h — the Greek→English translation task (specs/data.md): examples
 *     BOS greek SEP english EOS
 * with the loss on the English tokens and EOS only (targets of the BOS..greek positions
 * are -1, the masked loss of the engine). One example per row, padded with PAD after it:
 * causal attention never lets a row see another example or its padding, so nothing leaks
 * (no packing). Batches are length-bucketed: each epoch shuffles the examples from
 * (seed, epoch), sorts chunks of 64 batches by length, cuts them into batches and
 * shuffles the batch order, so a step's batch depends only on (seed, step) and resume
 * is exact. A batch is as long as its longest example, rounded up to 8. */
#pragma once
#include "bpe.h"
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int n;               /* examples */
    uint32_t *ids;       /* all sequences back to back */
    size_t *offset;      /* (n + 1) */
    int *src_len;        /* greek tokens per example (without BOS/SEP) */
    int max_len, truncated;
    int max_seq;         /* rows never exceed it */
} bb_mt_data;

typedef struct {
    const bb_mt_data *d;
    int B;
    uint64_t seed;
    long cached_epoch;
    int n_batches;
    int *order;          /* (n) example order of the cached epoch, batch after batch */
    int *batch_order;    /* (n_batches) */
} bb_mt_loader;

/* Reads mt/<split>.el and .en from the data dir and encodes them; sequences longer than
 * max_seq + 1 lose source tokens first (counted in truncated). Exits on unreadable data. */
void bb_mt_data_load(bb_mt_data *d, bb_tokenizer *t, const char *split, int max_seq);
void bb_mt_data_free(bb_mt_data *d);
/* Fills inputs/targets (B, T) for example e placed in row r of a batch of length T. */
void bb_mt_fill_row(const bb_mt_data *d, int e, int T, int *inputs, int *targets);
/* Length of example e as a training row (sequence length - 1). */
int bb_mt_row_len(const bb_mt_data *d, int e);

void bb_mt_loader_init(bb_mt_loader *l, const bb_mt_data *d, int B, uint64_t seed);
void bb_mt_loader_free(bb_mt_loader *l);
/* The batch of a step: its rows in inputs/targets (B * max_seq capacity); returns T. */
int bb_mt_loader_batch(bb_mt_loader *l, long step, int *inputs, int *targets);
