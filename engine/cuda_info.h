/* cuda_info.h — what the CUDA runtime sees, for `bitbench env`. Implemented in
 * engine/cuda/cuda_info.cu when built with CUDA, else by engine/cuda_none.c. */
#pragma once
#include <stdbool.h>

#define BB_CUDA_MAX_DEVICES 16

typedef struct {
    char name[256];
    int cc_major, cc_minor;
    double memory_gib;
    int sm_count;
} bb_cuda_device;

typedef struct {
    bool built_with_cuda;
    int runtime_version;      /* e.g. 13000; 0 if unknown */
    int cublas_version;       /* major*10000 + minor*100 + patch; 0 if unknown */
    int n_devices;
    bb_cuda_device devices[BB_CUDA_MAX_DEVICES];
    char status[256];         /* "no CUDA device (...)" or "1 device" */
} bb_cuda_info;

void bb_cuda_info_get(bb_cuda_info *info);
