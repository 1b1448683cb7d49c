/* lora_io.c — a frozen base from a checkpoint or packed export, adapter files and merge
 * (lora.h). */
#include "../common/check.h"
#include "../common/json_parse.h"
#include "../common/sha256.h"
#include "alloc.h"
#include "export.h"
#include "lora.h"
#include "safetensors.h"
#include <cblas.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT "bitbench-lora/1"

/* PEFT-like module names of the quantized linears, per family (lora.h). */
static const char *const module_names[BB_FAMILY_COUNT][BB_N_QUANTIZED] = {
    [BB_FAMILY_GPT2] = {"attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"},
    [BB_FAMILY_LLAMA] = {"self_attn.qkv_proj", "self_attn.o_proj", "mlp.gate_up_proj", "mlp.down_proj"},
};
static const char *const layer_prefix[BB_FAMILY_COUNT] = {
    [BB_FAMILY_GPT2] = "base_model.model.transformer.h.", [BB_FAMILY_LLAMA] = "base_model.model.model.layers."};

static void tensor_name(char *out, size_t cap, bb_family f, int k, int l, int is_b) {
    snprintf(out, cap, "%s%d.%s.lora_%c.weight", layer_prefix[f], l, module_names[f][k], is_b ? 'B' : 'A');
}

static void file_sha(const bb_safetensors *st, char hex[65]) {
    uint8_t d[32];
    bb_sha256_buffer(st->file, 8 + st->header_len + st->buffer_len, d);
    bb_sha256_hex(d, hex);
}

static void read_info(const bb_safetensors *st, bb_ckpt_info *info) {
    memset(info, 0, sizeof *info);
    const char *tok = bb_safetensors_meta(st, "tokenizer"), *step = bb_safetensors_meta(st, "step");
    const char *seed = bb_safetensors_meta(st, "seed"), *producer = bb_safetensors_meta(st, "producer");
    snprintf(info->tokenizer, sizeof info->tokenizer, "%s", tok ? tok : "");
    snprintf(info->producer, sizeof info->producer, "%s", producer ? producer : "");
    info->step = step ? strtol(step, NULL, 10) : 0;
    info->seed = seed ? strtoull(seed, NULL, 10) : 0;
}

/* ---- the frozen base ------------------------------------------------------------------ */

int bb_lora_load_base(bb_model *m, const char *path, int precision, const bb_prec_opts *opts, const bb_backend *be,
                      bb_ckpt_info *info, char sha_hex[65], char *err, size_t err_len) {
    bb_safetensors st;
    char inner[400];
    memset(m, 0, sizeof *m);
    if (bb_safetensors_open(&st, path, err, err_len) != 0) return -1;
    int rc = -1;
    const char *format = bb_safetensors_meta(&st, "format"), *config = bb_safetensors_meta(&st, "config");
    bool packed = format && strcmp(format, "bitbench-packed/1") == 0;
    if (!packed && (!format || strcmp(format, "bitbench-checkpoint/1") != 0)) {
        snprintf(err, err_len, "'%s' is neither a bitbench checkpoint nor a packed export (format '%.40s')", path,
                 format ? format : "(none)");
        goto done;
    }
    bb_config cfg;
    if (!config || bb_config_from_json(&cfg, config, strlen(config), inner, sizeof inner) != 0) {
        snprintf(err, err_len, "base '%s': %s", path, config ? inner : "no config in metadata");
        goto done;
    }
    if (precision >= 0 && precision != (int)cfg.precision) {
        const bb_precision_traits *want = &bb_precisions[precision], *have = &bb_precisions[cfg.precision];
        if (packed) {
            snprintf(err, err_len, "base '%s' is a packed %s export: it can be a base only at %s (quantize the "
                     "training checkpoint instead)", path, have->name, have->name);
            goto done;
        }
        if (want->subln != have->subln) {
            snprintf(err, err_len, "a %s base needs a model %s SubLN norms, and '%s' (%s) has %s", want->name,
                     want->subln ? "with" : "without", path, have->name, have->subln ? "them" : "none");
            goto done;
        }
        int group = cfg.group;
        if (bb_config_set_precision(&cfg, want->name, inner, sizeof inner) != 0) {
            snprintf(err, err_len, "%s", inner);
            goto done;
        }
        cfg.group = group;
        if (opts) {
            cfg.group = opts->group;
            cfg.act_quant = opts->act;
            cfg.nf4_no_double_quant = opts->nf4_no_double_quant;
        }
    }
    if (bb_model_init_frozen(m, &cfg, be, inner, sizeof inner) != 0) {
        snprintf(err, err_len, "base '%s': %s", path, inner);
        goto done;
    }
    int L = cfg.n_layer;
    float *tmp = NULL;
    for (int i = 0; i < BB_N_PARAMS; i++)
        if (m->params.t[i] &&
            bb_checkpoint_read_tensor(&st, path, m->specs[i].name, &m->specs[i], m->params.t[i], err, err_len) != 0)
            goto fail;
    for (int k = 0; k < BB_N_QUANTIZED; k++) {
        const bb_tensor_spec *s = &m->specs[bb_quantized_params[k]];
        size_t per = s->numel / (size_t)L;
        const bb_st_entry *e = packed ? NULL : bb_safetensors_find(&st, s->name);
        if (!packed) {  /* the FP32 masters, checked like any checkpoint tensor, packed layer by layer */
            bool ok = e && e->dtype == BB_DT_F32 && e->ndim == 3 && e->shape[0] == (int64_t)s->shape[0] &&
                      e->shape[1] == (int64_t)s->shape[1] && e->shape[2] == (int64_t)s->shape[2];
            if (!ok) {
                snprintf(err, err_len, "base '%s' lacks F32 tensor '%s' of %zux%zux%zu", path, s->name, s->shape[0],
                         s->shape[1], s->shape[2]);
                goto fail;
            }
            bb_free(tmp);
            tmp = bb_alloc(BB_MEM_WORKSPACE, per * sizeof(float));
        }
        for (int l = 0; l < L; l++) {
            if (packed) {
                if (bb_packed_read_matrix(m, &st, path, k, l, bb_model_packed_at(m, k, l), NULL, err, err_len) != 0)
                    goto fail;
                continue;
            }
            memcpy(tmp, (const char *)e->data + per * (size_t)l * sizeof(float), per * sizeof(float));  /* unaligned */
            bb_model_pack_base(m, k, l, tmp);
        }
    }
    bb_free(tmp);
    if (info) read_info(&st, info);
    if (sha_hex) file_sha(&st, sha_hex);
    rc = 0;
    goto done;
fail:
    bb_free(tmp);
    bb_model_free(m);
done:
    bb_safetensors_close(&st);
    return rc;
}

