/* export.c — see export.h. */
#include "export.h"
#include "../precisions/formats.h"
#include "alloc.h"
#include "model_internal.h"
#include "safetensors.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT "bitbench-packed/1"

static const int quantized[] = {BB_P_QKVW, BB_P_ATTPROJW, BB_P_FCW, BB_P_FCPROJW};
enum { NQ = 4 };

static bool is_quantized(int i) {
    for (int k = 0; k < NQ; k++)
        if (quantized[k] == i) return true;
    return false;
}

/* Bytes of one (OC, C) matrix in the export: storage format for b158, else the compute
 * format. */
static size_t matrix_bytes(const bb_config *c, int OC, int C) {
    const bb_precision_traits *pt = &bb_precisions[c->precision];
    bb_prec_opts o = bb_config_prec_opts(c);
    return pt->storage_size ? pt->storage_size(OC, C) : pt->packed_size(OC, C, &o);
}

/* One layer matrix of param i. */
static size_t layer_bytes(const bb_model *m, int i) {
    return matrix_bytes(&m->cfg, (int)m->specs[i].shape[1], (int)m->specs[i].shape[2]);
}

/* The (V, C) tables quantized by configuration (config.h quant_head, quant_embed), each
 * packed like a linear under its own name. A tied gpt2 head and embedding quantized
 * together are one matrix (model.h: embed_q == head_q), stored once as head_q. */
typedef struct {
    const char *name;
    float *wq;   /* the model's fake-quant copy */
    int master;  /* the FP32 parameter it quantizes */
} quant_table;

static int quant_tables(const bb_model *m, quant_table out[2]) {
    bool tied = bb_family_traits[m->cfg.family].tied_head;
    int n = 0;
    if (m->cfg.quant_head) out[n++] = (quant_table){"head_q", m->head_q, tied ? BB_P_WTE : BB_P_LMHEAD};
    if (m->cfg.quant_embed && m->embed_q != m->head_q) out[n++] = (quant_table){"embed_q", m->embed_q, BB_P_WTE};
    return n;
}

/* Whether a model of config c still reads FP32 tensor i; if not, the file holds only its
 * packed form. */
static bool fp32_read(const bb_config *c, int i) {
    bool tied = bb_family_traits[c->family].tied_head;
    if (i == BB_P_LMHEAD) return !c->quant_head;
    if (i == BB_P_WTE) return !c->quant_embed || (tied && !c->quant_head);
    return true;
}

static void pack_matrix(const bb_config *c, uint8_t *dst, const float *w, int OC, int C) {
    const bb_precision_traits *pt = &bb_precisions[c->precision];
    bb_prec_opts o = bb_config_prec_opts(c);
    if (pt->storage_pack) pt->storage_pack(dst, w, OC, C);
    else pt->pack(dst, w, OC, C, &o);
}

