/* cmd_eval.c — `bitbench eval ppl`: mean loss, perplexity and bits per byte of a
 * checkpoint on the LM valid or test split (eval/perplexity.h for the definitions), and
 * the `eval` command table (`eval bleu` lives in cmd_eval_bleu.c). */
#include "../common/args.h"
#include "../common/check.h"
#include "../datasets/corpus.h"
#include "../datasets/tokenizer.h"
#include "../datasets/tokfile.h"
#include "../engine/checkpoint.h"
#include "../eval/perplexity.h"
#include "cli.h"
#include "device_arg.h"
#include "model_args.h"
#include "progress.h"
#include <stdio.h>
#include <string.h>

static int eval_ppl(int argc, char **argv) {
    const char *ckpt = NULL, *split = "valid", *tok_path = NULL, *mode = "stride", *device = "cpu";
    long batch = 8, seq = 0, threads = 0, windows = 0, stride = 0;
    const bb_arg args[] = {
        {"ckpt", BB_ARG_STR, &ckpt, "FILE", "checkpoint to evaluate", 0, -1},
        {"split", BB_ARG_STR, &split, "NAME", "valid or test (LM splits of specs/data.md)", 0, -1},
        {"batch", BB_ARG_INT, &batch, "B", "windows per forward", 1, 65536},
        {"ctx", BB_ARG_INT, &seq, "N", "window length in tokens (0: the model's max_seq)", 0, 1 << 20},
        {"stride", BB_ARG_INT, &stride, "S", "stride mode: a window starts every S tokens (0: S = ctx)", 0, 1 << 20},
        {"mode", BB_ARG_STR, &mode, "NAME", "stride (every token scored once) or chunks (llama.cpp)", 0, -1},
        {"windows", BB_ARG_INT, &windows, "N", "evaluate only the first N windows (0: all)", 0, 1 << 30},
        {"tok", BB_ARG_STR, &tok_path, "FILE", "tokenizer file (default: the cached one)", 0, -1},
        {"threads", BB_ARG_INT, &threads, "N", "threads (0: all cores)", 0, 1024},
        BB_DEVICE_ARG_ENTRY(device),
    };
    const bb_cmd_spec spec = {
        "eval ppl", "Mean loss, perplexity (+/- as llama.cpp estimates it) and bits per byte on an LM split.",
        "--ckpt FILE [--split valid|test] [--ctx N] [--stride S] [--mode stride|chunks]", args,
        (int)(sizeof args / sizeof args[0]), 0, 0,
        "Modes (eval/perplexity.h): stride (default) scores every token of the split exactly once, windows of\n"
        "--ctx starting every --stride tokens; chunks reproduces llama-perplexity: disjoint chunks of --ctx,\n"
        "scoring the second half of each, the tail dropped."};
    bb_args_parse(&spec, argc, argv, NULL);
    if (!ckpt) bb_usage_error("eval ppl", "--ckpt is required");
    bb_ppl_mode pm;
    if (strcmp(mode, "stride") == 0) pm = BB_PPL_STRIDE;
    else if (strcmp(mode, "chunks") == 0) pm = BB_PPL_CHUNKS;
    else bb_usage_error("eval ppl", "--mode must be stride or chunks, got '%s'", mode);

    if (strcmp(split, "valid") != 0 && strcmp(split, "test") != 0)
        bb_usage_error("eval ppl", "--split must be valid or test, got '%s'", split);
    const bb_backend *be = bb_device_backend("eval ppl", device);
    bb_set_threads(threads);
    char name[32], path[4096];
    bb_model m;
    bb_ckpt_info info;
    bb_tokenizer tok;
    bb_open_for_inference(&m, &info, &tok, ckpt, tok_path);
    m.be = be; /* every op of the evaluation runs on the chosen backend */
    if (seq == 0) seq = m.cfg.max_seq;
    if (seq > m.cfg.max_seq) bb_usage_error("eval ppl", "--ctx %ld exceeds max_seq %d", seq, m.cfg.max_seq);
    if (stride > seq) bb_usage_error("eval ppl", "--stride %ld exceeds --ctx %ld", stride, seq);
    snprintf(name, sizeof name, "lm/%s", split);
    bb_path_join(path, sizeof path, bb_data_dir(), bb_corpus_find(name)->file);
    bb_tokens tk;
    bb_tokens_cached(&tok, path, name, &tk, false);
    double t0 = bb_now();
    bb_ppl_stats ps;
    if (pm == BB_PPL_CHUNKS && tk.n < 2 * (size_t)seq)
        bb_user_error("chunks mode needs at least 2 x ctx = %ld tokens; %s has %zu", 2 * seq, name, tk.n);
    bb_eval_lm_mode(&m, &tok, tk.ids, tk.n, (int)batch, (int)seq, (int)stride, pm, windows, &ps);
    double dt = bb_now() - t0;
    printf("split %s (%s, ctx %ld, %s %ld): %ld scored tokens, %ld bytes\n", name, bb_precisions[m.cfg.precision].name,
           seq, pm == BB_PPL_CHUNKS ? "chunks" : "stride", pm == BB_PPL_CHUNKS ? seq : (stride ? stride : seq),
           ps.n_tokens, ps.n_bytes);
    printf("mean loss %.6f nats/token\nperplexity %.4f +/- %.5f\nbits per byte %.6f\n", ps.mean_loss,
           ps.perplexity, ps.perplexity_pm, ps.bits_per_byte);
    printf("(%.1f s, %.0f tokens/s, checkpoint step %ld)\n", dt, ps.n_tokens / dt, info.step);
    bb_tokens_free(&tk);
    bb_tokenizer_free(&tok);
    bb_model_free(&m);
    return 0;
}

static const bb_command eval_commands[] = {
    {"ppl", eval_ppl, "perplexity and bits per byte on an LM split"},
    {"bleu", bb_cmd_eval_bleu, "sacreBLEU-compatible BLEU and chrF of a hypothesis file"},
    {"mt", bb_cmd_eval_mt, "translate an MT split with a checkpoint; BLEU and chrF"},
};

int bb_cmd_eval(int argc, char **argv) {
    return bb_dispatch("eval", eval_commands, (int)(sizeof eval_commands / sizeof eval_commands[0]), argc, argv);
}