int bb_lora_base_from_model(bb_model *m, const bb_model *src, char *err, size_t err_len) {
    if (!src->params.t[BB_P_QKVW] || src->frozen_quant) {
        snprintf(err, err_len, "the source model has no FP32 masters to pack");
        return -1;
    }
    if (bb_model_init_frozen(m, &src->cfg, src->be, err, err_len) != 0) return -1;
    for (int i = 0; i < BB_N_PARAMS; i++)
        if (m->params.t[i]) memcpy(m->params.t[i], src->params.t[i], m->specs[i].numel * sizeof(float));
    int L = src->cfg.n_layer;
    for (int k = 0; k < BB_N_QUANTIZED; k++) {
        int i = bb_quantized_params[k];
        size_t per = src->specs[i].numel / (size_t)L;
        for (int l = 0; l < L; l++) bb_model_pack_base(m, k, l, src->params.t[i] + per * (size_t)l);
    }
    return 0;
}

/* ---- adapter files ----------------------------------------------------------------------- */

static void lora_config_json(const bb_model *m, char *out, size_t cap) {
    const bb_lora_config *c = &m->lora->cfg;
    char targets[200] = "";
    size_t n = 0;
    for (int k = 0; k < BB_N_QUANTIZED; k++)
        if (c->targets & (1u << k))
            n += (size_t)snprintf(targets + n, sizeof targets - n, "%s\"%s\"", n ? ", " : "",
                                  module_names[m->cfg.family][k]);
    snprintf(out, cap,
             "{\"peft_type\": \"LORA\", \"r\": %d, \"lora_alpha\": %.9g, \"lora_dropout\": %.9g, \"use_rslora\": %s, "
             "\"bias\": \"none\", \"fan_in_fan_out\": false, \"init_lora_weights\": true, \"target_modules\": [%s], "
             "\"scaling\": %.9g}",
             c->r, (double)c->alpha, (double)c->dropout, c->rslora ? "true" : "false", targets,
             (double)m->lora->scaling);
}

