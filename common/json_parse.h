/* json_parse.h — a small strict JSON parser (RFC 8259) that builds a tree, for reading
 * headers such as safetensors'. The writer lives in json.h; this is its reading half.
 * Invariants: the parser reads only the `len` bytes it is given (the text need not be
 * NUL-terminated); strings are checked to be valid UTF-8 and \uXXXX escapes, surrogate
 * pairs included, are decoded to UTF-8 (a lone surrogate is an error); nesting deeper than
 * BB_JSON_PARSE_MAX_DEPTH and anything after the value except whitespace are rejected.
 * Duplicate object keys are kept in order: callers that care check them. The whole tree
 * lives in one arena from bb_alloc(BB_MEM_OTHER), released by bb_json_doc_free. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* serde_json's default recursion limit, so we accept what the reference readers accept. */
#define BB_JSON_PARSE_MAX_DEPTH 128

typedef enum {
    BB_JSON_NULL,
    BB_JSON_BOOL,
    BB_JSON_NUMBER,
    BB_JSON_STRING,
    BB_JSON_ARRAY,
    BB_JSON_OBJECT,
} bb_json_type;

typedef struct bb_json_node bb_json_node;
struct bb_json_node {
    bb_json_type type;
    bool boolean;          /* BOOL */
    bool is_int;           /* NUMBER written without fraction or exponent that fits int64 */
    int64_t integer;       /* NUMBER, exact when is_int */
    double number;         /* NUMBER, always set (nearest double) */
    const char *str;       /* STRING: UTF-8, NUL-terminated; may hold NULs from \u0000 */
    size_t str_len;        /* STRING: bytes, without the terminator */
    const char *key;       /* member of an OBJECT: its key (same encoding as str) */
    size_t key_len;
    size_t n;              /* ARRAY/OBJECT: number of children */
    bb_json_node *child;   /* ARRAY/OBJECT: first child, in document order */
    bb_json_node *next;    /* next sibling */
};

typedef struct bb_json_doc bb_json_doc;

/* Parses text[0..len). Returns the document (root via bb_json_doc_root), or NULL with a
 * one-line reason that names the byte offset written to err. */
bb_json_doc *bb_json_parse(const char *text, size_t len, char *err, size_t err_len);
const bb_json_node *bb_json_doc_root(const bb_json_doc *doc);
void bb_json_doc_free(bb_json_doc *doc);

/* First member of obj whose key equals the NUL-terminated key; NULL if none or obj is
 * not an object. */
const bb_json_node *bb_json_get(const bb_json_node *obj, const char *key);
const char *bb_json_type_name(bb_json_type t);

/* Whether s[0..len) is well-formed UTF-8 (no overlongs, surrogates or code points past
 * U+10FFFF), per the Unicode Standard, Table 3-7. */
bool bb_utf8_valid(const char *s, size_t len);
