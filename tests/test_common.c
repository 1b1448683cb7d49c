/* test_common.c — SHA-256 (FIPS 180-4 example vectors), the JSON writer, the hash maps
 * and the tracked allocator's accounting. */
#include "../common/args.h"
#include "../common/hashmap.h"
#include "../common/json.h"
#include "../common/sha256.h"
#include "../engine/alloc.h"
#include "test.h"
#include <math.h>

static void hex_of(const void *data, size_t len, char out[65]) {
    uint8_t d[32];
    bb_sha256_buffer(data, len, d);
    bb_sha256_hex(d, out);
}

static void test_sha256_vectors(void) {
    /* NIST FIPS 180-4 / "SHA256 examples" (csrc.nist.gov) */
    static const struct { const char *msg; const char *hex; } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    char got[65];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        hex_of(v[i].msg, strlen(v[i].msg), got);
        CHECK(strcmp(got, v[i].hex) == 0, "sha256('%s') = %s, expected %s", v[i].msg, got, v[i].hex);
    }
    /* one million 'a', fed in uneven pieces through the streaming API */
    bb_sha256 s;
    bb_sha256_init(&s);
    char block[997];
    memset(block, 'a', sizeof block);
    size_t left = 1000000;
    for (size_t k = 1; left; k = k % 997 + 1) {
        size_t n = k < left ? k : left;
        bb_sha256_update(&s, block, n);
        left -= n;
    }
    uint8_t d[32];
    bb_sha256_final(&s, d);
    bb_sha256_hex(d, got);
    CHECK(strcmp(got, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0,
          "sha256(1e6 x 'a') = %s", got);
}

static void test_json_writer(void) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    bb_json j;
    bb_json_init(&j, f);
    bb_json_obj_begin(&j);
    bb_json_key(&j, "s"); bb_json_str(&j, "a\"b\\c\n");
    bb_json_key(&j, "n"); bb_json_int(&j, -3);
    bb_json_key(&j, "x"); bb_json_num(&j, 0.1);
    bb_json_key(&j, "e"); bb_json_arr_begin(&j); bb_json_arr_end(&j);
    bb_json_key(&j, "a"); bb_json_arr_begin(&j); bb_json_bool(&j, true); bb_json_null(&j); bb_json_arr_end(&j);
    bb_json_obj_end(&j);
    fclose(f);
    const char *want = "{\n  \"s\": \"a\\\"b\\\\c\\n\",\n  \"n\": -3,\n  \"x\": 0.10000000000000001,\n"
                       "  \"e\": [],\n  \"a\": [\n    true,\n    null\n  ]\n}\n";
    CHECK(strcmp(buf, want) == 0, "json output:\n%s\nexpected:\n%s", buf, want);
    free(buf);
}

/* bb_format_double_short against Python's repr() of the same doubles. */
static void test_double_short(void) {
    const struct { double v; const char *want; } cases[] = {
        {64.0, "64.0"}, {63.98, "63.98"}, {0.1, "0.1"}, {100.00000000000004, "100.00000000000004"},
        {0.0, "0.0"}, {-2.5, "-2.5"}, {1e-05, "1e-05"}, {1.5e-05, "1.5e-05"}, {0.0001, "0.0001"},
        {1e16, "1e+16"}, {123456789012345.6, "123456789012345.6"}, {48.530827009929865, "48.530827009929865"},
    };
    char buf[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bb_format_double_short(cases[i].v, buf, sizeof buf);
        CHECK(strcmp(buf, cases[i].want) == 0, "short(%.17g) = '%s', expected '%s'", cases[i].v, buf, cases[i].want);
    }
}

/* BB_ARG_STR_LIST appends every occurrence, in order, next to the other kinds. */
static void test_args_list(void) {
    bb_arg_list refs = {0};
    const char *hyp = NULL;
    double x = NAN;
    bool flag = false;
    const bb_arg args[] = {
        {"ref", BB_ARG_STR_LIST, &refs, "FILE", "reference", 0, -1},
        {"hyp", BB_ARG_STR, &hyp, "FILE", "hypothesis", 0, -1},
        {"x", BB_ARG_DOUBLE, &x, "X", "a number", 0, -1},
        {"flag", BB_ARG_FLAG, &flag, NULL, "a flag", 0, -1},
    };
    const bb_cmd_spec spec = {"test", "test", "", args, 4, 0, 0, NULL};
    char *argv[] = {"--ref", "a.txt", "--hyp=h.txt", "--ref=b,c.txt", "--flag", "--ref", "d", "--x", "0.5"};
    bb_args_parse(&spec, 9, argv, NULL);
    CHECK(refs.n == 3 && strcmp(refs.v[0], "a.txt") == 0 && strcmp(refs.v[1], "b,c.txt") == 0 &&
              strcmp(refs.v[2], "d") == 0, "list: n=%d", refs.n);
    CHECK(hyp && strcmp(hyp, "h.txt") == 0 && flag && x == 0.5, "other kinds next to a list");
}