int bb_export_packed(const bb_model *m, const char *path, const bb_ckpt_info *info, size_t *bytes_written, char *err,
                     size_t err_len) {
    const bb_config *c = &m->cfg;
    if (c->precision == BB_PREC_FP32) {
        snprintf(err, err_len, "an fp32 model has no packed form; export it at fp16, bf16, int8 or int4");
        return -1;
    }
    if (!m->params_mem || m->frozen_quant || m->frozen_base) {
        snprintf(err, err_len, "export needs the master weights (a training checkpoint, not a packed file)");
        return -1;
    }
    const bb_precision_traits *pt = &bb_precisions[c->precision];
    int L = c->n_layer, n = 0;
    bb_st_tensor *t = bb_alloc(BB_MEM_OTHER, (size_t)(BB_N_PARAMS + NQ * L + 2) * sizeof *t);
    char (*names)[64] = bb_alloc(BB_MEM_OTHER, (size_t)(BB_N_PARAMS + NQ * L + 2) * 64);
    uint8_t **bufs = bb_alloc(BB_MEM_OTHER, (size_t)(NQ * L + 2) * sizeof *bufs);
    int nb = 0;
    for (int i = 0; i < BB_N_PARAMS; i++) {
        const bb_tensor_spec *s = &m->specs[i];
        if (!s->numel) continue;
        if (!fp32_read(c, i)) continue;
        if (!is_quantized(i)) {
            t[n] = (bb_st_tensor){.name = s->name, .dtype = BB_DT_F32, .ndim = s->ndim, .data = m->params.t[i]};
            for (int d = 0; d < s->ndim; d++) t[n].shape[d] = (int64_t)s->shape[d];
            n++;
            continue;
        }
        int OC = (int)s->shape[1], C = (int)s->shape[2];
        size_t per = s->numel / (size_t)L, bytes = layer_bytes(m, i);
        for (int l = 0; l < L; l++) {
            uint8_t *b = bufs[nb++] = bb_alloc(BB_MEM_OTHER, bytes + 64);
            const float *w = m->params.t[i] + per * (size_t)l;
            pack_matrix(c, b, w, OC, C);
            snprintf(names[n], 64, "%s.%d", s->name, l);
            t[n] = (bb_st_tensor){.name = names[n], .dtype = BB_DT_U8, .ndim = 1, .shape = {(int64_t)bytes}, .data = b};
            n++;
        }
    }
    quant_table qt[2];
    for (int k = 0, nq = quant_tables(m, qt); k < nq; k++) {
        size_t bytes = matrix_bytes(c, c->vocab_size, c->n_embd);
        uint8_t *b = bufs[nb++] = bb_alloc(BB_MEM_OTHER, bytes + 64);
        pack_matrix(c, b, m->params.t[qt[k].master], c->vocab_size, c->n_embd);
        t[n++] = (bb_st_tensor){.name = qt[k].name, .dtype = BB_DT_U8, .ndim = 1, .shape = {(int64_t)bytes}, .data = b};
    }
    char config[512], step[32], packing[96];
    bb_config_to_json(c, config, sizeof config);
    snprintf(step, sizeof step, "%ld", info ? info->step : (long)m->step);
    snprintf(packing, sizeof packing, "%s/%s", pt->name, pt->storage_pack ? "tq1-trits-v1" : "compute-v1");
    const char *keys[8] = {"format", "config", "packing", "tokenizer", "step", "producer"};
    const char *vals[8] = {FORMAT, config, packing, info ? info->tokenizer : "", step, info ? info->producer : "bitbench"};
    int nkeys = 6;
    char code[400];
    if (c->precision == BB_PREC_NF4) { /* self-describing: the layout and the code book */
        int k = 0;
        for (int i = 0; i < 16 && k >= 0 && (size_t)k < sizeof code; i++)
            k += snprintf(code + k, sizeof code - (size_t)k, "%s%.9g", i ? "," : "", (double)bb_nf4_values[i]);
        keys[nkeys] = "nf4_layout", vals[nkeys++] = bb_nf4_layout_doc;
        keys[nkeys] = "nf4_code", vals[nkeys++] = code;
    }
    char tables[400];
    int nt = 0;
    for (int k = 0, nq = quant_tables(m, qt); k < nq && nt >= 0 && (size_t)nt < sizeof tables; k++)
        nt += snprintf(tables + nt, sizeof tables - (size_t)nt, "%s: %s (%d x %d) quantized and packed like a linear; ",
                       qt[k].name, m->specs[qt[k].master].name, c->vocab_size, c->n_embd);
    if (nt > 0 && (size_t)nt < sizeof tables) {  /* config.h quant_head / quant_embed */
        snprintf(tables + nt, sizeof tables - (size_t)nt, "an FP32 tensor is stored only while the model reads it in FP32");
        keys[nkeys] = "quant_tables", vals[nkeys++] = tables;
    }
    int rc = bb_safetensors_write(path, t, n, keys, vals, nkeys, err, err_len);
    if (rc == 0 && bytes_written) {
        FILE *f = fopen(path, "rb");
        *bytes_written = 0;
        if (f) {
            fseek(f, 0, SEEK_END);
            *bytes_written = (size_t)ftell(f);
            fclose(f);
        }
    }
    for (int k = 0; k < nb; k++) bb_free(bufs[k]);
    bb_free(bufs);
    bb_free(names);
    bb_free(t);
    return rc;
}

int bb_packed_read_matrix(const bb_model *m, const void *stv, const char *path, int k, int l, uint8_t *dst, float *wq,
                          char *err, size_t err_len) {
    const bb_safetensors *st = stv;
    const bb_config *c = &m->cfg;
    const bb_precision_traits *pt = &bb_precisions[c->precision];
    bb_prec_opts o = bb_config_prec_opts(c);
    int i = quantized[k];
    const bb_tensor_spec *s = &m->specs[i];
    int OC = (int)s->shape[1], C = (int)s->shape[2];
    size_t bytes = layer_bytes(m, i);
    char name[64];
    snprintf(name, sizeof name, "%s.%d", s->name, l);
    const bb_st_entry *e = bb_safetensors_find(st, name);
    if (!e || e->dtype != BB_DT_U8 || e->nbytes != bytes) {
        snprintf(err, err_len, "packed file '%s': tensor '%s' is missing or not %zu bytes of U8", path, name, bytes);
        return -1;
    }
    if (pt->storage_unpack) {  /* b158: trits -> exact fake-quant values and the 2-bit compute format */
        if (wq) pt->storage_unpack(wq, e->data, OC, C);
        pt->storage_to_packed(dst, e->data, OC, C);
    } else {
        memcpy(dst, e->data, bytes);
        if (wq) pt->unpack(wq, dst, OC, C, &o);
    }
    return 0;
}

