/* sweep.c — see sweep.h. */
#include "sweep.h"
#include "../common/args.h"
#include "../engine/alloc.h"
#include "../engine/cuda_backend.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cuda: the engine's CUDA ops on its host buffers (engine/cuda_backend.h, the staged
 * backend): correct on the GPU, but every op crosses PCIe, so its tokens/s describe that
 * path, not what a device-resident engine would reach. */
const bb_device bb_devices[] = {{"cpu", &bb_backend_cpu}, {"cuda", &bb_backend_cuda_staged}};
const int bb_n_devices = (int)(sizeof bb_devices / sizeof bb_devices[0]);

int bb_device_find(const char *name) {
    for (int d = 0; d < bb_n_devices; d++)
        if (strcmp(bb_devices[d].name, name) == 0) return d;
    return -1;
}

const char *bb_device_unavailable(int d, const bb_env *env, char *buf, size_t cap) {
    if (strcmp(bb_devices[d].name, "cuda") == 0) {
        if (!env->cuda.built_with_cuda)
            snprintf(buf, cap, "this bitbench was built without CUDA (bitbench env: %s)", env->cuda.status);
        else if (env->cuda.n_devices == 0)
            snprintf(buf, cap, "this machine has no CUDA device (bitbench env: %s)", env->cuda.status);
        else {
            char err[256];
            if (bb_cuda_init(err, sizeof err) == 0) return NULL;
            snprintf(buf, cap, "%s", err);
        }
        return buf;
    }
    return NULL;
}

/* Splits a comma list into at most cap tokens (pointers into buf). */
static int split_list(const char *list, char *buf, size_t bufcap, char **tok, int cap) {
    snprintf(buf, bufcap, "%s", list);
    int n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && n < cap; t = strtok_r(NULL, ",", &save)) tok[n++] = t;
    return n;
}

static int parse_ints(const char *list, const char *flag, const char *command, long lo, long hi, int *out, int cap) {
    char buf[512], *tok[32];
    int n = split_list(list, buf, sizeof buf, tok, 32);
    if (n == 0) bb_usage_error(command, "--%s needs at least one value", flag);
    for (int i = 0; i < n && i < cap; i++) {
        char *end;
        long v = strtol(tok[i], &end, 10);
        if (*end || end == tok[i] || v < lo || v > hi)
            bb_usage_error(command, "--%s: '%s' is not an integer between %ld and %ld", flag, tok[i], lo, hi);
        out[i] = (int)v;
    }
    return n < cap ? n : cap;
}

int bb_parse_precisions(const char *list, const char *command, int *out) {
    int n = 0;
    out[n++] = BB_PREC_FP32;
    if (strcmp(list, "all") == 0) {
        for (int p = 0; p < BB_PREC_COUNT; p++)
            if (p != BB_PREC_FP32) out[n++] = p;
        return n;
    }
    char buf[256], *tok[32];
    int k = split_list(list, buf, sizeof buf, tok, 32);
    for (int i = 0; i < k; i++) {
        int p = bb_precision_parse(tok[i]);
        if (p < 0) bb_usage_error(command, "--precisions: unknown precision '%s' (fp32 fp16 bf16 int8 int4 b158, all)", tok[i]);
        bool seen = false;
        for (int j = 0; j < n; j++) seen |= out[j] == p;
        if (!seen && n < BB_PREC_COUNT) out[n++] = p;
    }
    return n;
}

