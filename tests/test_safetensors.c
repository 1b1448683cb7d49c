/* test_safetensors.c — the strict JSON parser (common/json_parse.h) and the safetensors
 * reader/writer (engine/safetensors.h): round trip over every dtype, 0-d and empty tensors
 * and awkward metadata; every truncation of a file is refused; every single-byte corruption
 * of the header is refused or yields a consistent file; hand-written malformed headers get
 * the right message. Inputs are copied so they end exactly where a tracked allocation ends
 * (see tail_copy), so the ASan build flags any read past the end. */
#include "../common/check.h"
#include "../common/io.h"
#include "../common/json_parse.h"
#include "../engine/alloc.h"
#include "../engine/safetensors.h"
#include "test.h"
#include <stdint.h>
#include <unistd.h>

/* ------------------------------------------------------------------ JSON parser */

static const bb_json_node *parse_ok(bb_json_doc **doc, const char *text) {
    char err[200] = "";
    *doc = bb_json_parse(text, strlen(text), err, sizeof err);
    CHECK(*doc != NULL, "bb_json_parse(%s) failed: %s", text, err);
    return *doc ? bb_json_doc_root(*doc) : NULL;
}

static void test_json_parse_values(void) {
    bb_json_doc *doc;
    const bb_json_node *r = parse_ok(&doc,
        " {\"a\": [1, -2, 0, -0, 9223372036854775807, -9223372036854775808, 9223372036854775808,"
        " 1.5, -2e3, 1E-2], \"s\": \"q\\\"b\\\\s\\/\\b\\f\\n\\r\\t\\u00e9\\u2603\\ud834\\udd1e\","
        " \"t\": true, \"f\": false, \"z\": null, \"e\": {}, \"ea\": [], \"raw\": \"h\xc3\xa9\"} \n");
    if (!r) return;
    CHECK(r->type == BB_JSON_OBJECT && r->n == 8, "root type %d n %zu", r->type, r->n);
    const bb_json_node *a = bb_json_get(r, "a");
    CHECK(a && a->type == BB_JSON_ARRAY && a->n == 10, "array a");
    static const int64_t ints[] = {1, -2, 0, 0, INT64_MAX, INT64_MIN};
    const bb_json_node *x = a ? a->child : NULL;
    for (int i = 0; i < 6 && x; i++, x = x->next)
        CHECK(x->is_int && x->integer == ints[i], "a[%d] = %lld", i, (long long)x->integer);
    CHECK(x && !x->is_int && x->number == 9223372036854775808.0, "2^63 is not an int64");
    x = x ? x->next : NULL;
    CHECK(x && !x->is_int && x->number == 1.5, "1.5");
    x = x ? x->next : NULL;
    CHECK(x && !x->is_int && x->number == -2000.0, "-2e3");
    x = x ? x->next : NULL;
    CHECK(x && !x->is_int && x->number == 0.01, "1E-2");
    const bb_json_node *s = bb_json_get(r, "s");
    const char *want = "q\"b\\s/\b\f\n\r\t\xc3\xa9\xe2\x98\x83\xf0\x9d\x84\x9e";
    CHECK(s && s->type == BB_JSON_STRING && s->str_len == strlen(want) && strcmp(s->str, want) == 0,
          "escapes decoded to '%s'", s ? s->str : "(none)");
    CHECK(bb_json_get(r, "t")->boolean && !bb_json_get(r, "f")->boolean, "booleans");
    CHECK(bb_json_get(r, "z")->type == BB_JSON_NULL, "null");
    CHECK(bb_json_get(r, "e")->type == BB_JSON_OBJECT && bb_json_get(r, "e")->n == 0, "{}");
    CHECK(bb_json_get(r, "ea")->type == BB_JSON_ARRAY && bb_json_get(r, "ea")->n == 0, "[]");
    CHECK(strcmp(bb_json_get(r, "raw")->str, "h\xc3\xa9") == 0, "raw UTF-8 kept");
    CHECK(bb_json_get(r, "missing") == NULL, "absent key");
    bb_json_doc_free(doc);

    r = parse_ok(&doc, "\"a\\u0000b\"");
    CHECK(r && r->str_len == 3 && memcmp(r->str, "a\0b", 3) == 0, "\\u0000 keeps its length");
    bb_json_doc_free(doc);
    r = parse_ok(&doc, "{\"k\":1,\"k\":2}");
    CHECK(r && r->n == 2 && bb_json_get(r, "k")->integer == 1, "duplicates kept, first found");
    bb_json_doc_free(doc);
}

