/* alloc.h — the tracked allocator (DESIGN.md: every byte counted through one allocator,
 * like Redis zmalloc). Every buffer in bitbench comes from bb_alloc with a category, so
 * memory tables are measured, never estimated. Memory is zeroed and 64-byte aligned. */
#pragma once
#include <stddef.h>
#include <stdio.h>

typedef enum {
    BB_MEM_PARAMS,
    BB_MEM_GRADS,
    BB_MEM_OPTIM,
    BB_MEM_PACKED,     /* quantized / low-precision copies of the master weights; a frozen base */
    BB_MEM_FROZEN,     /* frozen FP32 tensors of a LoRA base: embeddings, norms, biases, head */
    BB_MEM_ADAPTERS,   /* LoRA A and B (engine/lora.h) */
    BB_MEM_ADAPTER_GRADS,
    BB_MEM_ADAPTER_OPTIM, /* AdamW moments of the adapters */
    BB_MEM_ACTS,
    BB_MEM_WORKSPACE,
    BB_MEM_DATA,       /* corpora, token ids, tokenizer tables */
    BB_MEM_TEACHER,    /* a knowledge-distillation teacher, all its tables (engine/distill.h) */
    BB_MEM_OTHER,
    BB_MEM_COUNT
} bb_mem_category;

typedef struct {
    size_t current[BB_MEM_COUNT];
    size_t peak[BB_MEM_COUNT];
    size_t current_total, peak_total;
    size_t n_allocs;
} bb_mem_stats;

void *bb_alloc(bb_mem_category cat, size_t bytes);
/* Grows or shrinks; the category stays the one given at allocation. New bytes are zero. */
void *bb_realloc(void *ptr, size_t bytes);
void bb_free(void *ptr);
char *bb_strdup(const char *s);

const char *bb_mem_category_name(bb_mem_category cat);
bb_mem_stats bb_mem_stats_get(void);
/* Sets every peak to the current value, so the next peaks describe what follows (the
 * harness measures one configuration after another in one process). */
void bb_mem_reset_peaks(void);
void bb_mem_print(FILE *f);
/* Peak resident set size of this process in bytes (from getrusage). */
size_t bb_mem_peak_rss(void);