int bb_parse_ckpt_modes(const char *list, const char *command, bb_ckpt_mode *out) {
    char buf[256], *tok[32];
    int k = split_list(list, buf, sizeof buf, tok, 32), n = 0;
    if (k == 0) bb_usage_error(command, "--checkpointing needs at least one mode (none, selective, block)");
    for (int i = 0; i < k; i++) {
        /* a name, or a group: all = every mode, both = none,block (bench precisions' old value) */
        static const bb_ckpt_mode all[] = {BB_CKPT_NONE, BB_CKPT_SELECTIVE, BB_CKPT_BLOCK};
        static const bb_ckpt_mode both[] = {BB_CKPT_NONE, BB_CKPT_BLOCK};
        bb_ckpt_mode one[1];
        const bb_ckpt_mode *modes = one;
        int nm = 1, named = bb_ckpt_parse(tok[i]);
        if (strcmp(tok[i], "all") == 0) { modes = all; nm = 3; }
        else if (strcmp(tok[i], "both") == 0) { modes = both; nm = 2; }
        else if (named >= 0) one[0] = (bb_ckpt_mode)named;
        else
            bb_usage_error(command, "--checkpointing: unknown mode '%s' (none, selective, block; all; both = none,block)",
                           tok[i]);
        for (int j = 0; j < nm; j++) {
            bool seen = false;
            for (int q = 0; q < n; q++) seen |= out[q] == modes[j];
            if (!seen) out[n++] = modes[j];
        }
    }
    return n;
}

int bb_parse_methods(const char *list, const char *command, const bb_method **out) {
    if (strcmp(list, "all") == 0) {
        for (int m = 0; m < bb_n_methods; m++) out[m] = &bb_methods[m];
        return bb_n_methods;
    }
    char buf[256], *tok[32];
    int k = split_list(list, buf, sizeof buf, tok, 32), n = 0;
    for (int i = 0; i < k; i++) {
        const bb_method *m = bb_method_find(tok[i]);
        if (!m) bb_usage_error(command, "--methods: unknown method '%s' (full, lora, kd, all)", tok[i]);
        bool seen = false;
        for (int j = 0; j < n; j++) seen |= out[j] == m;
        if (!seen && n < bb_n_methods) out[n++] = m;
    }
    return n;
}

