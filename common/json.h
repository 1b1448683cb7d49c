/* json.h — a minimal streaming JSON writer (for `env --json`, manifests and results).
 * The writer tracks nesting so commas and indentation are always right; it never
 * builds a tree in memory. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define BB_JSON_MAX_DEPTH 32

typedef struct {
    FILE *f;
    int depth;
    bool first[BB_JSON_MAX_DEPTH];  /* no element written yet at this level */
    bool after_key;
} bb_json;

void bb_json_init(bb_json *j, FILE *f);
void bb_json_obj_begin(bb_json *j);
void bb_json_obj_end(bb_json *j);
void bb_json_arr_begin(bb_json *j);
void bb_json_arr_end(bb_json *j);
void bb_json_key(bb_json *j, const char *key);
void bb_json_str(bb_json *j, const char *s);   /* NULL writes null */
void bb_json_int(bb_json *j, int64_t v);
void bb_json_num(bb_json *j, double v);         /* non-finite writes null */
void bb_json_bool(bb_json *j, bool v);
void bb_json_null(bb_json *j);
