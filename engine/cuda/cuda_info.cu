/* cuda_info.cu — device enumeration through cudart plus the cuBLAS version, so a CUDA
 * build proves it compiles and links against both. With no driver or no GPU,
 * cudaGetDeviceCount fails and env reports "no CUDA device". */
extern "C" {
#include "../cuda_info.h"
}
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdio.h>
#include <string.h>

extern "C" void bb_cuda_info_get(bb_cuda_info *info) {
    memset(info, 0, sizeof *info);
    info->built_with_cuda = true;
    cudaRuntimeGetVersion(&info->runtime_version);
    int major = 0, minor = 0, patch = 0;
    if (cublasGetProperty(MAJOR_VERSION, &major) == CUBLAS_STATUS_SUCCESS &&
        cublasGetProperty(MINOR_VERSION, &minor) == CUBLAS_STATUS_SUCCESS &&
        cublasGetProperty(PATCH_LEVEL, &patch) == CUBLAS_STATUS_SUCCESS)
        info->cublas_version = major * 10000 + minor * 100 + patch;
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess || count == 0) {
        snprintf(info->status, sizeof info->status, "no CUDA device (%s)",
                 err != cudaSuccess ? cudaGetErrorString(err) : "device count is 0");
        return;
    }
    info->n_devices = count < BB_CUDA_MAX_DEVICES ? count : BB_CUDA_MAX_DEVICES;
    for (int i = 0; i < info->n_devices; i++) {
        cudaDeviceProp p;
        if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
        bb_cuda_device *d = &info->devices[i];
        snprintf(d->name, sizeof d->name, "%s", p.name);
        d->cc_major = p.major;
        d->cc_minor = p.minor;
        d->memory_gib = (double)p.totalGlobalMem / (1024.0 * 1024.0 * 1024.0);
        d->sm_count = p.multiProcessorCount;
    }
    snprintf(info->status, sizeof info->status, "%d device%s", count, count == 1 ? "" : "s");
}
