/* cuda_none.c — bb_cuda_info_get for builds without CUDA (-Dcuda=disabled or no nvcc). */
#include "cuda_info.h"
#include <stdio.h>
#include <string.h>

void bb_cuda_info_get(bb_cuda_info *info) {
    memset(info, 0, sizeof *info);
    snprintf(info->status, sizeof info->status, "no CUDA device (built without CUDA)");
}
