/* config.c — presets and overrides. Llama-2 shapes from Touvron et al. 2023, Table 1 and
 * the released params.json files (7B: dim 4096, 32 layers, 32 heads; 13B: 5120/40/40;
 * 70B: 8192/80/64 with 8 KV heads; FFN 11008/13824/28672; vocab 32000; context 4096). */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GPT2(L, C, H, V, T) \
    {BB_FAMILY_GPT2, L, C, H, H, V, T, 4 * (C), 1e-5f, 10000.0f, BB_PREC_FP32, 32, BB_ACTQ_NONE, false, false, false, false}
#define LLAMA(L, C, H, KV, V, T, F) \
    {BB_FAMILY_LLAMA, L, C, H, KV, V, T, F, 1e-5f, 10000.0f, BB_PREC_FP32, 32, BB_ACTQ_NONE, false, false, false, false}

const bb_preset bb_presets[] = {
    {"tiny", GPT2(2, 64, 4, 4096, 64), true},
    {"small", GPT2(6, 384, 6, 4096, 256), true},
    {"gpt2-124m", GPT2(12, 768, 12, 50257, 1024), true},
    /* shapes of the models the claims name (../shared/specs/claims.md Table D), for the
     * calculator: DistilGPT-2 (Sanh et al. 2019: 6 layers of GPT-2 small), GPT-2 Medium and
     * Large (Radford et al. 2019, Table 2), GPT-J 6B approximated in the gpt2 family
     * (28 layers, 4096 wide, 16 heads, vocab 50400, context 2048; its head is untied and
     * its attention and MLP are parallel, so this shape has 5.84e9 of its 6.05e9 params) */
    {"distilgpt2", GPT2(6, 768, 12, 50257, 1024), false},
    {"gpt2-medium", GPT2(24, 1024, 16, 50257, 1024), false},
    {"gpt2-large", GPT2(36, 1280, 20, 50257, 1024), false},
    {"gptj-6b", GPT2(28, 4096, 16, 50400, 2048), false},
    {"llama-7b", LLAMA(32, 4096, 32, 32, 32000, 4096, 11008), false},
    {"llama-13b", LLAMA(40, 5120, 40, 40, 32000, 4096, 13824), false},
    {"llama-70b", LLAMA(80, 8192, 64, 8, 32000, 4096, 28672), false},
};
const int bb_n_presets = (int)(sizeof bb_presets / sizeof bb_presets[0]);

static const char *const family_names[BB_FAMILY_COUNT] = {"gpt2", "llama"};

const char *bb_family_name(bb_family f) { return family_names[f]; }

int bb_config_default_ffn(bb_family f, int n_embd) {
    if (f == BB_FAMILY_GPT2) return 4 * n_embd;
    int h = (8 * n_embd) / 3;
    return 256 * ((h + 255) / 256);
}

int bb_config_from_preset(bb_config *cfg, const char *name, char *err, size_t err_len) {
    for (int i = 0; i < bb_n_presets; i++)
        if (strcmp(bb_presets[i].name, name) == 0) { *cfg = bb_presets[i].config; return 0; }
    int n = snprintf(err, err_len, "unknown model preset '%s' (presets:", name);
    for (int i = 0; i < bb_n_presets && n > 0 && (size_t)n < err_len; i++)
        n += snprintf(err + n, err_len - (size_t)n, " %s", bb_presets[i].name);
    if (n > 0 && (size_t)n < err_len) snprintf(err + n, err_len - (size_t)n, ")");
    return -1;
}

typedef struct {
    const char *key;
    size_t offset;
    bool is_float;
} field;

static const field fields[] = {
    {"n_layer", offsetof(bb_config, n_layer), false},       {"n_embd", offsetof(bb_config, n_embd), false},
    {"n_head", offsetof(bb_config, n_head), false},         {"n_kv_head", offsetof(bb_config, n_kv_head), false},
    {"vocab_size", offsetof(bb_config, vocab_size), false}, {"max_seq", offsetof(bb_config, max_seq), false},
    {"ffn_hidden", offsetof(bb_config, ffn_hidden), false}, {"norm_eps", offsetof(bb_config, norm_eps), true},
    {"rope_theta", offsetof(bb_config, rope_theta), true},
    {"group", offsetof(bb_config, group), false},
};