static int lora_config_from_json(bb_lora_config *c, bb_family f, const char *json, char *err, size_t err_len) {
    char perr[200];
    bb_json_doc *doc = bb_json_parse(json, strlen(json), perr, sizeof perr);
    if (!doc) { snprintf(err, err_len, "lora_config is not valid JSON (%s)", perr); return -1; }
    const bb_json_node *root = bb_json_doc_root(doc), *r = bb_json_get(root, "r");
    const bb_json_node *alpha = bb_json_get(root, "lora_alpha"), *drop = bb_json_get(root, "lora_dropout");
    const bb_json_node *rs = bb_json_get(root, "use_rslora"), *tm = bb_json_get(root, "target_modules");
    int rc = -1;
    if (!r || !r->is_int || r->integer < 1 || r->integer > 4096 || !alpha || alpha->type != BB_JSON_NUMBER ||
        !(alpha->number > 0) || !drop || drop->type != BB_JSON_NUMBER || !(drop->number >= 0 && drop->number < 1) ||
        !rs || rs->type != BB_JSON_BOOL || !tm || tm->type != BB_JSON_ARRAY) {
        snprintf(err, err_len, "lora_config lacks a valid r, lora_alpha, lora_dropout, use_rslora or target_modules");
        goto done;
    }
    *c = (bb_lora_config){.r = (int)r->integer, .alpha = (float)alpha->number, .dropout = (float)drop->number,
                          .rslora = rs->boolean, .targets = 0};
    for (const bb_json_node *t = tm->child; t; t = t->next) {
        int k = -1;
        for (int j = 0; j < BB_N_QUANTIZED && t->type == BB_JSON_STRING; j++)
            if (strcmp(t->str, module_names[f][j]) == 0) k = j;
        if (k < 0) {
            snprintf(err, err_len, "lora_config has a target module this %s model lacks", bb_family_name(f));
            goto done;
        }
        c->targets |= 1u << k;
    }
    rc = c->targets ? 0 : -1;
    if (rc) snprintf(err, err_len, "lora_config has no target modules");
done:
    bb_json_doc_free(doc);
    return rc;
}

int bb_lora_save(const bb_model *m, const char *path, const bb_lora_file_info *fi, long step, char *err,
                 size_t err_len) {
    const bb_lora *lo = m->lora;
    BB_CHECK(lo != NULL);
    int L = m->cfg.n_layer, n = 0, r = lo->cfg.r;
    bb_st_tensor *t = bb_alloc(BB_MEM_OTHER, (size_t)2 * BB_N_QUANTIZED * L * sizeof *t);
    char (*names)[160] = bb_alloc(BB_MEM_OTHER, (size_t)2 * BB_N_QUANTIZED * L * 160);
    for (int l = 0; l < L; l++)
        for (int k = 0; k < BB_N_QUANTIZED; k++) {
            if (!lo->params.t[2 * k]) continue;
            int64_t in = (int64_t)bb_lora_in_features(m, k), out = (int64_t)bb_lora_out_features(m, k);
            for (int is_b = 0; is_b < 2; is_b++) {
                tensor_name(names[n], 160, m->cfg.family, k, l, is_b);
                const float *data = lo->params.t[2 * k + is_b] + (size_t)l * (size_t)(r * (is_b ? out : in));
                t[n] = (bb_st_tensor){.name = names[n], .dtype = BB_DT_F32, .ndim = 2,
                                      .shape = {is_b ? out : r, is_b ? r : in}, .data = data};
                n++;
            }
        }
    char config[512], lcfg[700], stepb[32], seed[32];
    bb_config_to_json(&m->cfg, config, sizeof config);
    lora_config_json(m, lcfg, sizeof lcfg);
    snprintf(stepb, sizeof stepb, "%ld", step);
    snprintf(seed, sizeof seed, "%" PRIu64, fi ? fi->seed : 0);
    const char *keys[] = {"format", "lora_config", "config", "base_sha256", "tokenizer", "step", "seed", "producer"};
    const char *vals[] = {FORMAT, lcfg, config, fi ? fi->base_sha256 : "", fi ? fi->tokenizer : "", stepb, seed,
                          fi ? fi->producer : "bitbench"};
    int rc = bb_safetensors_write(path, t, n, keys, vals, 8, err, err_len);
    bb_free(names);
    bb_free(t);
    return rc;
}

