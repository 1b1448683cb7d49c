/* device_arg.c — --device cpu|cuda (device_arg.h). */
#include "device_arg.h"
#include "../common/args.h"
#include "../engine/cuda_backend.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const bb_backend *bb_device_backend(const char *command, const char *device) {
    if (!device || strcmp(device, "cpu") == 0) return &bb_backend_cpu;
    if (strcmp(device, "cuda") != 0) bb_usage_error(command, "--device must be cpu or cuda, not '%s'", device);
    char err[256];
    if (bb_cuda_init(err, sizeof err) != 0) {
        fprintf(stderr, "bitbench %s: %s; run with --device cpu\n", command, err);
        exit(2);
    }
    return &bb_backend_cuda_staged;
}