int bb_config_override(bb_config *cfg, const char *spec, char *err, size_t err_len) {
    char buf[1024];
    if (strlen(spec) >= sizeof buf) { snprintf(err, err_len, "override list too long"); return -1; }
    strcpy(buf, spec);
    bool ffn_given = false, shape_changed = false, kv_given = false;
    for (char *save = NULL, *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq || eq == item || !eq[1]) {
            snprintf(err, err_len, "override '%s' is not key=value", item);
            return -1;
        }
        *eq = '\0';
        const char *key = item, *val = eq + 1;
        if (strcmp(key, "precision") == 0) {
            if (bb_config_set_precision(cfg, val, err, err_len) != 0) return -1;
            continue;
        }
        if (strcmp(key, "act_quant") == 0) {
            if (strcmp(val, "token") == 0) cfg->act_quant = BB_ACTQ_INT8_TOKEN;
            else if (strcmp(val, "block") == 0) cfg->act_quant = BB_ACTQ_INT8_BLOCK;
            else { snprintf(err, err_len, "act_quant must be token or block, got '%s'", val); return -1; }
            continue;
        }
        if (strcmp(key, "nf4_double_quant") == 0) {
            if (strcmp(val, "on") == 0) cfg->nf4_no_double_quant = false;
            else if (strcmp(val, "off") == 0) cfg->nf4_no_double_quant = true;
            else { snprintf(err, err_len, "nf4_double_quant must be on or off, got '%s'", val); return -1; }
            continue;
        }
        bool *flag = strcmp(key, "quant_head") == 0 ? &cfg->quant_head
                   : strcmp(key, "quant_embed") == 0 ? &cfg->quant_embed
                   : strcmp(key, "half_residual") == 0 ? &cfg->half_residual : NULL;
        if (flag) {
            if (strcmp(val, "on") == 0) *flag = true;
            else if (strcmp(val, "off") == 0) *flag = false;
            else { snprintf(err, err_len, "%s must be on or off, got '%s'", key, val); return -1; }
            continue;
        }
        if (strcmp(key, "family") == 0) {
            int f = -1;
            for (int i = 0; i < BB_FAMILY_COUNT; i++)
                if (strcmp(val, family_names[i]) == 0) f = i;
            if (f < 0) { snprintf(err, err_len, "unknown family '%s' (gpt2 or llama)", val); return -1; }
            cfg->family = (bb_family)f;
            shape_changed = true;
            continue;
        }
        const field *fd = NULL;
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
            if (strcmp(fields[i].key, key) == 0) fd = &fields[i];
        if (!fd) { snprintf(err, err_len, "unknown config key '%s'", key); return -1; }
        char *end;
        errno = 0;
        if (fd->is_float) {
            float v = strtof(val, &end);
            if (errno || *end || end == val || !(v > 0)) {
                snprintf(err, err_len, "%s must be a positive number, got '%s'", key, val);
                return -1;
            }
            *(float *)((char *)cfg + fd->offset) = v;
        } else {
            long v = strtol(val, &end, 10);
            if (errno || *end || end == val || v <= 0 || v > 1 << 30) {
                snprintf(err, err_len, "%s must be a positive integer, got '%s'", key, val);
                return -1;
            }
            *(int *)((char *)cfg + fd->offset) = (int)v;
        }
        ffn_given |= strcmp(key, "ffn_hidden") == 0;
        kv_given |= strcmp(key, "n_kv_head") == 0;
        shape_changed |= strcmp(key, "n_embd") == 0;
        if (strcmp(key, "n_head") == 0 && !kv_given && cfg->family == BB_FAMILY_GPT2) cfg->n_kv_head = cfg->n_head;
    }
    if (shape_changed && !ffn_given) cfg->ffn_hidden = bb_config_default_ffn(cfg->family, cfg->n_embd);
    if (cfg->family == BB_FAMILY_GPT2 && !kv_given) cfg->n_kv_head = cfg->n_head;
    return 0;
}

