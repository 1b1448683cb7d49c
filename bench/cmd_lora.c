/* cmd_lora.c — `bitbench lora merge`: fold trained adapters (`train --lora --save`) into
 * their base checkpoint, W += scaling B A (engine/lora.h bb_lora_merge), and write an FP32
 * checkpoint that eval, generate and export read like any other. */
#include "../common/args.h"
#include "../common/check.h"
#include "../engine/lora.h"
#include "cli.h"
#include <stdio.h>

static int cmd_merge(int argc, char **argv) {
    const char *base = NULL, *adapters = NULL, *out = NULL;
    const bb_arg args[] = {
        {"base", BB_ARG_STR, &base, "CKPT", "the base checkpoint (or packed export) the adapters were trained on", 0, -1},
        {"adapters", BB_ARG_STR, &adapters, "FILE", "adapter file written by train --lora --save", 0, -1},
        {"out", BB_ARG_STR, &out, "CKPT", "merged checkpoint to write", 0, -1},
    };
    const bb_cmd_spec spec = {
        "lora merge", "Fold LoRA adapters into their base: W += scaling B A, written as an FP32 checkpoint.",
        "--base CKPT --adapters FILE --out CKPT", args, 3, 0, 0,
        "The merged config keeps the base precision the adapters were trained at. A quantized base is merged in\n"
        "FP32 after dequantization (W = unpack(pack(W)) + scaling B A): the result is off the quantization grid,\n"
        "so running it at that precision quantizes it again; re-export it (bitbench export) and measure it again.\n"
        "An FP32 base merges exactly up to float rounding. The base must be the file the adapters were trained on\n"
        "(its SHA-256 is in the adapter file)."};
    bb_args_parse(&spec, argc, argv, NULL);
    if (!base || !adapters || !out) bb_usage_error("lora merge", "--base, --adapters and --out are required");
    char err[800];
    if (bb_lora_merge(base, adapters, out, &bb_backend_cpu, err, sizeof err) != 0) bb_user_error("%s", err);
    printf("merged %s into %s: %s\n", adapters, base, out);
    return 0;
}

static const bb_command lora_commands[] = {
    {"merge", cmd_merge, "fold adapters into their base checkpoint (W += scaling B A)"},
};

int bb_cmd_lora(int argc, char **argv) {
    return bb_dispatch("lora", lora_commands, (int)(sizeof lora_commands / sizeof lora_commands[0]), argc, argv);
}