static void test_json_parse_rejects(void) {
    static const char *bad[] = {
        "", " ", "{", "}", "[1,]", "[,1]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "{1:1}",
        "01", "1.", ".5", "+1", "-", "1e", "1e+", "--1", "0x10", "NaN", "Infinity",
        "tru", "nul", "falsey", "\"abc", "\"a\\\"", "\"\\x\"", "\"\\u12\"", "\"\\u12G4\"",
        "\"\\ud834\"", "\"\\ud834\\u0041\"", "\"\\udd1e\"", "\"tab\there\"", "\"nl\nx\"",
        "\"\xc3\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xff\"",
        "{} {}", "[1] x", "1 2", "\"a\"\"b\"", "[1]\x00",
    };
    char err[200];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = strlen(bad[i]) + (strcmp(bad[i], "[1]") == 0);  /* "[1]\0": NUL after */
        err[0] = '\0';
        bb_json_doc *doc = bb_json_parse(bad[i], len, err, sizeof err);
        CHECK(doc == NULL && strncmp(err, "JSON error at byte ", 19) == 0,
              "bad JSON #%zu accepted or no message: '%s'", i, err);
        bb_json_doc_free(doc);
    }
    /* nesting: 128 levels parse, 129 do not */
    char deep[300];
    for (int depth = 128; depth <= 129; depth++) {
        for (int i = 0; i < depth; i++) { deep[i] = '['; deep[2 * depth - 1 - i] = ']'; }
        bb_json_doc *doc = bb_json_parse(deep, 2 * (size_t)depth, err, sizeof err);
        CHECK((doc != NULL) == (depth <= BB_JSON_PARSE_MAX_DEPTH), "depth %d: %s", depth,
              doc ? "accepted" : err);
        bb_json_doc_free(doc);
    }
    CHECK(bb_utf8_valid("h\xc3\xa9 \xf0\x9d\x84\x9e", 8) && !bb_utf8_valid("\xe2\x98", 2),
          "bb_utf8_valid");
}

/* ------------------------------------------------------------------ helpers */

/* A copy of data[0..len) that ends exactly where its tracked allocation ends (bb_alloc
 * rounds sizes up to 64), so reading one byte past it is an ASan error. */
static unsigned char *tail_copy(const void *data, size_t len, void **block) {
    size_t cap = (len + 63) & ~(size_t)63;
    *block = bb_alloc(BB_MEM_OTHER, cap ? cap : 64);
    unsigned char *p = (unsigned char *)*block + (cap ? cap : 64) - len;
    memcpy(p, data, len);
    return p;
}

static void tmp_path(char *buf, size_t n, const char *what) {
    snprintf(buf, n, "/tmp/bb-test-st-%ld-%s.safetensors", (long)getpid(), what);
}

/* A file image: 8-byte size, header text, then data_len bytes 0, 1, 2, ... */
static unsigned char *image(const char *header, size_t data_len, size_t *len) {
    size_t n = strlen(header);
    *len = 8 + n + data_len;
    unsigned char *b = bb_alloc(BB_MEM_OTHER, *len);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(b + 8, header, n);
    for (size_t i = 0; i < data_len; i++) b[8 + n + i] = (unsigned char)i;
    return b;
}

/* Parses an exact-end copy; returns the rc and leaves the message in err. */
static int parse_copy(const void *data, size_t len, char *err, size_t err_len) {
    void *block;
    unsigned char *p = tail_copy(data, len, &block);
    bb_safetensors st;
    err[0] = '\0';
    int rc = bb_safetensors_parse(&st, p, len, "t.safetensors", err, err_len);
    if (rc == 0) bb_safetensors_close(&st);
    bb_free(block);
    return rc;
}

/* ------------------------------------------------------------------ round trip */