int bb_config_set_precision(bb_config *c, const char *name, char *err, size_t err_len) {
    int p = bb_precision_parse(name);
    if (p < 0) {
        snprintf(err, err_len, "unknown precision '%s' (fp32, fp16, bf16, int8, int4, b158, nf4)", name);
        return -1;
    }
    c->precision = (bb_precision)p;
    c->act_quant = bb_precisions[p].default_act;
    return 0;
}

int bb_config_validate(const bb_config *c, char *err, size_t err_len) {
    if (c->precision == BB_PREC_INT4 && c->group != 32 && c->group != 64 && c->group != 128) {
        snprintf(err, err_len, "int4 group must be 32, 64 or 128, got %d", c->group);
        return -1;
    }
    if (c->act_quant == BB_ACTQ_INT8_BLOCK && c->precision != BB_PREC_INT4) {
        snprintf(err, err_len, "per-block activation quantization (act_quant=block) is an int4 option");
        return -1;
    }
    if ((c->quant_head || c->quant_embed) && (c->precision == BB_PREC_FP32 || c->precision == BB_PREC_NF4)) {
        snprintf(err, err_len, "%s=on needs a trainable quantized precision (fp16, bf16, int8, int4, b158), not %s",
                 c->quant_head ? "quant_head" : "quant_embed", bb_precisions[c->precision].name);
        return -1;
    }
    if (c->half_residual && c->act_quant != BB_ACTQ_FP16 && c->act_quant != BB_ACTQ_BF16) {
        snprintf(err, err_len, "half_residual=on needs fp16 or bf16 (the 16-bit format it rounds to), not %s",
                 bb_precisions[c->precision].name);
        return -1;
    }
    if (c->n_embd % c->n_head) {
        snprintf(err, err_len, "n_embd %d is not divisible by n_head %d", c->n_embd, c->n_head);
        return -1;
    }
    if (c->n_kv_head > c->n_head || c->n_head % c->n_kv_head) {
        snprintf(err, err_len, "n_kv_head %d must divide n_head %d", c->n_kv_head, c->n_head);
        return -1;
    }
    if (c->family == BB_FAMILY_GPT2 && c->n_kv_head != c->n_head) {
        snprintf(err, err_len, "gpt2 has no grouped-query attention: n_kv_head must equal n_head");
        return -1;
    }
    if (c->family == BB_FAMILY_LLAMA && (c->n_embd / c->n_head) % 2) {
        snprintf(err, err_len, "RoPE needs an even head size, got %d", c->n_embd / c->n_head);
        return -1;
    }
    return 0;
}

void bb_config_describe(const bb_config *c, char *out, size_t cap) {
    int n = snprintf(out, cap, "%s L=%d C=%d NH=%d NKV=%d hd=%d F=%d V=%d T=%d %s", family_names[c->family],
                     c->n_layer, c->n_embd, c->n_head, c->n_kv_head, c->n_embd / c->n_head, c->ffn_hidden,
                     c->vocab_size, c->max_seq, bb_precisions[c->precision].name);
    if (c->precision == BB_PREC_INT4 && n > 0 && (size_t)n < cap)
        snprintf(out + n, cap - (size_t)n, " g%d%s", c->group, c->act_quant == BB_ACTQ_INT8_BLOCK ? " act-block" : "");
    if (c->precision == BB_PREC_NF4 && n > 0 && (size_t)n < cap)
        snprintf(out + n, cap - (size_t)n, "%s", c->nf4_no_double_quant ? " fp32-absmax" : " double-quant");
    n = (int)strlen(out);
    if (c->quant_head && (size_t)n < cap) snprintf(out + n, cap - (size_t)n, " quant-head");
    n = (int)strlen(out);
    if (c->quant_embed && (size_t)n < cap) snprintf(out + n, cap - (size_t)n, " quant-embed");
    n = (int)strlen(out);
    if (c->half_residual && (size_t)n < cap) snprintf(out + n, cap - (size_t)n, " half-residual");
}

bb_prec_opts bb_config_prec_opts(const bb_config *c) {
    return (bb_prec_opts){.group = c->group, .act = c->act_quant, .nf4_no_double_quant = c->nf4_no_double_quant};
}