int bb_sweep_expand(const bb_sweep_args *a, const char *command, const bb_env *env, bb_sweep_point **out) {
    char dbuf[256], pbuf[256], *dtok[8], *ptok[16], why[400], err[400];
    int devs[8], nd = 0;
    int nd_in = split_list(a->devices, dbuf, sizeof dbuf, dtok, 8);
    for (int i = 0; i < nd_in; i++) {
        int d = bb_device_find(dtok[i]);
        if (d < 0) bb_usage_error(command, "--device: unknown device '%s' (cpu, cuda)", dtok[i]);
        if (bb_device_unavailable(d, env, why, sizeof why)) {
            fprintf(stderr, "%s: --device %s skipped: %s\n", command, dtok[i], why);
            continue;
        }
        devs[nd++] = d;
    }
    int np = split_list(a->presets, pbuf, sizeof pbuf, ptok, 16);
    bb_config presets[16];
    for (int i = 0; i < np; i++) {
        if (bb_config_from_preset(&presets[i], ptok[i], err, sizeof err) != 0) bb_usage_error(command, "--preset: %s", err);
        for (int k = 0; k < bb_n_presets; k++)
            if (strcmp(bb_presets[k].name, ptok[i]) == 0 && !bb_presets[k].trainable_here)
                bb_usage_error(command, "--preset %s is a shape for the calculator, too large to train here", ptok[i]);
    }
    int prec[BB_PREC_COUNT], n_prec = bb_parse_precisions(a->precisions, command, prec);
    const bb_method *meth[16];
    int n_meth_in = bb_parse_methods(a->methods, command, meth), n_meth = 0;
    for (int i = 0; i < n_meth_in; i++) {
        if (meth[i]->missing) {
            fprintf(stderr, "%s: method %s: not available in this build (%s)\n", command, meth[i]->name, meth[i]->missing);
            continue;
        }
        meth[n_meth++] = meth[i];
    }
    /* a base-only precision (nf4) is only ever a frozen base: it pairs with methods that train
     * over one, and with no other */
    for (int k = 0; k < n_prec; k++)
        for (int mi = 0; mi < n_meth; mi++)
            if (bb_precisions[prec[k]].base_only && !meth[mi]->frozen_base)
                fprintf(stderr, "%s: %s with method %s skipped: %s is a frozen-base format (LoRA/QLoRA base only)\n",
                        command, bb_precisions[prec[k]].name, meth[mi]->name, bb_precisions[prec[k]].name);
    int batches[32], seqs[32], threads[32];
    int nb = parse_ints(a->batches, "batch", command, 1, 65536, batches, 32);
    int ns = parse_ints(a->seqs, "seq", command, 0, 1 << 20, seqs, 32);
    int nt = parse_ints(a->threads, "threads", command, 0, 1024, threads, 32);
    bb_ckpt_mode ck[BB_CKPT_COUNT];
    int nc = bb_parse_ckpt_modes(a->checkpointing, command, ck);
    for (int i = 0; i < np; i++)
        for (int s = 0; s < ns; s++)
            if (seqs[s] > presets[i].max_seq)  /* 0 means the preset's max_seq */
                bb_usage_error(command, "--seq %d exceeds the max_seq %d of preset %s", seqs[s], presets[i].max_seq, ptok[i]);
    size_t total = (size_t)nd * np * n_meth * nb * ns * nt * nc * n_prec;
    bb_sweep_point *pts = bb_alloc(BB_MEM_OTHER, (total ? total : 1) * sizeof *pts);
    int n = 0;
    for (int d = 0; d < nd; d++)
    for (int pi = 0; pi < np; pi++)
    for (int mi = 0; mi < n_meth; mi++)
    for (int bi = 0; bi < nb; bi++)
    for (int si = 0; si < ns; si++)
    for (int ti = 0; ti < nt; ti++)
    for (int ci = 0; ci < nc; ci++)
    for (int k = 0; k < n_prec; k++) {
        if (bb_precisions[prec[k]].base_only && !meth[mi]->frozen_base) continue;
        bb_sweep_point *p = &pts[n++];
        p->device = devs[d];
        p->preset = bb_presets[0].name;
        for (int q = 0; q < bb_n_presets; q++)
            if (strcmp(bb_presets[q].name, ptok[pi]) == 0) p->preset = bb_presets[q].name;
        p->cfg = presets[pi];
        if (bb_config_set_precision(&p->cfg, bb_precisions[prec[k]].name, err, sizeof err) != 0)
            bb_usage_error(command, "%s", err);
        p->method = meth[mi];
        p->batch = batches[bi];
        p->seq = seqs[si] > 0 ? seqs[si] : presets[pi].max_seq;
        p->threads = threads[ti] > 0 ? threads[ti] : env->omp_max_threads;
        p->ckpt_mode = ck[ci];
    }
    *out = pts;
    return n;
}

void bb_sweep_describe(const bb_sweep_args *a, char *out, size_t cap) {
    snprintf(out, cap, "device=%s;preset=%s;precisions=%s;methods=%s;batch=%s;seq=%s;threads=%s;checkpointing=%s",
             a->devices, a->presets, a->precisions, a->methods, a->batches, a->seqs, a->threads, a->checkpointing);
}

void bb_sweep_key(const bb_sweep_point *p, bool with_threads, const char *precision, char *out, size_t cap) {
    /* the schemas' key order: device, preset, precision, method, batch, seq, [threads,] checkpointing */
    char th[16] = "";
    if (with_threads) snprintf(th, sizeof th, "%d,", p->threads);
    snprintf(out, cap, "%s,%s,%s,%s,%d,%d,%s%s", bb_devices[p->device].name, p->preset,
             precision ? precision : bb_precisions[p->cfg.precision].name, p->method->name, p->batch, p->seq, th,
             bb_ckpt_names[p->ckpt_mode]);
}

void bb_sweep_label(const bb_sweep_point *p, char *out, size_t cap) {
    snprintf(out, cap, "%s %s %s %s B%d T%d%s%s", bb_devices[p->device].name, p->preset,
             bb_precisions[p->cfg.precision].name, p->method->name, p->batch, p->seq,
             p->ckpt_mode != BB_CKPT_NONE ? " ckpt " : "", p->ckpt_mode != BB_CKPT_NONE ? bb_ckpt_names[p->ckpt_mode] : "");
}