/* Opens an adapter file and reads its metadata: the base config and the LoRA config. */
static int open_adapters(bb_safetensors *st, const char *path, bb_config *cfg, bb_lora_config *lc,
                         bb_lora_file_info *fi, char *err, size_t err_len) {
    if (bb_safetensors_open(st, path, err, err_len) != 0) return -1;
    const char *format = bb_safetensors_meta(st, "format"), *config = bb_safetensors_meta(st, "config");
    const char *lcfg = bb_safetensors_meta(st, "lora_config");
    char inner[400];
    if (!format || strcmp(format, FORMAT) != 0) {
        snprintf(err, err_len, "'%s' is not a bitbench LoRA adapter file (format '%.40s')", path,
                 format ? format : "(none)");
        goto fail;
    }
    if (!config || bb_config_from_json(cfg, config, strlen(config), inner, sizeof inner) != 0 || !lcfg ||
        lora_config_from_json(lc, cfg->family, lcfg, inner, sizeof inner) != 0) {
        snprintf(err, err_len, "adapters '%s': %s", path, config && lcfg ? inner : "no config or lora_config");
        goto fail;
    }
    if (fi) {
        memset(fi, 0, sizeof *fi);
        const char *sha = bb_safetensors_meta(st, "base_sha256"), *tok = bb_safetensors_meta(st, "tokenizer");
        const char *seed = bb_safetensors_meta(st, "seed"), *producer = bb_safetensors_meta(st, "producer");
        snprintf(fi->base_sha256, sizeof fi->base_sha256, "%s", sha ? sha : "");
        snprintf(fi->tokenizer, sizeof fi->tokenizer, "%s", tok ? tok : "");
        snprintf(fi->producer, sizeof fi->producer, "%s", producer ? producer : "");
        fi->seed = seed ? strtoull(seed, NULL, 10) : 0;
    }
    return 0;
fail:
    bb_safetensors_close(st);
    return -1;
}

/* The F32 (rows, cols) tensor A or B of linear k, layer l, checked. */
static const float *adapter_tensor(const bb_safetensors *st, const char *path, bb_family f, int k, int l, int is_b,
                                   int64_t rows, int64_t cols, char *err, size_t err_len) {
    char name[160];
    tensor_name(name, sizeof name, f, k, l, is_b);
    const bb_st_entry *e = bb_safetensors_find(st, name);
    if (!e || e->dtype != BB_DT_F32 || e->ndim != 2 || e->shape[0] != rows || e->shape[1] != cols) {
        snprintf(err, err_len, "adapters '%s' lack F32 tensor '%s' of %" PRId64 "x%" PRId64, path, name, rows, cols);
        return NULL;
    }
    return e->data;
}

static bool same_shapes(const bb_config *a, const bb_config *b) {
    return a->family == b->family && a->n_layer == b->n_layer && a->n_embd == b->n_embd && a->n_head == b->n_head &&
           a->n_kv_head == b->n_kv_head && a->vocab_size == b->vocab_size && a->max_seq == b->max_seq &&
           a->ffn_hidden == b->ffn_hidden;
}

int bb_lora_load(bb_model *m, const char *path, bb_lora_file_info *fi, char *err, size_t err_len) {
    bb_safetensors st;
    bb_config cfg;
    bb_lora_config lc;
    if (open_adapters(&st, path, &cfg, &lc, fi, err, err_len) != 0) return -1;
    int rc = -1;
    /* the same forward numerics too: activation quantization and the 16-bit residual stream */
    if (!same_shapes(&cfg, &m->cfg) || cfg.precision != m->cfg.precision || cfg.group != m->cfg.group ||
        cfg.act_quant != m->cfg.act_quant || cfg.half_residual != m->cfg.half_residual) {
        snprintf(err, err_len, "adapters '%s' were trained on a different base (shapes, precision %s vs %s, or "
                 "act_quant/half_residual)", path, bb_precisions[cfg.precision].name, bb_precisions[m->cfg.precision].name);
        goto done;
    }
    if (bb_lora_attach(m, &lc, fi ? fi->seed : 0, err, err_len) != 0) goto done;
    for (int k = 0; k < BB_N_QUANTIZED; k++) {
        if (!m->lora->params.t[2 * k]) continue;
        int64_t in = (int64_t)bb_lora_in_features(m, k), out = (int64_t)bb_lora_out_features(m, k), r = lc.r;
        for (int l = 0; l < cfg.n_layer; l++)
            for (int is_b = 0; is_b < 2; is_b++) {
                const float *src = adapter_tensor(&st, path, cfg.family, k, l, is_b, is_b ? out : r, is_b ? r : in,
                                                  err, err_len);
                if (!src) goto done;
                size_t n = (size_t)(r * (is_b ? out : in));
                memcpy(m->lora->params.t[2 * k + is_b] + (size_t)l * n, src, n * sizeof(float));
            }
    }
    rc = 0;
done:
    if (rc && m->lora) {
        bb_lora_free(m->lora);
        m->lora = NULL;
    }
    bb_safetensors_close(&st);
    return rc;
}

/* ---- merge -------------------------------------------------------------------------------- */

