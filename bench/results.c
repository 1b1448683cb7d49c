/* results.c — see results.h. */
#include "results.h"
#include "../common/check.h"
#include "../common/json.h"
#include "../common/json_parse.h"
#include "../common/sha256.h"
#include "../engine/alloc.h"
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

#ifndef BB_SOURCE_ROOT
#define BB_SOURCE_ROOT "."
#endif

/* the process's argv (bb_cli_set_command_line), for manifests */
static int process_argc;
static char **process_argv;

void bb_run_create(bb_run *run, const char *name, const char *out_dir, int argc, char **argv) {
    bb_env_collect(&run->env);
    if (out_dir) {
        snprintf(run->dir, sizeof run->dir, "%s", out_dir);
    } else {
        char stamp[32];
        time_t now = time(NULL);
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", gmtime(&now));
        snprintf(run->dir, sizeof run->dir, "%s/results/runs/%s-%s", BB_SOURCE_ROOT, stamp, name);
    }
    if (bb_mkdir_p(run->dir) != 0) bb_user_error("cannot create results folder %s: %s", run->dir, strerror(errno));
    bb_atomic_file af;
    FILE *f = bb_run_open(run, "manifest.json", &af);
    bb_json j;
    bb_json_init(&j, f);
    bb_json_obj_begin(&j);
    bb_json_key(&j, "run"); bb_json_str(&j, name);
    bb_json_key(&j, "command");
    bb_json_arr_begin(&j);
    bb_json_str(&j, "bitbench");
    /* the whole command line (main.c), so the manifest reproduces the run: the argv a
     * command gets starts after its own name ("bench precisions") */
    if (process_argv)
        for (int i = 1; i < process_argc; i++) bb_json_str(&j, process_argv[i]);
    else
        for (int i = 0; i < argc; i++) bb_json_str(&j, argv[i]);
    bb_json_arr_end(&j);
    bb_json_key(&j, "env");
    bb_env_write_json(&run->env, &j);
    bb_json_obj_end(&j);
    bb_run_commit(&af);
}

FILE *bb_run_open(bb_run *run, const char *file, bb_atomic_file *af) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", run->dir, file);
    FILE *f = bb_atomic_open(af, path);
    if (!f) bb_user_error("cannot write %s: %s", path, strerror(errno));
    return f;
}

void bb_run_commit(bb_atomic_file *af) {
    if (bb_atomic_commit(af) != 0) bb_user_error("cannot write %s: %s", af->path, strerror(errno));
}

void bb_csv_clean(char *dst, size_t cap, const char *s) {
    size_t n = 0;
    for (; *s && n + 1 < cap; s++) dst[n++] = (*s == ',' || *s == '"' || *s == '\n') ? ' ' : *s;
    dst[n] = '\0';
}

/* --- harness runs ------------------------------------------------------------------------- */

static char command_line[8192] = "bitbench";

