/* results.h — a run's output folder: results/runs/<UTC time>-<name>/ (or --out DIR)
 * with manifest.json (the `bitbench env` object, the command line, the time) next to
 * the CSVs the run writes. Every CSV row also carries the CPU model and git commit, so
 * a CSV copied on its own still says where its numbers came from. All files are
 * written atomically. */
#pragma once
#include "../common/io.h"
#include "env.h"
#include <stdio.h>

typedef struct {
    char dir[4096];
    bb_env env;
} bb_run;

/* Creates the folder and writes manifest.json; exits with a clear error on failure. */
void bb_run_create(bb_run *run, const char *name, const char *out_dir, int argc, char **argv);
/* Opens <dir>/<file> for atomic writing; commit with bb_atomic_commit. */
FILE *bb_run_open(bb_run *run, const char *file, bb_atomic_file *af);
void bb_run_commit(bb_atomic_file *af);
/* CSV-safe copy of s (commas and quotes replaced) for the machine columns. */
void bb_csv_clean(char *dst, size_t cap, const char *s);

/* --- harness runs (issue #8): bitbench suite, bench throughput|memory|quality ------------
 * A harness run folder is results/runs/<run id> (or --out DIR). The run id is
 * <UTC date YYYYMMDD>-<short commit>-<host>[-<tag>], so a second invocation of the same
 * build on the same day and host lands in the same folder and resumes it: its CSVs
 * (bench/csv.h) already hold the finished rows. Resuming is refused when the folder was
 * written by another binary (its SHA-256 is in the manifest) or on another host, because
 * rows from two builds must never be mixed in one table or ratio.
 *
 * manifest.json: run_id, created_utc, the first invocation's command (argv array and
 * command_line), config and config_hash (the run's identity), binary_sha256, the `bitbench
 * env` object, and `invocations`: every command that wrote into the folder, with its stage,
 * command line, config, config hash and start time. */

/* The run id of this process (tag NULL or "" for none). */
void bb_run_id(const bb_env *e, const char *tag, char *out, size_t cap);
/* The first 16 hex digits of SHA-256(text): config hashes. */
void bb_config_hash(const char *text, char out[17]);
/* The full command line of this process ("bitbench suite --tiny"), set by main. */
void bb_cli_set_command_line(int argc, char **argv);
const char *bb_cli_command_line(void);
/* Opens (creating or resuming) a harness run folder. stage names the driver
 * ("throughput"); words are its command words ("bench throughput") and argc/argv its
 * arguments, recorded as the exact command "bitbench <words> <args>". config is the
 * driver's resolved settings in one canonical line (hashed into config_hash). When
 * fresh, an existing folder is never reused: -2, -3, ... are appended to the id.
 * Exits with one clear sentence when the folder cannot be used. */
void bb_run_begin(bb_run *run, const char *stage, const char *words, const char *tag, const char *out_dir, bool fresh,
                  const char *config, int argc, char **argv);
/* The run's binary SHA-256 (after bb_run_begin), for cache keys. */
const char *bb_run_binary_hash(void);
/* The current UTC time as ISO 8601 ("2026-11-27T12:16:33Z"). */
void bb_utc_now(char out[32]);
