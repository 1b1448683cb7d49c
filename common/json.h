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
/* Like Python's repr(float): the shortest text that reads back as v ("64.0", "63.98",
 * "1e-05"); non-finite writes null. For numbers people read, such as rounded scores. */
void bb_json_num_short(bb_json *j, double v);
/* The text bb_json_num_short writes (buf of at least 32 bytes). */
void bb_format_double_short(double v, char *buf, size_t len);
void bb_json_bool(bb_json *j, bool v);
void bb_json_null(bb_json *j);