enum { N_RT = 13 };
static float f32v[6] = {0.f, -1.5f, 3.25f, 1e-30f, -0.f, 65504.f};
static uint16_t f16v[4] = {0x3C00, 0xC000, 0x7BFF, 0x0001};
static uint16_t bf16v[4] = {0x3F80, 0xBF80, 0x7F80, 0x0000};
static double f64v[3] = {1.0 / 3.0, -2.5e300, 4.9e-324};
static int32_t i32v[4] = {-2147483647 - 1, -1, 0, 2147483647};
static int64_t i64v[2] = {-1, INT64_MAX};
static int8_t i8v[3] = {-128, 0, 127};
static uint8_t u8v[5] = {0, 1, 128, 254, 255};
static float scalar = 42.5f;
static uint8_t boolv[3] = {1, 0, 1};
static uint16_t u16v[2] = {0, 65535};
static uint64_t u64v[1] = {UINT64_MAX};

static void sample(bb_st_tensor t[N_RT]) {
    bb_st_tensor s[N_RT] = {
        {"embed/\xcf\x89.weight", BB_DT_F32, 2, {2, 3}, f32v},
        {"h.f16", BB_DT_F16, 1, {4}, f16v},
        {"h.bf16", BB_DT_BF16, 2, {2, 2}, bf16v},
        {"empty.a", BB_DT_F32, 2, {0, 4}, NULL},
        {"d", BB_DT_F64, 1, {3}, f64v},
        {"quote\"back\\slash", BB_DT_I32, 3, {2, 1, 2}, i32v},
        {"i64", BB_DT_I64, 1, {2}, i64v},
        {"i8", BB_DT_I8, 1, {3}, i8v},
        {"u8", BB_DT_U8, 1, {5}, u8v},
        {"scalar", BB_DT_F32, 0, {0}, &scalar},
        {"empty.b", BB_DT_I64, 3, {3, 0, 2}, NULL},
        {"mask", BB_DT_BOOL, 1, {3}, boolv},
        {"wide", BB_DT_U16, 1, {2}, u16v},
    };
    (void)u64v;
    memcpy(t, s, sizeof s);
}

static const char *meta_k[] = {"format", "quotes", "unicode", "controls", "empty"};
static const char *meta_v[] = {"pt", "say \"hi\" to C:\\path\\", "h\xc3\xa9llo \xe2\x98\x83 \xf0\x9d\x84\x9e",
                               "tab\there\nnew line\x01", ""};

