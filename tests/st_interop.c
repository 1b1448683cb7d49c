/* st_interop.c — the C half of tests/ref/safetensors_interop.py, which checks our
 * safetensors files against the reference `safetensors` Python package both ways:
 *   st_interop write PATH   writes the sample below for Python to read and check
 *   st_interop check PATH   reads the file Python wrote and checks every value
 * The expected values here and in the script must stay in step. Exit 0 when all agree. */
#include "../engine/alloc.h"
#include "../engine/safetensors.h"
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int failures;

#define EXPECT(cond, ...)                                                       \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "st_interop: %s: ", #cond);                         \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
            failures++;                                                         \
        }                                                                       \
    } while (0)

static int write_sample(const char *path) {
    static const float w[6] = {-1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f};
    static const uint16_t h[3] = {0x3C00, 0xC000, 0x3555};      /* F16 1, -2, ~1/3 */
    static const uint16_t bf[2] = {0x3F80, 0xC040};             /* BF16 1, -3 */
    static const double d[2] = {0.1, -1e300};
    static const int32_t i32[4] = {-2147483647 - 1, -1, 7, 2147483647};
    static const int64_t i64[2] = {-5, INT64_MAX};
    static const int8_t i8[3] = {-128, 0, 127};
    static const uint8_t u8[4] = {0, 1, 128, 255};
    static const float scalar = 2.5f;
    const bb_st_tensor t[] = {
        {"w", BB_DT_F32, 2, {2, 3}, w},
        {"h", BB_DT_F16, 1, {3}, h},
        {"bf", BB_DT_BF16, 1, {2}, bf},
        {"d", BB_DT_F64, 1, {2}, d},
        {"layers.0/i32", BB_DT_I32, 2, {2, 2}, i32},
        {"i64", BB_DT_I64, 1, {2}, i64},
        {"i8", BB_DT_I8, 1, {3}, i8},
        {"u8", BB_DT_U8, 2, {1, 4}, u8},
        {"scalar", BB_DT_F32, 0, {0}, &scalar},
        {"empty", BB_DT_F32, 2, {0, 3}, NULL},
    };
    const char *keys[] = {"format", "quote", "unicode"};
    const char *vals[] = {"np", "a \"b\" \\c\\ d\n", "h\xc3\xa9llo \xe2\x98\x83 \xf0\x9d\x84\x9e"};
    char err[512];
    if (bb_safetensors_write(path, t, (int)(sizeof t / sizeof t[0]), keys, vals, 3, err,
                             sizeof err) != 0) {
        fprintf(stderr, "st_interop: %s\n", err);
        return 1;
    }
    return 0;
}

static void expect_tensor(const bb_safetensors *st, const char *name, bb_dtype dt, int ndim,
                          const int64_t *shape, const void *bytes, size_t nbytes) {
    const bb_st_entry *e = bb_safetensors_find(st, name);
    EXPECT(e != NULL, "no tensor '%s'", name);
    if (!e) return;
    EXPECT(e->dtype == dt, "'%s' is %s, expected %s", name, bb_dtype_name(e->dtype),
           bb_dtype_name(dt));
    EXPECT(e->ndim == ndim, "'%s' has %d dims, expected %d", name, e->ndim, ndim);
    for (int i = 0; i < ndim && i < e->ndim; i++)
        EXPECT(e->shape[i] == shape[i], "'%s' shape[%d] = %lld, expected %lld", name, i,
               (long long)e->shape[i], (long long)shape[i]);
    EXPECT(e->nbytes == nbytes && (nbytes == 0 || memcmp(e->data, bytes, nbytes) == 0),
           "'%s' bytes differ (%zu bytes, expected %zu)", name, e->nbytes, nbytes);
}

/* What safetensors_interop.py writes with safetensors.numpy.save_file. */
static int check_python_file(const char *path) {
    bb_safetensors st;
    char err[512];
    if (bb_safetensors_open(&st, path, err, sizeof err) != 0) {
        fprintf(stderr, "st_interop: %s\n", err);
        return 1;
    }
    static const float a[6] = {0.0f, 0.25f, 0.5f, 0.75f, 1.0f, 1.25f};
    static const int64_t b[2] = {-3, (int64_t)1 << 40};
    static const uint16_t c[2] = {0x3E00, 0xC000};               /* F16 1.5, -2 */
    static const uint8_t u8[3] = {0, 7, 255};
    static const uint8_t mask[3] = {1, 0, 1};
    static const double f = 3.25;
    static const int8_t i8[2] = {-1, 2};
    static const uint16_t u16[2] = {0, 65535};
    static const uint32_t u32[1] = {4000000000u};
    static const uint64_t u64[1] = {UINT64_MAX};
    static const int16_t i16[2] = {-32768, 32767};
    expect_tensor(&st, "a", BB_DT_F32, 2, (const int64_t[]){2, 3}, a, sizeof a);
    expect_tensor(&st, "b", BB_DT_I64, 1, (const int64_t[]){2}, b, sizeof b);
    expect_tensor(&st, "c", BB_DT_F16, 1, (const int64_t[]){2}, c, sizeof c);
    expect_tensor(&st, "d", BB_DT_U8, 1, (const int64_t[]){3}, u8, sizeof u8);
    expect_tensor(&st, "e", BB_DT_BOOL, 1, (const int64_t[]){3}, mask, sizeof mask);
    expect_tensor(&st, "f", BB_DT_F64, 0, NULL, &f, sizeof f);
    expect_tensor(&st, "g", BB_DT_I32, 1, (const int64_t[]){0}, NULL, 0);
    expect_tensor(&st, "h", BB_DT_I8, 2, (const int64_t[]){2, 1}, i8, sizeof i8);
    expect_tensor(&st, "u16", BB_DT_U16, 1, (const int64_t[]){2}, u16, sizeof u16);
    expect_tensor(&st, "u32", BB_DT_U32, 1, (const int64_t[]){1}, u32, sizeof u32);
    expect_tensor(&st, "u64", BB_DT_U64, 1, (const int64_t[]){1}, u64, sizeof u64);
    expect_tensor(&st, "i16", BB_DT_I16, 1, (const int64_t[]){2}, i16, sizeof i16);
    EXPECT(st.n_tensors == 12, "%d tensors, expected 12", st.n_tensors);
    const char *src = bb_safetensors_meta(&st, "source");
    const char *uni = bb_safetensors_meta(&st, "\xc3\xbcn\xc3\xaf");
    EXPECT(src && strcmp(src, "python") == 0, "metadata source = %s", src ? src : "(absent)");
    EXPECT(uni && strcmp(uni, "\xc3\xa7\xc3\xb8" "d\xc3\xa9 \"q\" \\ \xe2\x98\x83") == 0,
           "metadata \xc3\xbcn\xc3\xaf = %s", uni ? uni : "(absent)");
    EXPECT(st.n_meta == 2, "%d metadata entries, expected 2", st.n_meta);
    printf("st_interop: %s: %d tensors, %d metadata entries checked, header %zu bytes\n", path,
           st.n_tensors, st.n_meta, st.header_len);
    bb_safetensors_close(&st);
    return failures ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "write") == 0) return write_sample(argv[2]);
    if (argc == 3 && strcmp(argv[1], "check") == 0) return check_python_file(argv[2]);
    fprintf(stderr, "usage: st_interop write|check PATH\n");
    return 2;
}