int bb_load_packed(bb_model *m, const void *stv, const char *path, const bb_backend *be, const bb_model_opts *opts,
                   bb_ckpt_info *info, char *err, size_t err_len) {
    const bb_safetensors *st = stv;
    const char *config = bb_safetensors_meta(st, "config"), *packing = bb_safetensors_meta(st, "packing");
    char inner[400];
    bb_config cfg;
    if (!config || bb_config_from_json(&cfg, config, strlen(config), inner, sizeof inner) != 0) {
        snprintf(err, err_len, "packed file '%s': %s", path, config ? inner : "no config in metadata");
        return -1;
    }
    const bb_precision_traits *pt = &bb_precisions[cfg.precision];
    char want[96];
    snprintf(want, sizeof want, "%s/%s", pt->name, pt->storage_pack ? "tq1-trits-v1" : "compute-v1");
    if (!packing || strcmp(packing, want) != 0) {
        snprintf(err, err_len, "packed file '%s' has packing '%.40s', this build reads '%s'", path,
                 packing ? packing : "(none)", want);
        return -1;
    }
    if (bb_model_init_opts(m, &cfg, be, opts, inner, sizeof inner) != 0) {
        snprintf(err, err_len, "packed file '%s': %s", path, inner);
        return -1;
    }
    m->frozen_quant = true;
    int L = cfg.n_layer;
    for (int i = 0; i < BB_N_PARAMS; i++) {
        const bb_tensor_spec *s = &m->specs[i];
        if (!s->numel) continue;
        if (!fp32_read(&cfg, i)) continue;  /* filled from its packed form below */
        if (!is_quantized(i)) {
            const bb_st_entry *e = bb_safetensors_find(st, s->name);
            bool ok = e && e->dtype == BB_DT_F32 && e->nbytes == s->numel * sizeof(float);
            if (!ok) {
                snprintf(err, err_len, "packed file '%s' lacks FP32 tensor '%s' of %zu values", path, s->name, s->numel);
                bb_model_free(m);
                return -1;
            }
            memcpy(m->params.t[i], e->data, e->nbytes);
            continue;
        }
        int k = 0;
        while (quantized[k] != i) k++;
        size_t per = s->numel / (size_t)L;
        for (int l = 0; l < L; l++) {
            float *wq = m->wq.t[i] + per * (size_t)l;
            if (bb_packed_read_matrix(m, st, path, k, l, m->packed_mem + m->packed_off[k * L + l], wq, err, err_len)) {
                bb_model_free(m);
                return -1;
            }
            /* the masters are not in the file; keep the dequantized values in their place so
             * code that reads params (the reference path) sees the same weights */
            memcpy(m->params.t[i] + per * (size_t)l, wq, per * sizeof(float));
        }
    }
    /* the fake-quant head and embedding, exactly as training computed them (precision.h
     * contract: unpack(pack(W)) == fake_weights(W)) */
    quant_table qt[2];
    for (int k = 0, nq = quant_tables(m, qt); k < nq; k++) {
        size_t bytes = matrix_bytes(&cfg, cfg.vocab_size, cfg.n_embd), vc = (size_t)cfg.vocab_size * cfg.n_embd;
        const bb_st_entry *e = bb_safetensors_find(st, qt[k].name);
        if (!e || e->dtype != BB_DT_U8 || e->nbytes != bytes) {
            snprintf(err, err_len, "packed file '%s': tensor '%s' is missing or not %zu bytes of U8", path, qt[k].name,
                     bytes);
            bb_model_free(m);
            return -1;
        }
        bb_prec_opts o = bb_config_prec_opts(&cfg);
        uint8_t *tmp = bb_alloc(BB_MEM_OTHER, bytes + 64);  /* aligned, as the unpackers expect */
        memcpy(tmp, e->data, bytes);
        if (pt->storage_unpack) pt->storage_unpack(qt[k].wq, tmp, cfg.vocab_size, cfg.n_embd);
        else pt->unpack(qt[k].wq, tmp, cfg.vocab_size, cfg.n_embd, &o);
        bb_free(tmp);
        if (!fp32_read(&cfg, qt[k].master))  /* as for the linears: the masters' place holds the dequantized values */
            memcpy(m->params.t[qt[k].master], qt[k].wq, vc * sizeof(float));
    }
    if (info) {
        memset(info, 0, sizeof *info);
        const char *tok = bb_safetensors_meta(st, "tokenizer"), *step = bb_safetensors_meta(st, "step");
        const char *producer = bb_safetensors_meta(st, "producer");
        snprintf(info->tokenizer, sizeof info->tokenizer, "%s", tok ? tok : "");
        snprintf(info->producer, sizeof info->producer, "%s", producer ? producer : "");
        info->step = step ? strtol(step, NULL, 10) : 0;
    }
    return 0;
}
