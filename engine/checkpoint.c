/* checkpoint.c — see checkpoint.h. */
#include "checkpoint.h"
#include "../common/json_parse.h"
#include "alloc.h"
#include "export.h"
#include "safetensors.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT "bitbench-checkpoint/1"

void bb_config_to_json(const bb_config *c, char *out, size_t cap) {
    int n = snprintf(out, cap,
             "{\"family\": \"%s\", \"n_layer\": %d, \"n_embd\": %d, \"n_head\": %d, \"n_kv_head\": %d, "
             "\"vocab_size\": %d, \"max_seq\": %d, \"ffn_hidden\": %d, \"norm_eps\": %.9g, \"rope_theta\": %.9g, "
             "\"precision\": \"%s\", \"group\": %d, \"act_quant\": \"%s\"}",
             bb_family_name(c->family), c->n_layer, c->n_embd, c->n_head, c->n_kv_head, c->vocab_size, c->max_seq,
             c->ffn_hidden, (double)c->norm_eps, (double)c->rope_theta, bb_precisions[c->precision].name, c->group,
             c->act_quant == BB_ACTQ_INT8_BLOCK ? "block" : "token");
    /* nf4 only, so the other precisions' configs stay as they were */
    if (c->precision == BB_PREC_NF4 && n > 1 && (size_t)n < cap)
        snprintf(out + n - 1, cap - (size_t)n + 1, ", \"nf4_double_quant\": %s}", c->nf4_no_double_quant ? "false" : "true");
    /* only when on, likewise */
    n = (int)strlen(out);
    if (c->quant_head && n > 1 && (size_t)n < cap) snprintf(out + n - 1, cap - (size_t)n + 1, ", \"quant_head\": true}");
    n = (int)strlen(out);
    if (c->quant_embed && n > 1 && (size_t)n < cap) snprintf(out + n - 1, cap - (size_t)n + 1, ", \"quant_embed\": true}");
    n = (int)strlen(out);
    if (c->half_residual && n > 1 && (size_t)n < cap)
        snprintf(out + n - 1, cap - (size_t)n + 1, ", \"half_residual\": true}");
}

int bb_config_from_json(bb_config *c, const char *json, size_t len, char *err, size_t err_len) {
    char perr[200];
    bb_json_doc *doc = bb_json_parse(json, len, perr, sizeof perr);
    if (!doc) { snprintf(err, err_len, "config is not valid JSON (%s)", perr); return -1; }
    const bb_json_node *root = bb_json_doc_root(doc);
    int rc = -1;
    memset(c, 0, sizeof *c);
    const bb_json_node *fam = bb_json_get(root, "family");
    if (!fam || fam->type != BB_JSON_STRING) { snprintf(err, err_len, "config has no family"); goto done; }
    int f = -1;
    for (int i = 0; i < BB_FAMILY_COUNT; i++)
        if (strcmp(fam->str, bb_family_name((bb_family)i)) == 0) f = i;
    if (f < 0) { snprintf(err, err_len, "config has unknown family '%.40s'", fam->str); goto done; }
    c->family = (bb_family)f;
    struct { const char *key; int *dst; } ints[] = {
        {"n_layer", &c->n_layer}, {"n_embd", &c->n_embd}, {"n_head", &c->n_head}, {"n_kv_head", &c->n_kv_head},
        {"vocab_size", &c->vocab_size}, {"max_seq", &c->max_seq}, {"ffn_hidden", &c->ffn_hidden}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        const bb_json_node *v = bb_json_get(root, ints[i].key);
        if (!v || v->type != BB_JSON_NUMBER || !v->is_int || v->integer <= 0 || v->integer > (1 << 30)) {
            snprintf(err, err_len, "config field %s is missing or not a positive integer", ints[i].key);
            goto done;
        }
        *ints[i].dst = (int)v->integer;
    }
    const bb_json_node *eps = bb_json_get(root, "norm_eps"), *theta = bb_json_get(root, "rope_theta");
    if (!eps || eps->type != BB_JSON_NUMBER || !(eps->number > 0) || !theta || theta->type != BB_JSON_NUMBER ||
        !(theta->number > 0)) {
        snprintf(err, err_len, "config fields norm_eps/rope_theta are missing or not positive numbers");
        goto done;
    }
    c->norm_eps = (float)eps->number;
    c->rope_theta = (float)theta->number;
    /* precision fields: optional (FP32 checkpoints of earlier versions have none) */
    c->group = 32;
    const bb_json_node *prec = bb_json_get(root, "precision"), *group = bb_json_get(root, "group");
    const bb_json_node *actq = bb_json_get(root, "act_quant");
    if (bb_config_set_precision(c, prec && prec->type == BB_JSON_STRING ? prec->str : "fp32", err, err_len) != 0)
        goto done;
    if (group && group->type == BB_JSON_NUMBER && group->is_int) c->group = (int)group->integer;
    if (actq && actq->type == BB_JSON_STRING && strcmp(actq->str, "block") == 0) c->act_quant = BB_ACTQ_INT8_BLOCK;
    const bb_json_node *dq = bb_json_get(root, "nf4_double_quant");
    if (dq && dq->type == BB_JSON_BOOL && !dq->boolean) c->nf4_no_double_quant = true;
    struct { const char *key; bool *dst; } flags[] = {{"quant_head", &c->quant_head}, {"quant_embed", &c->quant_embed},
                                                      {"half_residual", &c->half_residual}};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {  /* absent: off (files from before the flags) */
        const bb_json_node *v = bb_json_get(root, flags[i].key);
        if (v && v->type != BB_JSON_BOOL) { snprintf(err, err_len, "config field %s is not true or false", flags[i].key); goto done; }
        *flags[i].dst = v && v->boolean;
    }
    rc = bb_config_validate(c, err, err_len);
done:
    bb_json_doc_free(doc);
    return rc;
}