int bb_lora_merge(const char *base_path, const char *adapters_path, const char *out_path, const bb_backend *be,
                  char *err, size_t err_len) {
    bb_safetensors st;
    bb_config acfg;
    bb_lora_config lc;
    bb_lora_file_info fi;
    if (open_adapters(&st, adapters_path, &acfg, &lc, &fi, err, err_len) != 0) return -1;
    int rc = -1;
    bb_model m = {0};
    float *w = NULL;
    uint8_t *pk = NULL;
    uint8_t digest[32];
    char sha[65];
    if (bb_sha256_file(base_path, digest) != 0) {
        snprintf(err, err_len, "cannot read base '%s'", base_path);
        goto done;
    }
    bb_sha256_hex(digest, sha);
    if (fi.base_sha256[0] && strcmp(sha, fi.base_sha256) != 0) {
        snprintf(err, err_len, "adapters '%s' were trained on a base with SHA-256 %.16s..., '%s' is %.16s...",
                 adapters_path, fi.base_sha256, base_path, sha);
        goto done;
    }
    bb_ckpt_info info;
    if (bb_checkpoint_load(&m, base_path, be, false, &info, err, err_len) != 0) goto done;
    if (m.cfg.quant_head || m.cfg.quant_embed) {  /* LoRA never ran on such a base (bb_model_init_frozen) */
        snprintf(err, err_len, "base '%s' has a quantized %s; LoRA bases keep them FP32, so nothing was trained to merge into it",
                 base_path, m.cfg.quant_head ? "LM head (quant_head)" : "embedding (quant_embed)");
        goto done;
    }
    if (!same_shapes(&acfg, &m.cfg) || bb_precisions[acfg.precision].subln != bb_precisions[m.cfg.precision].subln) {
        snprintf(err, err_len, "adapters '%s' do not fit the shapes of base '%s'", adapters_path, base_path);
        goto done;
    }
    /* the base the adapters saw: each quantized linear at the adapters' precision,
     * dequantized (a packed export already holds those values: its codes were kept) */
    const bb_precision_traits *pt = &bb_precisions[acfg.precision];
    bb_prec_opts o = bb_config_prec_opts(&acfg);
    bool requantize = !m.frozen_quant;
    float scaling = bb_lora_scaling(&lc);
    int L = acfg.n_layer, r = lc.r;
    for (int k = 0; k < BB_N_QUANTIZED; k++) {
        int i = bb_quantized_params[k];
        int OC = (int)m.specs[i].shape[1], C = (int)m.specs[i].shape[2];
        size_t per = (size_t)OC * C;
        bb_free(pk);
        pk = bb_alloc(BB_MEM_WORKSPACE, pt->packed_size(OC, C, &o) + 64);
        for (int l = 0; l < L; l++) {
            w = m.params.t[i] + per * (size_t)l;
            if (requantize) {
                pt->pack(pk, w, OC, C, &o);
                pt->unpack(w, pk, OC, C, &o);
            }
            if (!(lc.targets & (1u << k))) continue;
            const float *A = adapter_tensor(&st, adapters_path, acfg.family, k, l, 0, r, C, err, err_len);
            const float *B = A ? adapter_tensor(&st, adapters_path, acfg.family, k, l, 1, OC, r, err, err_len) : NULL;
            if (!B) goto done;
            float *Ac = bb_alloc(BB_MEM_WORKSPACE, (size_t)r * C * sizeof(float));
            float *Bc = bb_alloc(BB_MEM_WORKSPACE, (size_t)OC * r * sizeof(float));
            memcpy(Ac, A, (size_t)r * C * sizeof(float));  /* file data may be unaligned */
            memcpy(Bc, B, (size_t)OC * r * sizeof(float));
            /* W (OC, C) += scaling B (OC, r) A (r, C)  (PEFT get_delta_weight) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, OC, C, r, scaling, Bc, r, Ac, C, 1.0f, w, C);
            bb_free(Ac);
            bb_free(Bc);
        }
    }
    m.cfg.precision = acfg.precision;
    m.cfg.act_quant = acfg.act_quant;
    m.cfg.group = acfg.group;
    m.cfg.nf4_no_double_quant = acfg.nf4_no_double_quant;
    char targets[64];
    bb_lora_targets_name(lc.targets, targets, sizeof targets);
    snprintf(info.train_json, sizeof info.train_json,
             "{\"merged\": {\"base\": \"%s\", \"adapters\": \"%s\", \"r\": %d, \"scaling\": %.9g, \"targets\": \"%s\", "
             "\"base_precision\": \"%s\"}}",
             base_path, adapters_path, r, (double)scaling, targets, pt->name);
    m.step = (int)info.step;
    rc = bb_checkpoint_save(&m, out_path, &info, err, err_len);
done:
    bb_free(pk);
    if (m.params_mem) bb_model_free(&m);
    bb_safetensors_close(&st);
    return rc;
}