static void test_round_trip(void) {
    size_t base = bb_mem_stats_get().current_total;
    char path[256], err[512] = "";
    tmp_path(path, sizeof path, "rt");
    bb_st_tensor t[N_RT];
    sample(t);
    int rc = bb_safetensors_write(path, t, N_RT, meta_k, meta_v, 5, err, sizeof err);
    CHECK(rc == 0, "write failed: %s", err);
    bb_safetensors st;
    rc = bb_safetensors_open(&st, path, err, sizeof err);
    CHECK(rc == 0, "open failed: %s", err);
    if (rc) return;
    CHECK(st.n_tensors == N_RT && st.n_meta == 5, "%d tensors, %d meta", st.n_tensors, st.n_meta);
    CHECK(st.header_len % 8 == 0, "header length %zu is not a multiple of 8", st.header_len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | (unsigned char)st.file[i];
    CHECK(n == st.header_len, "size field %llu vs %zu", (unsigned long long)n, st.header_len);
    CHECK(st.buffer == (const unsigned char *)st.file + 8 + n, "buffer starts at 8+N");
    CHECK(st.file[8] == '{' && st.file[8 + n - 1] != '\0', "header is JSON text");
    size_t offset = 0;
    for (int i = 0; i < N_RT && i < st.n_tensors; i++) {
        const bb_st_entry *e = &st.tensors[i];
        size_t want_bytes = bb_dtype_size(t[i].dtype);
        for (int d = 0; d < t[i].ndim; d++) want_bytes *= (size_t)t[i].shape[d];
        CHECK(strcmp(e->name, t[i].name) == 0, "tensor %d is '%s', wrote '%s'", i, e->name, t[i].name);
        CHECK(e->dtype == t[i].dtype && e->ndim == t[i].ndim, "'%s': dtype %s ndim %d", e->name,
              bb_dtype_name(e->dtype), e->ndim);
        for (int d = 0; d < e->ndim; d++)
            CHECK(e->shape[d] == t[i].shape[d], "'%s' shape[%d] = %lld", e->name, d,
                  (long long)e->shape[d]);
        CHECK(e->offset == offset && e->nbytes == want_bytes, "'%s' at %zu, %zu bytes", e->name,
              e->offset, e->nbytes);
        CHECK(e->data == st.buffer + offset, "'%s' data pointer", e->name);
        CHECK(want_bytes == 0 || memcmp(e->data, t[i].data, want_bytes) == 0, "'%s' bytes differ",
              e->name);
        CHECK(bb_safetensors_find(&st, t[i].name) == e, "find('%s')", t[i].name);
        offset += want_bytes;
    }
    CHECK(st.tensors[0].data == st.buffer, "the first tensor starts at 8+N");
    CHECK(st.buffer_len == offset, "buffer %zu bytes, tensors %zu", st.buffer_len, offset);
    CHECK(bb_safetensors_find(&st, "nope") == NULL && bb_safetensors_find(&st, "") == NULL,
          "find of an absent name");
    for (int i = 0; i < 5; i++) {
        const char *v = bb_safetensors_meta(&st, meta_k[i]);
        CHECK(v && strcmp(v, meta_v[i]) == 0, "meta '%s' = '%s'", meta_k[i], v ? v : "(null)");
    }
    CHECK(bb_safetensors_meta(&st, "absent") == NULL, "absent meta key");
    /* the padding is spaces */
    for (size_t i = 8 + n - 1; st.file[i] != '}'; i--)
        CHECK(st.file[i] == ' ', "pad byte %zu is 0x%02x", i, (unsigned char)st.file[i]);
    bb_safetensors_close(&st);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    CHECK(!bb_file_exists(tmp), "temp file left behind");
    remove(path);
    /* no metadata and no tensors: "{}" padded to 8 */
    rc = bb_safetensors_write(path, NULL, 0, NULL, NULL, 0, err, sizeof err);
    CHECK(rc == 0, "empty write: %s", err);
    rc = bb_safetensors_open(&st, path, err, sizeof err);
    CHECK(rc == 0 && st.n_tensors == 0 && st.n_meta == 0 && st.header_len == 8,
          "empty file: rc %d, %s", rc, err);
    if (rc == 0) bb_safetensors_close(&st);
    remove(path);
    CHECK(bb_mem_stats_get().current_total == base, "leak: %zu tracked bytes before, %zu after",
          base, bb_mem_stats_get().current_total);
}

static void test_dtype_table(void) {
    for (int i = 0; i < BB_DT_COUNT; i++) {
        const char *nm = bb_dtype_name((bb_dtype)i);
        CHECK(bb_dtype_from_name(nm, strlen(nm)) == i && bb_dtype_size((bb_dtype)i) > 0,
              "dtype %d '%s'", i, nm);
    }
    CHECK(bb_dtype_size(BB_DT_F32) == 4 && bb_dtype_size(BB_DT_BF16) == 2 &&
          bb_dtype_size(BB_DT_I64) == 8 && bb_dtype_size(BB_DT_U8) == 1, "sizes");
    CHECK(bb_dtype_from_name("F3", 2) < 0 && bb_dtype_from_name("f32", 3) < 0, "unknown names");
}

/* The bytes of the sample file, read back from disk. */
static char *sample_bytes(size_t *len) {
    char path[256], err[512];
    tmp_path(path, sizeof path, "sample");
    bb_st_tensor t[N_RT];
    sample(t);
    BB_CHECK(bb_safetensors_write(path, t, N_RT, meta_k, meta_v, 5, err, sizeof err) == 0);
    char *data;
    BB_CHECK(bb_read_file(path, &data, len) == 0);
    remove(path);
    return data;
}

static void test_every_truncation(void) {
    size_t len;
    char *full = sample_bytes(&len), err[512];
    int refused = 0;
    for (size_t cut = 0; cut < len; cut++) {
        int rc = parse_copy(full, cut, err, sizeof err);
        refused += rc != 0;
        CHECK(rc != 0 && strstr(err, "'t.safetensors' is truncated") != NULL,
              "cut at %zu of %zu: rc %d, '%s'", cut, len, rc, err);
    }
    CHECK(parse_copy(full, len, err, sizeof err) == 0, "the whole file: %s", err);
    printf("  %d truncations of a %zu-byte file refused\n", refused, len);
    bb_free(full);
}

/* A file that opens must be self-consistent whatever its bytes were. */
static void check_consistent(const bb_safetensors *st, const unsigned char *file, size_t len,
                             const char *what) {
    CHECK(st->buffer == file + 8 + st->header_len && st->buffer + st->buffer_len == file + len,
          "%s: buffer bounds", what);
    size_t at = 0;
    for (int i = 0; i < st->n_tensors; i++) {
        const bb_st_entry *e = &st->tensors[i];
        size_t bytes = bb_dtype_size(e->dtype);
        for (int d = 0; d < e->ndim; d++) bytes *= (size_t)e->shape[d];
        CHECK(e->ndim >= 0 && e->ndim <= BB_ST_MAX_DIMS && bytes == e->nbytes && e->offset == at &&
              e->data == st->buffer + e->offset, "%s: tensor %d '%s'", what, i, e->name);
        CHECK(bb_safetensors_find(st, e->name) == e, "%s: find('%s')", what, e->name);
        at += e->nbytes;
    }
    CHECK(at == st->buffer_len, "%s: tensors cover %zu of %zu bytes", what, at, st->buffer_len);
}

static void test_every_header_byte_flip(void) {
    size_t len;
    char *full = sample_bytes(&len), err[512], what[64];
    size_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | (unsigned char)full[i];
    static const unsigned char masks[] = {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xFF};
    unsigned char *copy = bb_alloc(BB_MEM_OTHER, len);
    int accepted = 0, refused = 0;
    for (size_t i = 0; i < 8 + n; i++) {
        for (size_t m = 0; m < sizeof masks; m++) {
            memcpy(copy, full, len);
            copy[i] ^= masks[m];
            void *block;
            unsigned char *p = tail_copy(copy, len, &block);
            bb_safetensors st;
            err[0] = '\0';
            int rc = bb_safetensors_parse(&st, p, len, "t.safetensors", err, sizeof err);
            snprintf(what, sizeof what, "byte %zu ^ 0x%02x", i, masks[m]);
            if (rc == 0) {
                accepted++;
                check_consistent(&st, p, len, what);
                bb_safetensors_close(&st);
            } else {
                refused++;
                CHECK(strncmp(err, "checkpoint 't.safetensors'", 26) == 0, "%s: message '%s'",
                      what, err);
            }
            bb_free(block);
        }
    }
    printf("  %zu header bytes x %zu flips: %d refused, %d still valid\n", 8 + n, sizeof masks,
           refused, accepted);
    bb_free(copy);
    bb_free(full);
}

/* ------------------------------------------------------------------ malformed */

#define F32_2(name, b, e) "\"" name "\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[" #b "," #e "]}"

static void test_malformed(void) {
    static const struct { const char *header; size_t data; const char *expect; } cases[] = {
        {"{" F32_2("a", 0, 8) "," F32_2("b", 4, 12) "}", 12, "overlapping tensors: 'a' ends at byte 8"},
        {"{" F32_2("a", 0, 8) "," F32_2("b", 12, 20) "}", 20, "has a hole: bytes [8, 12)"},
        {"{" F32_2("a", 0, 8) "," F32_2("a", 8, 16) "}", 16, "two tensors named 'a'"},
        {"{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "unsupported dtype 'F33'"},
        {"{\"a\":{\"dtype\":7,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "dtype that is a number"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "12 bytes of elements, but its data_offsets [0, 8] span 8"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "end before they begin"},
        {"{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "has no 'dtype'"},
        {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "has no 'shape'"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "has no 'data_offsets'"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "shape entry 0 that is not a non-negative integer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8, "not a non-negative integer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8, "shape that is a number"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, "not a pair"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}", 8, "not a pair"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,-8]}}", 8, "not a pair"},
        {"{\"a\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,8]}}", 8, "overflows"},
        {"{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1, "9 dimensions, at most 8"},
        {"{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "gives 'dtype' twice"},
        {"{" F32_2("a", 0, 8) "}", 12, "4 bytes after its last tensor"},
        {"{" F32_2("a", 0, 8) "}", 4, "truncated: header promises 8 bytes of tensor data, file has 4"},
        {"{\"a\":3}", 0, "entry 'a' is a number, expected an object"},
        {"[1,2]", 0, "it is an array, expected a JSON object"},
        {"{\"a\":", 0, "corrupt header: JSON error at byte 5"},
        {"{} x", 0, "corrupt header: JSON error at byte 3: unexpected data"},
        {"{\"a\xff\":1}", 0, "invalid UTF-8"},
        {"{\"a\\u0000b\":{}}", 0, "tensor name contains a NUL"},
        {"{\"__metadata__\":{\"k\":1}}", 0, "metadata 'k' is a number, expected a string"},
        {"{\"__metadata__\":[\"k\"]}", 0, "__metadata__ is an array"},
        {"{\"__metadata__\":{\"k\":\"v\",\"k\":\"w\"}}", 0, "metadata key 'k' appears twice"},
        {"{\"__metadata__\":{},\"__metadata__\":{}}", 0, "__metadata__ appears twice"},
        {"{\"__metadata__\":{\"k\":\"a\\u0000\"}}", 0, "contains a NUL"},
    };
    char err[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        unsigned char *img = image(cases[i].header, cases[i].data, &len);
        int rc = parse_copy(img, len, err, sizeof err);
        CHECK(rc != 0 && strstr(err, cases[i].expect) && strncmp(err, "checkpoint 't.safetensors'", 26) == 0,
              "case %zu (%s): rc %d, message '%s', expected '%s'", i, cases[i].header, rc, err,
              cases[i].expect);
        bb_free(img);
    }
    /* header sizes that lie */
    size_t len;
    unsigned char *img = image("{}      ", 0, &len);
    static const struct { uint64_t n; const char *expect; } sizes[] = {
        {(uint64_t)1 << 40, "1099511627776-byte header, more than the 100000000-byte limit"},
        {UINT64_MAX, "more than the 100000000-byte limit"},
        {100000001, "more than the 100000000-byte limit"},
        {9, "truncated: header promises 9 bytes of JSON header, file has 8"},
        {100000000, "truncated"},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (int b = 0; b < 8; b++) img[b] = (unsigned char)(sizes[i].n >> (8 * b));
        int rc = parse_copy(img, len, err, sizeof err);
        CHECK(rc != 0 && strstr(err, sizes[i].expect), "size %llu: '%s'",
              (unsigned long long)sizes[i].n, err);
    }
    bb_free(img);
    char path[256];
    tmp_path(path, sizeof path, "missing");
    bb_safetensors st;
    CHECK(bb_safetensors_open(&st, path, err, sizeof err) != 0 &&
          strstr(err, "cannot read checkpoint") && strstr(err, "No such file"), "missing: '%s'", err);
}

/* Valid files the reference would also read, written differently from ours. */
static void test_accepted_variants(void) {
    static const struct { const char *header; size_t data; int n; } cases[] = {
        {"{}", 0, 0},
        {" \t\r\n{ } \n\t", 0, 0},
        {"{\"__metadata__\":null}", 0, 0},
        /* listed out of offset order; an empty tensor between two others; an unknown field */
        {"{" F32_2("b", 8, 16) ",\"e\":{\"dtype\":\"I64\",\"shape\":[0],\"data_offsets\":[8,8]},"
         F32_2("a", 0, 8) ",\"x\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[16,17],\"extra\":[1,{}]}}", 17, 4},
        {"{\"z\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[0,3]}}", 3, 1},
    };
    char err[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        unsigned char *img = image(cases[i].header, cases[i].data, &len);
        bb_safetensors st;
        int rc = bb_safetensors_parse(&st, img, len, "v.safetensors", err, sizeof err);
        CHECK(rc == 0 && st.n_tensors == cases[i].n, "variant %zu (%s): rc %d n %d '%s'", i,
              cases[i].header, rc, rc ? -1 : st.n_tensors, rc ? err : "");
        if (rc == 0) {
            check_consistent(&st, img, len, cases[i].header);
            bb_safetensors_close(&st);
        }
        bb_free(img);
    }
    size_t len;
    unsigned char *img = image(cases[3].header, cases[3].data, &len);
    bb_safetensors st;
    if (bb_safetensors_parse(&st, img, len, "v", err, sizeof err) == 0) {
        CHECK(strcmp(st.tensors[0].name, "a") == 0 && strcmp(st.tensors[1].name, "e") == 0 &&
              strcmp(st.tensors[2].name, "b") == 0 && strcmp(st.tensors[3].name, "x") == 0,
              "sorted by offset: %s %s %s %s", st.tensors[0].name, st.tensors[1].name,
              st.tensors[2].name, st.tensors[3].name);
        CHECK(st.tensors[3].ndim == 0 && st.tensors[3].nbytes == 1, "0-d U8");
        bb_safetensors_close(&st);
    }
    bb_free(img);
}

static float x[2] = {1, 2};

static void test_write_errors(void) {
    char path[256], err[512];
    tmp_path(path, sizeof path, "bad");
    remove(path);
    static const struct { bb_st_tensor t[2]; int n; const char *expect; } cases[] = {
        {{{"a", BB_DT_F32, 1, {2}, x}, {"a", BB_DT_F32, 1, {2}, x}}, 2, "two tensors are named 'a'"},
        {{{"__metadata__", BB_DT_F32, 1, {2}, x}}, 1, "reserved"},
        {{{"a", BB_DT_COUNT, 1, {2}, x}}, 1, "unknown dtype"},
        {{{"a", BB_DT_F32, 9, {2}, x}}, 1, "9 dimensions"},
        {{{"a", BB_DT_F32, -1, {2}, x}}, 1, "-1 dimensions"},
        {{{"a", BB_DT_F32, 1, {-2}, x}}, 1, "negative or overflowing shape"},
        {{{"a", BB_DT_F64, 3, {INT64_MAX, INT64_MAX, 2}, x}}, 1, "negative or overflowing shape"},
        {{{"a", BB_DT_F32, 1, {2}, NULL}}, 1, "has no data"},
        {{{NULL, BB_DT_F32, 1, {2}, x}}, 1, "has no name"},
        {{{"bad\xff", BB_DT_F32, 1, {2}, x}}, 1, "non-UTF-8 name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = '\0';
        int rc = bb_safetensors_write(path, cases[i].t, cases[i].n, NULL, NULL, 0, err, sizeof err);
        CHECK(rc != 0 && strstr(err, cases[i].expect) && strstr(err, path),
              "write case %zu: rc %d '%s', expected '%s'", i, rc, err, cases[i].expect);
        CHECK(!bb_file_exists(path), "write case %zu left a file", i);
    }
    bb_st_tensor ok = {"a", BB_DT_F32, 1, {2}, x};
    const char *k2[] = {"k", "k"}, *v2[] = {"1", "2"}, *kb[] = {"k"}, *vb[] = {"\xc3"};
    int rc = bb_safetensors_write(path, &ok, 1, k2, v2, 2, err, sizeof err);
    CHECK(rc != 0 && strstr(err, "metadata key 'k' is given twice"), "dup meta: '%s'", err);
    rc = bb_safetensors_write(path, &ok, 1, kb, vb, 1, err, sizeof err);
    CHECK(rc != 0 && strstr(err, "not a pair of UTF-8 strings"), "bad meta: '%s'", err);
    rc = bb_safetensors_write("/nonexistent-dir/x.safetensors", &ok, 1, NULL, NULL, 0, err, sizeof err);
    CHECK(rc != 0 && strstr(err, "No such file or directory"), "no dir: '%s'", err);
    CHECK(!bb_file_exists(path), "a failed write left a file");
    /* a failed write leaves an existing file as it was */
    CHECK(bb_safetensors_write(path, &ok, 1, NULL, NULL, 0, err, sizeof err) == 0, "%s", err);
    bb_st_tensor dup[2] = {ok, ok};
    CHECK(bb_safetensors_write(path, dup, 2, NULL, NULL, 0, err, sizeof err) != 0, "dup accepted");
    bb_safetensors st;
    rc = bb_safetensors_open(&st, path, err, sizeof err);
    CHECK(rc == 0 && st.n_tensors == 1, "old file damaged: %s", err);
    if (rc == 0) bb_safetensors_close(&st);
    remove(path);
}

static const bb_test_case cases[] = {
    {"json_parse_values", test_json_parse_values},
    {"json_parse_rejects", test_json_parse_rejects},
    {"dtype_table", test_dtype_table},
    {"round_trip", test_round_trip},
    {"every_truncation", test_every_truncation},
    {"every_header_byte_flip", test_every_header_byte_flip},
    {"malformed", test_malformed},
    {"accepted_variants", test_accepted_variants},
    {"write_errors", test_write_errors},
};

BB_TEST_MAIN(cases)