static bb_st_tensor tensor_of(const char *name, const bb_tensor_spec *s, const float *data) {
    bb_st_tensor t = {.name = name, .dtype = BB_DT_F32, .ndim = s->ndim, .data = data};
    for (int d = 0; d < s->ndim; d++) t.shape[d] = (int64_t)s->shape[d];
    return t;
}

int bb_checkpoint_save(const bb_model *m, const char *path, const bb_ckpt_info *info, char *err, size_t err_len) {
    if (m->frozen_base) {
        snprintf(err, err_len, "a LoRA model's base is frozen and packed: save its adapters (--save with --lora)");
        return -1;
    }
    bb_st_tensor tensors[3 * BB_N_PARAMS];
    char names[3 * BB_N_PARAMS][64];
    int n = 0;
    bool optim = m->m_mem != NULL;
    for (int pass = 0; pass < (optim ? 3 : 1); pass++)
        for (int i = 0; i < BB_N_PARAMS; i++) {
            if (!m->specs[i].numel) continue;
            const char *prefix = pass == 0 ? "" : pass == 1 ? "optim.m." : "optim.v.";
            const float *data = pass == 0 ? m->params.t[i] : pass == 1 ? m->m.t[i] : m->v.t[i];
            snprintf(names[n], sizeof names[n], "%s%s", prefix, m->specs[i].name);
            tensors[n] = tensor_of(names[n], &m->specs[i], data);
            n++;
        }
    char config[512], step[32], seed[32];
    bb_config_to_json(&m->cfg, config, sizeof config);
    snprintf(step, sizeof step, "%d", m->step);
    snprintf(seed, sizeof seed, "%" PRIu64, info ? info->seed : 0);
    const char *keys[] = {"format", "config", "tokenizer", "step", "seed", "train", "producer"};
    const char *values[] = {FORMAT, config, info ? info->tokenizer : "", step, seed,
                            info && info->train_json[0] ? info->train_json : "{}", info ? info->producer : "bitbench"};
    return bb_safetensors_write(path, tensors, n, keys, values, 7, err, err_len);
}

int bb_checkpoint_read_tensor(const void *stv, const char *path, const char *name, const bb_tensor_spec *s,
                              float *dst, char *err, size_t err_len) {
    const bb_safetensors *st = stv;
    const bb_st_entry *e = bb_safetensors_find(st, name);
    if (!e) { snprintf(err, err_len, "checkpoint '%s' lacks tensor '%s'", path, name); return -1; }
    bool ok = e->dtype == BB_DT_F32 && e->ndim == s->ndim;
    for (int d = 0; ok && d < s->ndim; d++) ok = e->shape[d] == (int64_t)s->shape[d];
    if (!ok) {
        snprintf(err, err_len, "checkpoint '%s': tensor '%s' is %s with %d dims, expected F32 %zux%zux%zu", path, name,
                 bb_dtype_name(e->dtype), e->ndim, s->shape[0], s->ndim > 1 ? s->shape[1] : 1,
                 s->ndim > 2 ? s->shape[2] : 1);
        return -1;
    }
    memcpy(dst, e->data, s->numel * sizeof(float));
    return 0;
}

