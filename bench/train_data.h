/* train_data.h — training batches the benchmarks share. */
#pragma once

/* S batches of B KJV training windows of T tokens (the same data for every engine or
 * precision a benchmark compares); exits if the model's vocabulary is smaller than the
 * tokenizer's. The caller frees *inputs and *targets (bb_free). */
void bb_kjv_batches(int vocab, int B, int T, int S, long seed, int **inputs, int **targets);

#include "../datasets/mt.h"
#include "../engine/model.h"
/* The masked loss (English tokens and EOS) over every pair of an MT split, batches of B
 * pairs in order, each as long as its longest pair; inputs/targets hold B * max_seq ints. */
double bb_mt_eval_loss(bb_model *m, const bb_mt_data *dev, int B, int *inputs, int *targets);
