/* safetensors.h — reads and writes checkpoints in Hugging Face's safetensors format
 * (https://github.com/huggingface/safetensors, README "Format" and safetensors/src/tensor.rs):
 *   8 bytes   N, little-endian u64: size of the header
 *   N bytes   UTF-8 JSON object: {"name": {"dtype": "F32", "shape": [2, 3],
 *             "data_offsets": [begin, end]}, ..., "__metadata__": {"k": "v", ...}}
 *   rest      the byte buffer; offsets are relative to its start; tensors little-endian,
 *             C order.
 * Invariants of a file that opens: N <= 100,000,000 (the reference's MAX_HEADER_SIZE); every
 * entry has a known dtype, a shape of non-negative integers and data_offsets with
 * end - begin == numel * element size; sorted by offset the tensors tile the buffer exactly
 * (no hole, no overlap, nothing after the last); names are unique; metadata maps strings to
 * strings. Files we write also pad the header with spaces to a multiple of 8 bytes (as the
 * reference writer does), so the buffer starts 8-aligned. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* The first eight are bitbench's working types; the rest are read and written as bytes so
 * any safetensors checkpoint from the reference library opens (packed 4-bit and newer
 * sub-byte types are refused as unsupported). */
typedef enum {
    BB_DT_F32, BB_DT_F16, BB_DT_BF16, BB_DT_F64, BB_DT_I32, BB_DT_I64, BB_DT_I8, BB_DT_U8,
    BB_DT_BOOL, BB_DT_I16, BB_DT_U16, BB_DT_U32, BB_DT_U64, BB_DT_F8_E4M3, BB_DT_F8_E5M2,
    BB_DT_COUNT
} bb_dtype;

#define BB_ST_MAX_DIMS 8
#define BB_ST_MAX_HEADER 100000000u

const char *bb_dtype_name(bb_dtype dt);   /* "F32"; "?" if out of range */
size_t bb_dtype_size(bb_dtype dt);        /* bytes per element; 0 if out of range */
/* The dtype named exactly `name` (length len), or -1. */
int bb_dtype_from_name(const char *name, size_t len);

/* A tensor to write: data holds numel * bb_dtype_size(dtype) bytes, little-endian. */
typedef struct {
    const char *name;
    bb_dtype dtype;
    int ndim;                          /* 0 (a scalar) .. BB_ST_MAX_DIMS */
    int64_t shape[BB_ST_MAX_DIMS];
    const void *data;                  /* may be NULL when numel is 0 */
} bb_st_tensor;

/* Writes tensors (in the given order, contiguous) and metadata (keys and values are UTF-8
 * strings) to path atomically (temp file + rename). Returns 0, or -1 with a one-sentence
 * reason in err (bad argument, duplicate name, I/O error); the target is then untouched. */
int bb_safetensors_write(const char *path, const bb_st_tensor *tensors, int n_tensors,
                         const char *const *meta_keys, const char *const *meta_values, int n_meta,
                         char *err, size_t err_len);

/* One tensor of an opened file. data points into the file's bytes and may be unaligned
 * for files we did not write: memcpy, don't cast. */
typedef struct {
    char *name;
    bb_dtype dtype;
    int ndim;
    int64_t shape[BB_ST_MAX_DIMS];
    size_t offset, nbytes;             /* within the byte buffer */
    const void *data;
} bb_st_entry;

typedef struct {
    char *file;                        /* owned file bytes (open), NULL (parse) */
    size_t header_len;                 /* N */
    const unsigned char *buffer;       /* the byte buffer after the header */
    size_t buffer_len;
    int n_tensors;
    bb_st_entry *tensors;              /* sorted by offset (= write order for our files) */
    int *by_name;                      /* indices into tensors sorted by name, for find */
    int n_meta;
    char **meta_keys, **meta_values;   /* in file order */
} bb_safetensors;

/* Reads the whole file and validates everything (see the invariants above). Returns 0,
 * or -1 with one sentence naming the file and the problem; st is then empty and needs no
 * close. */
int bb_safetensors_open(bb_safetensors *st, const char *path, char *err, size_t err_len);
/* The same over bytes already in memory; data[0..len) must outlive st. label names the
 * bytes in messages ("checkpoint 'LABEL' ..."). */
int bb_safetensors_parse(bb_safetensors *st, const void *data, size_t len, const char *label,
                         char *err, size_t err_len);
const bb_st_entry *bb_safetensors_find(const bb_safetensors *st, const char *name);
const char *bb_safetensors_meta(const bb_safetensors *st, const char *key);  /* NULL if absent */
void bb_safetensors_close(bb_safetensors *st);