int bb_checkpoint_load(bb_model *m, const char *path, const bb_backend *be, bool training, bb_ckpt_info *info,
                       char *err, size_t err_len) {
    bb_model_opts o = {.training = training, .forward_only = false, .mem_charge = BB_MEM_COUNT};
    return bb_checkpoint_load_opts(m, path, be, &o, info, err, err_len);
}

int bb_checkpoint_load_opts(bb_model *m, const char *path, const bb_backend *be, const bb_model_opts *opts,
                            bb_ckpt_info *info, char *err, size_t err_len) {
    bool training = opts->training;
    bb_safetensors st;
    char inner[400];
    memset(m, 0, sizeof *m);
    if (bb_safetensors_open(&st, path, err, err_len) != 0) return -1;
    int rc = -1;
    const char *format = bb_safetensors_meta(&st, "format"), *config = bb_safetensors_meta(&st, "config");
    if (format && strcmp(format, "bitbench-packed/1") == 0) {
        if (training) {
            snprintf(err, err_len, "'%s' is a packed inference export: it has no master weights to train", path);
            goto done;
        }
        rc = bb_load_packed(m, &st, path, be, opts, info, err, err_len);
        goto done;
    }
    if (!format || strcmp(format, FORMAT) != 0) {
        snprintf(err, err_len, "'%s' is a safetensors file but not a bitbench checkpoint (format '%.40s')", path,
                 format ? format : "(none)");
        goto done;
    }
    bb_config cfg;
    if (!config || bb_config_from_json(&cfg, config, strlen(config), inner, sizeof inner) != 0) {
        snprintf(err, err_len, "checkpoint '%s': %s", path, config ? inner : "no config in metadata");
        goto done;
    }
    if (bb_model_init_opts(m, &cfg, be, opts, inner, sizeof inner) != 0) {
        snprintf(err, err_len, "checkpoint '%s': %s", path, inner);
        goto done;
    }
    const char *step = bb_safetensors_meta(&st, "step"), *seed = bb_safetensors_meta(&st, "seed");
    char *end;
    long step_v = step ? strtol(step, &end, 10) : -1;
    if (!step || *end || step_v < 0) { snprintf(err, err_len, "checkpoint '%s': bad 'step' metadata", path); goto fail; }
    for (int i = 0; i < BB_N_PARAMS; i++)
        if (m->specs[i].numel &&
            bb_checkpoint_read_tensor(&st, path, m->specs[i].name, &m->specs[i], m->params.t[i], err, err_len) != 0)
            goto fail;
    bb_model_requantize(m);
    if (training && bb_safetensors_find(&st, "optim.m.wte")) {
        char name[80];
        for (int i = 0; i < BB_N_PARAMS; i++) {
            if (!m->specs[i].numel) continue;
            snprintf(name, sizeof name, "optim.m.%s", m->specs[i].name);
            if (bb_checkpoint_read_tensor(&st, path, name, &m->specs[i], m->m.t[i], err, err_len) != 0) goto fail;
            snprintf(name, sizeof name, "optim.v.%s", m->specs[i].name);
            if (bb_checkpoint_read_tensor(&st, path, name, &m->specs[i], m->v.t[i], err, err_len) != 0) goto fail;
        }
        m->step = (int)step_v;
    }
    if (info) {
        memset(info, 0, sizeof *info);
        const char *tok = bb_safetensors_meta(&st, "tokenizer"), *train = bb_safetensors_meta(&st, "train");
        const char *producer = bb_safetensors_meta(&st, "producer");
        snprintf(info->tokenizer, sizeof info->tokenizer, "%s", tok ? tok : "");
        snprintf(info->train_json, sizeof info->train_json, "%s", train ? train : "");
        snprintf(info->producer, sizeof info->producer, "%s", producer ? producer : "");
        info->step = step_v;
        info->seed = seed ? strtoull(seed, NULL, 10) : 0;
    }
    rc = 0;
    goto done;
fail:
    bb_model_free(m);
done:
    bb_safetensors_close(&st);
    return rc;
}