static void test_hashmaps(void) {
    bb_u64map m;
    bb_u64map_init(&m, 4);
    for (uint64_t k = 0; k < 100000; k++) *bb_u64map_upsert(&m, k * 0x9E3779B97F4A7C15ull, 0) = (uint32_t)k;
    int bad = 0;
    for (uint64_t k = 0; k < 100000; k++) {
        uint32_t *v = bb_u64map_get(&m, k * 0x9E3779B97F4A7C15ull);
        bad += !v || *v != (uint32_t)k;
    }
    CHECK(bad == 0 && m.len == 100000, "u64map: %d wrong values, len %zu", bad, m.len);
    CHECK(bb_u64map_get(&m, 12345) == NULL, "u64map finds a key never inserted");
    bb_u64map_free(&m);

    bb_strmap s;
    bb_strmap_init(&s, 2);
    char key[32];
    for (int i = 0; i < 50000; i++) {
        int n = snprintf(key, sizeof key, "w%d", i);
        CHECK(bb_strmap_upsert(&s, (uint8_t *)key, (size_t)n, (uint32_t)i) == (size_t)i, "strmap index of %s", key);
    }
    bad = 0;
    for (int i = 0; i < 50000; i++) {
        int n = snprintf(key, sizeof key, "w%d", i);
        size_t e = bb_strmap_find(&s, (uint8_t *)key, (size_t)n);
        bad += e == SIZE_MAX || s.vals[e] != (uint32_t)i;
    }
    CHECK(bad == 0, "strmap: %d keys lost", bad);
    CHECK(bb_strmap_find(&s, (const uint8_t *)"w", 1) == SIZE_MAX, "strmap finds a prefix key");
    CHECK(bb_strmap_find(&s, (const uint8_t *)"", 0) == SIZE_MAX, "strmap finds the empty key");
    bb_strmap_free(&s);
}

static void test_alloc_accounting(void) {
    bb_mem_stats before = bb_mem_stats_get();
    float *p = bb_alloc(BB_MEM_PARAMS, 1000 * sizeof(float));
    CHECK(((uintptr_t)p & 63) == 0, "bb_alloc returned %p, not 64-byte aligned", (void *)p);
    CHECK(p[0] == 0.0f && p[999] == 0.0f, "bb_alloc memory is not zeroed");
    bb_mem_stats mid = bb_mem_stats_get();
    CHECK(mid.current[BB_MEM_PARAMS] - before.current[BB_MEM_PARAMS] == 4000,
          "parameters grew by %zu bytes, expected 4000", mid.current[BB_MEM_PARAMS] - before.current[BB_MEM_PARAMS]);
    p = bb_realloc(p, 8000 * sizeof(float));
    CHECK(p[7999] == 0.0f, "bb_realloc did not zero the new tail");
    bb_free(p);
    bb_mem_stats after = bb_mem_stats_get();
    CHECK(after.current[BB_MEM_PARAMS] == before.current[BB_MEM_PARAMS], "parameters leak: %zu -> %zu",
          before.current[BB_MEM_PARAMS], after.current[BB_MEM_PARAMS]);
    CHECK(after.peak[BB_MEM_PARAMS] >= before.current[BB_MEM_PARAMS] + 32000, "peak %zu misses the realloc",
          after.peak[BB_MEM_PARAMS]);
}

static const bb_test_case cases[] = {
    {"sha256_vectors", test_sha256_vectors},
    {"json_writer", test_json_writer},
    {"double_short", test_double_short},
    {"args_list", test_args_list},
    {"hashmaps", test_hashmaps},
    {"alloc_accounting", test_alloc_accounting},
};
BB_TEST_MAIN(cases)
