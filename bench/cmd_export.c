/* cmd_export.c — `bitbench export`: write the packed inference weights of a checkpoint
 * (engine/export.h). A QAT checkpoint exports at its own precision; an fp32 checkpoint can
 * be quantized after training to fp16, bf16, int8, int4 or nf4 (QLoRA's frozen-base format,
 * --nf4-double-quant on|off); b158 needs a b158-trained model: its SubLN gains are part of
 * the network. */
#include "../common/args.h"
#include "../common/check.h"
#include "../engine/alloc.h"
#include "../engine/export.h"
#include "cli.h"
#include "model_args.h"
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int bb_cmd_export(int argc, char **argv) {
    const char *ckpt = NULL, *precision = NULL, *out = NULL, *nf4_dq = NULL;
    const bb_arg args[] = {
        {"ckpt", BB_ARG_STR, &ckpt, "FILE", "checkpoint to export", 0, -1},
        {"precision", BB_ARG_STR, &precision, "P", "fp16, bf16, int8, int4, nf4 or b158 (default: the checkpoint's)", 0,
         -1},
        BB_NF4_DQ_ARG(nf4_dq),
        {"out", BB_ARG_STR, &out, "FILE", "packed safetensors file to write", 0, -1},
    };
    const bb_cmd_spec spec = {"export", "Write the packed inference weights of a checkpoint (safetensors, format in metadata).",
                              "--ckpt FILE [--precision P] [--nf4-double-quant on|off] --out FILE", args, 4, 0, 0,
                              "eval ppl, eval mt, generate and bench infer accept the packed file as --ckpt."};
    bb_args_parse(&spec, argc, argv, NULL);
    if (!ckpt || !out) bb_usage_error("export", "--ckpt and --out are required");
    int asked = precision ? bb_precision_parse(precision) : -1;
    if (precision && asked < 0) bb_usage_error("export", "unknown --precision '%s'", precision);
    if (nf4_dq && asked != BB_PREC_NF4)
        bb_usage_error("export", "--nf4-double-quant applies to --precision nf4, not %s",
                       asked < 0 ? "the checkpoint's precision" : bb_precisions[asked].name);
    char err[700];
    bb_model src;
    bb_ckpt_info info;
    if (bb_checkpoint_load(&src, ckpt, &bb_backend_cpu, false, &info, err, sizeof err) != 0) bb_user_error("%s", err);
    bb_model *m = &src, ptq;
    int want = precision ? asked : (int)src.cfg.precision;
    if (want != (int)src.cfg.precision || (nf4_dq && strcmp(nf4_dq, src.cfg.nf4_no_double_quant ? "off" : "on") != 0)) {
        if (src.cfg.precision != BB_PREC_FP32)
            bb_user_error("the checkpoint was trained at %s; it exports only at that precision",
                          bb_precisions[src.cfg.precision].name);
        if (bb_precisions[want].subln)
            bb_user_error("%s needs a model trained at %s (SubLN gains); train with --precision %s",
                          bb_precisions[want].name, bb_precisions[want].name, bb_precisions[want].name);
        bb_config cfg = src.cfg;  /* post-training quantization: same tensors, quantized linears */
        bb_config_set_precision(&cfg, bb_precisions[want].name, err, sizeof err);
        bb_nf4_dq_apply(nf4_dq, "export", &cfg);
        if (bb_model_init(&ptq, &cfg, &bb_backend_cpu, false, err, sizeof err) != 0) bb_user_error("%s", err);
        memcpy(ptq.params_mem, src.params_mem, src.n_params * sizeof(float));
        bb_model_requantize(&ptq);
        m = &ptq;
    }
    size_t bytes = 0;
    if (bb_export_packed(m, out, &info, &bytes, err, sizeof err) != 0) bb_user_error("%s", err);
    double fp32 = (double)m->n_params * 4.0;
    printf("exported %s at %s%s: %zu bytes (%.2f MiB); FP32 parameters %.2f MiB; %.2fx smaller\n", ckpt,
           bb_precisions[m->cfg.precision].name,
           m->cfg.precision != BB_PREC_NF4 ? "" : m->cfg.nf4_no_double_quant ? " (fp32 absmax)" : " (double-quant)", bytes, bytes / 1048576.0, fp32 / 1048576.0, fp32 / (double)bytes);
    double qn = 0;
    int qp[] = {BB_P_QKVW, BB_P_ATTPROJW, BB_P_FCW, BB_P_FCPROJW};
    for (int k = 0; k < 4; k++) qn += (double)m->specs[qp[k]].numel;
    const bb_config *c = &m->cfg;
    bool tied = m->specs[BB_P_LMHEAD].numel == 0;
    if (!c->quant_head && !c->quant_embed)
        printf("  quantized linears: %.2fM weights; everything else (embeddings, head, norms) stays FP32\n", qn / 1e6);
    else  /* config.h quant_head / quant_embed; a tied table quantized for both uses is packed once */
        printf("  quantized linears %.2fM weights%s%s; FP32: %s%s%snorms%s\n", qn / 1e6,
               c->quant_head ? ", LM head (quant_head)" : "", c->quant_embed ? ", token embedding (quant_embed)" : "",
               c->quant_embed ? "" : "token embedding, ", c->quant_head ? "" : "head, ",
               m->specs[BB_P_WPE].numel ? "positions (wpe), " : "",
               tied && c->quant_head != c->quant_embed ? " (the tied wte is stored both FP32 and packed)" : "");

    if (m == &ptq) bb_model_free(&ptq);
    bb_model_free(&src);
    return 0;
}