/* Appends arg to out, single-quoted when the shell would split or expand it. */
static void append_arg(char *out, size_t cap, const char *arg) {
    size_t n = strlen(out);
    bool plain = *arg != '\0';
    for (const char *p = arg; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./=:,+-@%", *p)) plain = false;
    if (plain) {
        snprintf(out + n, cap - n, " %s", arg);
        return;
    }
    n += (size_t)snprintf(out + n, cap - n, " '");
    for (const char *p = arg; *p && n + 5 < cap; p++) {
        if (*p == '\'') n += (size_t)snprintf(out + n, cap - n, "'\\''");
        else out[n++] = *p;
    }
    snprintf(out + n, cap - n, "'");
}

void bb_cli_set_command_line(int argc, char **argv) {
    process_argc = argc;
    process_argv = argv;
    snprintf(command_line, sizeof command_line, "bitbench");
    for (int i = 1; i < argc; i++) append_arg(command_line, sizeof command_line, argv[i]);
}

const char *bb_cli_command_line(void) { return command_line; }

void bb_config_hash(const char *text, char out[17]) {
    uint8_t d[32];
    char hex[65];
    bb_sha256_buffer(text, strlen(text), d);
    bb_sha256_hex(d, hex);
    memcpy(out, hex, 16);
    out[16] = '\0';
}

void bb_run_id(const bb_env *e, const char *tag, char *out, size_t cap) {
    char date[16], commit[32], host[64];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y%m%d", gmtime(&now));
    /* short commit: 7 hex digits, keeping git's -dirty mark */
    snprintf(commit, sizeof commit, "%.7s%s", e->git_commit, strstr(e->git_commit, "-dirty") ? "-dirty" : "");
    bb_csv_clean(host, sizeof host, e->hostname);
    for (char *p = host; *p; p++)
        if (*p == '/' || *p == ' ') *p = '_';
    snprintf(out, cap, "%s-%s-%s%s%s", date, commit, host, tag && *tag ? "-" : "", tag ? tag : "");
}

static char binary_hash[65];

const char *bb_run_binary_hash(void) {
    if (!binary_hash[0]) {
        uint8_t d[32];
        if (bb_sha256_file("/proc/self/exe", d) == 0) bb_sha256_hex(d, binary_hash);
        else snprintf(binary_hash, sizeof binary_hash, "unknown");
    }
    return binary_hash;
}

/* Copies a string member of obj, "" if absent. */
static const char *str_member(const bb_json_node *obj, const char *key) {
    const bb_json_node *n = bb_json_get(obj, key);
    return n && n->type == BB_JSON_STRING ? n->str : "";
}

static void write_string_object(bb_json *j, const bb_json_node *obj) {
    bb_json_obj_begin(j);
    for (const bb_json_node *c = obj->child; c; c = c->next) {
        bb_json_key(j, c->key);
        if (c->type == BB_JSON_STRING) bb_json_str(j, c->str);
        else if (c->type == BB_JSON_NUMBER) bb_json_num(j, c->number);
        else bb_json_null(j);
    }
    bb_json_obj_end(j);
}

void bb_run_begin(bb_run *run, const char *stage, const char *words, const char *tag, const char *out_dir, bool fresh,
                  const char *config, int argc, char **argv) {
    bb_env_collect(&run->env);
    char id[512], cmd[8192], hash[17], now_utc[32];
    bb_run_id(&run->env, tag, id, sizeof id);
    if (out_dir) snprintf(run->dir, sizeof run->dir, "%s", out_dir);
    else snprintf(run->dir, sizeof run->dir, "%s/results/runs/%s", BB_SOURCE_ROOT, id);
    char manifest[4300];
    snprintf(manifest, sizeof manifest, "%s/manifest.json", run->dir);
    if (fresh && bb_file_exists(manifest)) {
        char base[4096];
        snprintf(base, sizeof base, "%s", run->dir);
        for (int k = 2; bb_file_exists(manifest); k++) {
            if (snprintf(run->dir, sizeof run->dir, "%s-%d", base, k) >= (int)sizeof run->dir ||
                snprintf(manifest, sizeof manifest, "%s/manifest.json", run->dir) >= (int)sizeof manifest)
                bb_user_error("results folder name too long: %s", base);
        }
    }
    const char *slash = strrchr(run->dir, '/');
    if (snprintf(id, sizeof id, "%s", slash ? slash + 1 : run->dir) >= (int)sizeof id)
        bb_user_error("results folder name too long: %s", run->dir);
    snprintf(cmd, sizeof cmd, "bitbench %s", words);
    for (int i = 0; i < argc; i++) append_arg(cmd, sizeof cmd, argv[i]);
    bb_config_hash(config, hash);
    time_t now = time(NULL);
    strftime(now_utc, sizeof now_utc, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    const char *bin = bb_run_binary_hash();
    if (bb_mkdir_p(run->dir) != 0) bb_user_error("cannot create results folder %s: %s", run->dir, strerror(errno));

    /* resuming: the folder's first invocation defines the run; later ones are appended */
    bb_json_doc *old = NULL;
    const bb_json_node *root = NULL;
    if (bb_file_exists(manifest)) {
        char *text, err[300];
        size_t len;
        if (bb_read_file(manifest, &text, &len) != 0) bb_user_error("cannot read %s: %s", manifest, strerror(errno));
        old = bb_json_parse(text, len, err, sizeof err);
        bb_free(text);
        if (!old) bb_user_error("%s is not valid JSON (%s); use another --out", manifest, err);
        root = bb_json_doc_root(old);
        const char *old_bin = str_member(root, "binary_sha256");
        const bb_json_node *oenv = bb_json_get(root, "env");
        const char *old_host = oenv ? str_member(oenv, "hostname") : "";
        if (!old_bin[0])
            bb_user_error("%s was not made by a harness command (its manifest has no binary hash): pass another --out",
                          run->dir);
        if (strcmp(old_bin, bin) != 0)
            bb_user_error("%s holds results of another bitbench build (binary %.12s, this one %.12s); rows of two builds "
                          "are never mixed: pass --fresh or another --out", run->dir, old_bin, bin);
        if (strcmp(old_host, run->env.hostname) != 0)
            bb_user_error("%s holds results from host '%s', this is '%s': pass --fresh or another --out", run->dir, old_host,
                          run->env.hostname);
        fprintf(stderr, "resuming %s (finished rows are kept)\n", run->dir);
    }
    bb_atomic_file af;
    FILE *f = bb_run_open(run, "manifest.json", &af);
    bb_json j;
    bb_json_init(&j, f);
    bb_json_obj_begin(&j);
    bb_json_key(&j, "run_id"); bb_json_str(&j, old ? str_member(root, "run_id") : id);
    bb_json_key(&j, "created_utc"); bb_json_str(&j, old ? str_member(root, "created_utc") : now_utc);
    bb_json_key(&j, "stage"); bb_json_str(&j, old ? str_member(root, "stage") : stage);
    bb_json_key(&j, "command_line"); bb_json_str(&j, old ? str_member(root, "command_line") : cmd);
    bb_json_key(&j, "command");
    bb_json_arr_begin(&j);
    const bb_json_node *oc = old ? bb_json_get(root, "command") : NULL;
    if (oc && oc->type == BB_JSON_ARRAY) {
        for (const bb_json_node *c = oc->child; c; c = c->next) bb_json_str(&j, c->type == BB_JSON_STRING ? c->str : "");
    } else {
        bb_json_str(&j, "bitbench");
        char w[256];
        snprintf(w, sizeof w, "%s", words);
        for (char *save = NULL, *t = strtok_r(w, " ", &save); t; t = strtok_r(NULL, " ", &save)) bb_json_str(&j, t);
        for (int i = 0; i < argc; i++) bb_json_str(&j, argv[i]);
    }
    bb_json_arr_end(&j);
    bb_json_key(&j, "config"); bb_json_str(&j, old ? str_member(root, "config") : config);
    bb_json_key(&j, "config_hash"); bb_json_str(&j, old ? str_member(root, "config_hash") : hash);
    bb_json_key(&j, "binary_sha256"); bb_json_str(&j, bin);
    bb_json_key(&j, "env");
    bb_env_write_json(&run->env, &j);
    bb_json_key(&j, "invocations");
    bb_json_arr_begin(&j);
    const bb_json_node *inv = old ? bb_json_get(root, "invocations") : NULL;
    if (inv && inv->type == BB_JSON_ARRAY)
        for (const bb_json_node *c = inv->child; c; c = c->next)
            if (c->type == BB_JSON_OBJECT) write_string_object(&j, c);
    bb_json_obj_begin(&j);
    bb_json_key(&j, "stage"); bb_json_str(&j, stage);
    bb_json_key(&j, "command_line"); bb_json_str(&j, cmd);
    bb_json_key(&j, "process_command_line"); bb_json_str(&j, command_line);
    bb_json_key(&j, "config"); bb_json_str(&j, config);
    bb_json_key(&j, "config_hash"); bb_json_str(&j, hash);
    bb_json_key(&j, "started_utc"); bb_json_str(&j, now_utc);
    bb_json_obj_end(&j);
    bb_json_arr_end(&j);
    bb_json_obj_end(&j);
    fputc('\n', f);
    bb_run_commit(&af);
    if (old) bb_json_doc_free(old);
}

void bb_utc_now(char out[32]) {
    time_t now = time(NULL);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
}
