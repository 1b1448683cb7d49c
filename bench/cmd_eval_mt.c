/* cmd_eval_mt.c — `bitbench eval mt`: translate the Greek side of an MT split with a
 * checkpoint (prompt BOS greek SEP, KV-cache greedy or beam decoding to EOS), write the
 * hypotheses next to a copy of the references in a results folder, score them with
 * sacreBLEU-exact BLEU and chrF (eval/bleu.h, eval/chrf.h) and append a CSV row. */
#include "../common/args.h"
#include "../common/check.h"
#include "../common/io.h"
#include "../datasets/corpus.h"
#include "../datasets/tokenizer.h"
#include "../engine/alloc.h"
#include "../engine/checkpoint.h"
#include "../engine/kvcache.h"
#include "../eval/bleu.h"
#include "../eval/chrf.h"
#include "../eval/decode.h"
#include "cli.h"
#include "model_args.h"
#include "progress.h"
#include "mt_eval.h"
#include "results.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

int bb_cmd_eval_mt(int argc, char **argv) {
    const char *ckpt = NULL, *split = "test", *tok_path = NULL, *out = NULL;
    long beam = 1, max_new = 200, limit = 0, threads = 0;
    double alpha = 0.6;
    const bb_arg args[] = {
        {"ckpt", BB_ARG_STR, &ckpt, "FILE", "checkpoint trained with --task mt", 0, -1},
        {"split", BB_ARG_STR, &split, "NAME", "dev (Hebrews) or test (Acts)", 0, -1},
        {"beam", BB_ARG_INT, &beam, "K", "beam width (1: greedy)", 1, 64},
        {"length-penalty", BB_ARG_DOUBLE, &alpha, "A", "GNMT length penalty alpha (beam search)", 0, -1},
        {"max-new", BB_ARG_INT, &max_new, "N", "most tokens generated per sentence", 1, 1 << 20},
        {"limit", BB_ARG_INT, &limit, "N", "translate only the first N sentences (0: all)", 0, 1 << 30},
        {"tok", BB_ARG_STR, &tok_path, "FILE", "tokenizer file (default: the cached one)", 0, -1},
        {"threads", BB_ARG_INT, &threads, "N", "threads (0: all cores)", 0, 1024},
        {"out", BB_ARG_STR, &out, "DIR", "results folder (default results/runs/<time>-eval-mt)", 0, -1},
    };
    const bb_cmd_spec spec = {"eval mt", "Translate an MT split Greek->English and score BLEU and chrF (sacreBLEU 2.6.0).",
                              "--ckpt FILE [--split dev|test] [--beam K] [--length-penalty A]", args,
                              (int)(sizeof args / sizeof args[0]), 0, 0, NULL};
    bb_args_parse(&spec, argc, argv, NULL);
    if (!ckpt) bb_usage_error("eval mt", "--ckpt is required");
    if (strcmp(split, "dev") != 0 && strcmp(split, "test") != 0)
        bb_usage_error("eval mt", "--split must be dev or test, got '%s'", split);
    bb_set_threads(threads);
    bb_model m;
    bb_ckpt_info info;
    bb_tokenizer tok;
    bb_open_for_inference(&m, &info, &tok, ckpt, tok_path);
    bb_mt_set set;
    bb_mt_set_load(&set, split, (int)limit);
    int n = set.n;

    bb_run run;
    bb_run_create(&run, "eval-mt", out, argc, argv);
    double t0 = bb_now();
    long generated = bb_mt_translate(&m, &tok, &set, (int)beam, (float)alpha, (int)max_new, 1);
    double secs = bb_now() - t0;

    /* hypotheses next to a copy of the references */
    char file[64];
    bb_atomic_file af;
    snprintf(file, sizeof file, "%s.hyp.en", split);
    FILE *f = bb_run_open(&run, file, &af);
    for (int i = 0; i < n; i++) fprintf(f, "%s\n", set.hyps[i]);
    bb_run_commit(&af);
    snprintf(file, sizeof file, "%s.ref.en", split);
    f = bb_run_open(&run, file, &af);
    for (int i = 0; i < n; i++) fprintf(f, "%s\n", set.refs[i]);
    bb_run_commit(&af);

    bb_mt_score sc;
    bb_mt_score_set(&set, &sc);
    printf("eval mt: %s split, %d sentences, beam %ld, %.1f s (%.1f generated tokens/s)\n", split, n, beam, secs,
           generated / secs);
    printf("BLEU|%s = %.2f %s\n", sc.bleu_signature, sc.bleu, sc.bleu_verbose);
    printf("%s|%s = %.2f\n", sc.chrf_name, sc.chrf_signature, sc.chrf);
    printf("hypotheses: %s/%s.hyp.en\n", run.dir, split);
    f = bb_run_open(&run, "mt_eval.csv", &af);
    char cpu[256];
    bb_csv_clean(cpu, sizeof cpu, run.env.cpu_model);
    fprintf(f, "split,sentences,beam,length_penalty,bleu,chrf,bleu_signature,chrf_signature,precision,checkpoint_step,"
               "seconds,cpu,commit\n");
    fprintf(f, "%s,%d,%ld,%.3f,%.4f,%.4f,%s,%s,%s,%ld,%.1f,%s,%s\n", split, n, beam, alpha, sc.bleu, sc.chrf, sc.bleu_signature, sc.chrf_signature,
            bb_precisions[m.cfg.precision].name, info.step, secs, cpu, run.env.git_commit);
    bb_run_commit(&af);
    bb_mt_set_free(&set);
    bb_tokenizer_free(&tok);
    bb_model_free(&m);
    return 0;
}
