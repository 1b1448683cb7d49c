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
#include "results.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Splits text into lines in place; returns the count (the last line ends with '\n'). */
static int split_lines(char *text, size_t len, char **lines, int cap) {
    int n = 0;
    for (char *p = text; p < text + len && n < cap;) {
        char *nl = memchr(p, '\n', (size_t)(text + len - p));
        if (!nl) break;
        *nl = '\0';
        lines[n++] = p;
        p = nl + 1;
    }
    return n;
}

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
    char err[700], name[32];
    bb_model m;
    bb_ckpt_info info;
    bb_tokenizer tok;
    bb_open_for_inference(&m, &info, &tok, ckpt, tok_path);
    char *src_text, *ref_text;
    size_t src_len, ref_len;
    snprintf(name, sizeof name, "mt/%s.el", split);
    if (bb_corpus_read(name, &src_text, &src_len, err, sizeof err) != 0) bb_user_error("%s", err);
    snprintf(name, sizeof name, "mt/%s.en", split);
    if (bb_corpus_read(name, &ref_text, &ref_len, err, sizeof err) != 0) bb_user_error("%s", err);
    int cap = 1 << 16;
    char **src = bb_alloc(BB_MEM_DATA, (size_t)cap * sizeof(char *)), **refs = bb_alloc(BB_MEM_DATA, (size_t)cap * sizeof(char *));
    int n = split_lines(src_text, src_len, src, cap), nr = split_lines(ref_text, ref_len, refs, cap);
    if (n != nr) bb_user_error("mt/%s.el has %d lines but mt/%s.en has %d", split, n, split, nr);
    if (limit > 0 && limit < n) n = (int)limit;

    bb_run run;
    bb_run_create(&run, "eval-mt", out, argc, argv);
    int T = m.cfg.max_seq;
    bb_kvcache kv;
    if (bb_kvcache_init(&kv, &m, (int)beam, T, err, sizeof err) != 0) bb_user_error("%s", err);
    char **hyps = bb_alloc(BB_MEM_DATA, (size_t)n * sizeof(char *));
    uint32_t *ids = NULL;
    size_t ids_cap = 0;
    int *prompt = bb_alloc(BB_MEM_DATA, (size_t)T * sizeof(int)), *outtok = bb_alloc(BB_MEM_DATA, (size_t)T * sizeof(int));
    bb_progress prog;
    bb_progress_init(&prog, n);
    double t0 = bb_now();
    long generated = 0;
    for (int i = 0; i < n; i++) {
        size_t n_ids = 0;
        bb_tokenizer_encode(&tok, (const uint8_t *)src[i], strlen(src[i]), &ids, &n_ids, &ids_cap);
        int keep = (int)n_ids, room = T - 2 - 1;  /* BOS, SEP and at least one generated token */
        if (keep > room) keep = room;
        int P = 0;
        prompt[P++] = BB_TOK_BOS;
        for (int k = 0; k < keep; k++) prompt[P++] = (int)ids[k];
        prompt[P++] = BB_TOK_SEP;
        bb_decode_opts o = {.beam = (int)beam, .max_new = (int)(max_new < T - P ? max_new : T - P), .eos = BB_TOK_EOS,
                            .length_penalty = (float)alpha};
        int got = bb_decode(&m, &kv, prompt, P, &o, outtok);
        generated += got;
        size_t cap_txt = 64 + (size_t)got * 64;
        hyps[i] = bb_alloc(BB_MEM_DATA, cap_txt);
        uint32_t *u = bb_alloc(BB_MEM_DATA, (size_t)(got + 1) * sizeof(uint32_t));
        for (int k = 0; k < got; k++) u[k] = outtok[k] < tok.vocab_size ? (uint32_t)outtok[k] : BB_TOK_PAD;
        size_t len = bb_tokenizer_decode(&tok, u, (size_t)got, hyps[i], cap_txt, true);
        BB_CHECK(len < cap_txt);
        for (char *c = hyps[i]; *c; c++) if (*c == '\n') *c = ' ';  /* one line per hypothesis */
        bb_free(u);
        if (prog.tty || (i + 1) % 100 == 0 || i + 1 == n) {
            char status[128];
            snprintf(status, sizeof status, "translated %d/%d  %.1f tokens/s", i + 1, n, generated / (bb_now() - t0));
            bb_progress_update(&prog, i + 1, status);
        }
    }
    bb_progress_finish(&prog);
    double secs = bb_now() - t0;

    /* hypotheses next to a copy of the references */
    char file[64];
    bb_atomic_file af;
    snprintf(file, sizeof file, "%s.hyp.en", split);
    FILE *f = bb_run_open(&run, file, &af);
    for (int i = 0; i < n; i++) fprintf(f, "%s\n", hyps[i]);
    bb_run_commit(&af);
    snprintf(file, sizeof file, "%s.ref.en", split);
    f = bb_run_open(&run, file, &af);
    for (int i = 0; i < n; i++) fprintf(f, "%s\n", refs[i]);
    bb_run_commit(&af);

    const char *const *ref_streams[1] = {(const char *const *)refs};
    bb_bleu_opts bo = bb_bleu_corpus_defaults();
    bb_bleu_score bleu;
    int nrefs;
    if (bb_bleu_corpus(&bo, (const char *const *)hyps, (size_t)n, ref_streams, 1, &bleu, NULL, &nrefs, err, sizeof err) != 0)
        bb_user_error("BLEU: %s", err);
    bb_chrf_opts co = bb_chrf_defaults();
    double chrf;
    if (bb_chrf_corpus(&co, (const char *const *)hyps, (size_t)n, ref_streams, 1, &chrf, NULL, &nrefs, err, sizeof err) != 0)
        bb_user_error("chrF: %s", err);
    char bsig[256], csig[256], verbose[256], cname[32];
    bb_bleu_signature(&bo, nrefs, false, bsig, sizeof bsig);
    bb_bleu_verbose(&bleu, verbose, sizeof verbose);
    bb_chrf_signature(&co, nrefs, false, csig, sizeof csig);
    bb_chrf_name(&co, cname, sizeof cname);
    printf("eval mt: %s split, %d sentences, beam %ld, %.1f s (%.1f generated tokens/s)\n", split, n, beam, secs,
           generated / secs);
    printf("BLEU|%s = %.2f %s\n", bsig, bleu.score, verbose);
    printf("%s|%s = %.2f\n", cname, csig, chrf);
    printf("hypotheses: %s/%s.hyp.en\n", run.dir, split);
    f = bb_run_open(&run, "mt_eval.csv", &af);
    char cpu[256];
    bb_csv_clean(cpu, sizeof cpu, run.env.cpu_model);
    fprintf(f, "split,sentences,beam,length_penalty,bleu,chrf,bleu_signature,chrf_signature,precision,checkpoint_step,"
               "seconds,cpu,commit\n");
    fprintf(f, "%s,%d,%ld,%.3f,%.4f,%.4f,%s,%s,%s,%ld,%.1f,%s,%s\n", split, n, beam, alpha, bleu.score, chrf, bsig, csig,
            bb_precisions[m.cfg.precision].name, info.step, secs, cpu, run.env.git_commit);
    bb_run_commit(&af);
    for (int i = 0; i < n; i++) bb_free(hyps[i]);
    bb_free(hyps); bb_free(ids); bb_free(prompt); bb_free(outtok); bb_free(src); bb_free(refs);
    bb_free(src_text); bb_free(ref_text);
    bb_kvcache_free(&kv);
    bb_tokenizer_free(&tok);
    bb_model_free(&m);
    return 0;
}
