/* io.h — whole-file reads and atomic writes (DESIGN.md: a crash never leaves a
 * half-written file). Writers go to "<path>.tmp.<pid>" and rename() over the target
 * only after fflush + fsync succeed. */
#pragma once
#include <stddef.h>
#include <stdio.h>

/* Reads the whole file into a NUL-terminated buffer from bb_alloc(BB_MEM_DATA).
 * Returns 0, or -1 with errno set (the caller reports the user-facing error). */
int bb_read_file(const char *path, char **data, size_t *len);

typedef struct {
    FILE *f;
    char path[4096];
    char tmp_path[4096 + 32];
} bb_atomic_file;

/* Opens the temp file; returns NULL (errno set) on failure. */
FILE *bb_atomic_open(bb_atomic_file *af, const char *path);
/* Flushes, syncs, closes and renames. Returns 0, or -1 (temp removed, errno set). */
int bb_atomic_commit(bb_atomic_file *af);
/* Closes and removes the temp file; the target is untouched. */
void bb_atomic_abort(bb_atomic_file *af);

int bb_file_exists(const char *path);
/* mkdir -p; returns 0 or -1 with errno. */
int bb_mkdir_p(const char *path);
