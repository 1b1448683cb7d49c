/* io.c — see io.h. */
#include "io.h"
#include "../engine/alloc.h"
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int bb_read_file(const char *path, char **data, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    struct stat st;
    if (fstat(fileno(f), &st) != 0) { fclose(f); return -1; }
    if (S_ISDIR(st.st_mode)) { fclose(f); errno = EISDIR; return -1; }
    size_t size = (size_t)st.st_size;
    char *buf = bb_alloc(BB_MEM_DATA, size + 1);
    size_t got = fread(buf, 1, size, f);
    int err = ferror(f);
    fclose(f);
    if (err || got != size) { bb_free(buf); errno = err ? EIO : ENODATA; return -1; }
    buf[size] = '\0';
    *data = buf;
    *len = size;
    return 0;
}

FILE *bb_atomic_open(bb_atomic_file *af, const char *path) {
    if (strlen(path) >= sizeof af->path) { errno = ENAMETOOLONG; return NULL; }
    strcpy(af->path, path);
    snprintf(af->tmp_path, sizeof af->tmp_path, "%s.tmp.%ld", path, (long)getpid());
    af->f = fopen(af->tmp_path, "wb");
    return af->f;
}

int bb_atomic_commit(bb_atomic_file *af) {
    int ok = fflush(af->f) == 0 && fsync(fileno(af->f)) == 0;
    int saved = errno;
    ok = (fclose(af->f) == 0) && ok;
    af->f = NULL;
    if (ok && rename(af->tmp_path, af->path) == 0) return 0;
    if (!ok) errno = saved ? saved : EIO;
    saved = errno;
    remove(af->tmp_path);
    errno = saved;
    return -1;
}

void bb_atomic_abort(bb_atomic_file *af) {
    if (af->f) fclose(af->f);
    af->f = NULL;
    remove(af->tmp_path);
}

int bb_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int bb_mkdir_p(const char *path) {
    char buf[4096];
    if (strlen(path) >= sizeof buf) { errno = ENAMETOOLONG; return -1; }
    strcpy(buf, path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
    return 0;
}
