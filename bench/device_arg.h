/* device_arg.h — the --device option of the commands that run a model (train, eval ppl,
 * bench precisions, bench infer): cpu (default) or cuda. */
#pragma once
#include "../engine/backend.h"

#define BB_DEVICE_ARG_ENTRY(dest)                                                                            \
    {"device", BB_ARG_STR, &(dest), "D",                                                                     \
     "cpu or cuda (CUDA ops on the engine's host buffers: checks GPU numerics; not a throughput path)", 0, -1}

/* The backend for --device. cuda without a usable device prints one line ("no CUDA
 * device (...)") and exits 2; an unknown name is a usage error (exit 2). */
const bb_backend *bb_device_backend(const char *command, const char *device);
