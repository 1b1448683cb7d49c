/* cmd_generate.c — `bitbench generate`: sample text from a checkpoint with temperature
 * and top-k. Each new token re-runs the forward over the context (the KV-cache decoder
 * arrives with the evaluation work); the context starts with EOS, the verse separator
 * the model was trained on, followed by the prompt. */
#include "../common/args.h"
#include "../common/check.h"
#include "../datasets/tokenizer.h"
#include "../engine/alloc.h"
#include "../engine/checkpoint.h"
#include "cli.h"
#include "model_args.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

static uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Samples from softmax(logits / temperature) restricted to the top_k largest logits
 * (top_k <= 0: all); temperature 0 is greedy. */
static int sample(const float *logits, int V, double temperature, int top_k, uint64_t *rng, float *scratch) {
    int best = 0;
    for (int v = 1; v < V; v++) if (logits[v] > logits[best]) best = v;
    if (temperature <= 0) return best;
    float threshold = -INFINITY;
    if (top_k > 0 && top_k < V) {
        /* the k-th largest logit: partial selection on a copy */
        memcpy(scratch, logits, (size_t)V * sizeof *scratch);
        for (int i = 0; i < top_k; i++) {
            int arg = i;
            for (int v = i + 1; v < V; v++) if (scratch[v] > scratch[arg]) arg = v;
            float t = scratch[i]; scratch[i] = scratch[arg]; scratch[arg] = t;
        }
        threshold = scratch[top_k - 1];
    }
    double sum = 0;
    for (int v = 0; v < V; v++) sum += logits[v] >= threshold ? exp((logits[v] - logits[best]) / temperature) : 0.0;
    double u = (double)(rng_next(rng) >> 11) * 0x1.0p-53 * sum, acc = 0;
    for (int v = 0; v < V; v++) {
        if (logits[v] < threshold) continue;
        acc += exp((logits[v] - logits[best]) / temperature);
        if (acc >= u) return v;
    }
    return best;
}

int bb_cmd_generate(int argc, char **argv) {
    const char *ckpt = NULL, *prompt = "", *tok_path = NULL;
    long n_tokens = 64, top_k = 40, seed = 1, threads = 0;
    double temperature = 0.8;
    bool stop_at_eos = false;
    const bb_arg args[] = {
        {"ckpt", BB_ARG_STR, &ckpt, "FILE", "checkpoint (safetensors) to sample from", 0, -1},
        {"prompt", BB_ARG_STR, &prompt, "TEXT", "text to continue", 0, -1},
        {"tokens", BB_ARG_INT, &n_tokens, "N", "tokens to generate", 1, 1000000},
        {"temperature", BB_ARG_DOUBLE, &temperature, "X", "softmax temperature (0: greedy)", 0, -1},
        {"top-k", BB_ARG_INT, &top_k, "K", "sample among the K most likely tokens (0: all)", 0, 1 << 20},
        {"seed", BB_ARG_INT, &seed, "N", "sampling seed", 0, 2147483647},
        {"stop-at-eos", BB_ARG_FLAG, &stop_at_eos, NULL, "stop at the end of the verse", 0, -1},
        {"tok", BB_ARG_STR, &tok_path, "FILE", "tokenizer file (default: the cached one)", 0, -1},
        {"threads", BB_ARG_INT, &threads, "N", "threads (0: all cores)", 0, 1024},
    };
    const bb_cmd_spec spec = {"generate", "Sample text from a trained checkpoint.",
                              "--ckpt FILE [--prompt TEXT] [--tokens N] [--temperature X] [--top-k K]", args,
                              (int)(sizeof args / sizeof args[0]), 0, 0, NULL};
    bb_args_parse(&spec, argc, argv, NULL);
    if (!ckpt) bb_usage_error("generate", "--ckpt is required");
    if (temperature < 0) bb_usage_error("generate", "--temperature must be >= 0");
    bb_set_threads(threads);
    bb_model m;
    bb_ckpt_info info;
    bb_tokenizer tok;
    bb_open_for_inference(&m, &info, &tok, ckpt, tok_path);
    size_t n = 0, cap = 16;
    uint32_t *ids = bb_alloc(BB_MEM_DATA, cap * sizeof *ids);
    ids[n++] = BB_TOK_EOS;
    bb_tokenizer_encode(&tok, (const uint8_t *)prompt, strlen(prompt), &ids, &n, &cap);
    int T = m.cfg.max_seq, V = m.cfg.vocab_size;
    int *ctx = bb_alloc(BB_MEM_DATA, (size_t)T * sizeof(int));
    float *scratch = bb_alloc(BB_MEM_WORKSPACE, (size_t)V * sizeof(float));
    uint64_t rng = (uint64_t)seed;
    fputs(prompt, stdout);
    fflush(stdout);
    for (long k = 0; k < n_tokens; k++) {
        size_t len = n < (size_t)T ? n : (size_t)T, start = n - len;
        for (size_t i = 0; i < (size_t)T; i++) ctx[i] = i < len ? (int)ids[start + i] : 0;
        /* causal: positions after len do not affect position len-1 */
        bb_model_forward(&m, ctx, NULL, 1, T);
        int next = sample(m.acts.logits + (len - 1) * (size_t)V, V, temperature, (int)top_k, &rng, scratch);
        if (next >= tok.vocab_size) next = BB_TOK_EOS;  /* a model larger than the tokenizer */
        if (n == cap) ids = bb_realloc(ids, (cap *= 2) * sizeof *ids);
        ids[n++] = (uint32_t)next;
        if (next == BB_TOK_EOS) {
            if (stop_at_eos) break;
            putchar('\n');
        } else if (next >= BB_TOK_N_SPECIAL) {
            char buf[512];
            uint32_t id = (uint32_t)next;
            size_t l = bb_tokenizer_decode(&tok, &id, 1, buf, sizeof buf, true);
            fwrite(buf, 1, l, stdout);
        }
        fflush(stdout);
    }
    putchar('\n');
    bb_free(ids); bb_free(ctx); bb_free(scratch);
    bb_tokenizer_free(&tok);
    bb_model_free(&m);
    return 0;
}
