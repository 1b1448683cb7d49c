/* train_data.h — training batches the benchmarks share. */
#pragma once

/* S batches of B KJV training windows of T tokens (the same data for every engine or
 * precision a benchmark compares); exits if the model's vocabulary is smaller than the
 * tokenizer's. The caller frees *inputs and *targets (bb_free). */
void bb_kjv_batches(int vocab, int B, int T, int S, long seed, int **inputs, int **targets);
