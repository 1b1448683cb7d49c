/* model_args.c — see model_args.h. One thread count for both runtimes: OpenBLAS is the
 * OpenMP build, so both draw from libgomp's pool and never oversubscribe. */
#include "model_args.h"
#include "../common/args.h"
#include "../common/check.h"
#include "../datasets/tokenizer.h"
#include <string.h>
#include <cblas.h>
#include <omp.h>
#include <stdio.h>

void bb_set_threads(long threads) {
    if (threads <= 0) return;
    omp_set_num_threads((int)threads);
    openblas_set_num_threads((int)threads);
}

void bb_model_args_resolve(const bb_model_args *ma, const char *command, bb_config *cfg) {
    char err[400];
    if (bb_config_from_preset(cfg, ma->model, err, sizeof err) != 0) bb_usage_error(command, "%s", err);
    if (ma->family) {
        char spec[64];
        snprintf(spec, sizeof spec, "family=%s", ma->family);
        if (bb_config_override(cfg, spec, err, sizeof err) != 0) bb_usage_error(command, "--family: %s", err);
    }
    if (ma->overrides && bb_config_override(cfg, ma->overrides, err, sizeof err) != 0)
        bb_usage_error(command, "--set: %s", err);
    /* the shape only: --precision may still come (commands validate again once it has), so
     * quant_head, quant_embed and half_residual needing a precision is not judged here */
    bb_config shape = *cfg;
    shape.quant_head = shape.quant_embed = shape.half_residual = false;
    if (bb_config_validate(&shape, err, sizeof err) != 0) bb_usage_error(command, "invalid model: %s", err);
    bb_set_threads(ma->threads);
}

void bb_nf4_dq_apply(const char *value, const char *command, bb_config *cfg) {
    if (!value) return;
    if (cfg->precision != BB_PREC_NF4)
        bb_usage_error(command, "--nf4-double-quant applies to --precision nf4, not %s", bb_precisions[cfg->precision].name);
    if (strcmp(value, "on") == 0) cfg->nf4_no_double_quant = false;
    else if (strcmp(value, "off") == 0) cfg->nf4_no_double_quant = true;
    else bb_usage_error(command, "--nf4-double-quant must be on or off, not '%s'", value);
}

void bb_open_for_inference(bb_model *m, bb_ckpt_info *info, bb_tokenizer *tok, const char *ckpt, const char *tok_path) {
    char err[700];
    if (bb_checkpoint_load(m, ckpt, &bb_backend_cpu, false, info, err, sizeof err) != 0) bb_user_error("%s", err);
    bb_tokenizer_open(tok, tok_path, BB_TOK_DEFAULT_VOCAB, false);
    if (info->tokenizer[0] && strcmp(info->tokenizer, tok->identity_hex) != 0)
        bb_user_error("the checkpoint was trained with tokenizer %.16s..., this tokenizer is %.16s...", info->tokenizer,
                      tok->identity_hex);
}
