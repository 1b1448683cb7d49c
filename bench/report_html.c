/* report_html.c — REPORT.html from REPORT.md (report.h): the markdown subset the report
 * writes — headings, paragraphs, "- " lists (one level of nesting), tables, images alone on
 * a line, `code` and *emphasis* — as one standalone page. Images are embedded: PNGs as
 * base64 data URIs (RFC 2397), so the file can be mailed or archived alone. */
#include "report.h"
#include "../common/io.h"
#include "../engine/alloc.h"
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static void put_escaped(FILE *f, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(s[i], f);
        }
    }
}

/* Inline markup: `code`, *emphasis*, [text](link); "\|" is a literal bar. */
static void put_inline(FILE *f, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n && s[i + 1] == '|') { fputc('|', f); i++; continue; }
        if (s[i] == '`') {
            const char *e = memchr(s + i + 1, '`', n - i - 1);
            if (e) {
                fputs("<code>", f);
                put_escaped(f, s + i + 1, (size_t)(e - s - i - 1));
                fputs("</code>", f);
                i = (size_t)(e - s);
                continue;
            }
        }
        if (s[i] == '*' && i + 1 < n && s[i + 1] != ' ') {
            const char *e = memchr(s + i + 1, '*', n - i - 1);
            if (e) {
                fputs("<em>", f);
                put_escaped(f, s + i + 1, (size_t)(e - s - i - 1));
                fputs("</em>", f);
                i = (size_t)(e - s);
                continue;
            }
        }
        if (s[i] == '[') {
            const char *close = memchr(s + i, ']', n - i);
            if (close && close + 1 < s + n && close[1] == '(') {
                const char *end = memchr(close, ')', (size_t)(s + n - close));
                if (end) {
                    fputs("<a href=\"", f);
                    put_escaped(f, close + 2, (size_t)(end - close - 2));
                    fputs("\">", f);
                    put_escaped(f, s + i + 1, (size_t)(close - s - i - 1));
                    fputs("</a>", f);
                    i = (size_t)(end - s);
                    continue;
                }
            }
        }
        put_escaped(f, s + i, 1);
    }
}

static void put_base64(FILE *f, const unsigned char *d, size_t n) {
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)d[i] << 16 | (i + 1 < n ? (unsigned)d[i + 1] << 8 : 0) | (i + 2 < n ? d[i + 2] : 0);
        fputc(tbl[v >> 18 & 63], f);
        fputc(tbl[v >> 12 & 63], f);
        fputc(i + 1 < n ? tbl[v >> 6 & 63] : '=', f);
        fputc(i + 2 < n ? tbl[v & 63] : '=', f);
    }
}

/* A table row "| a | b |" into cells (split at bars not escaped). */
static void put_table_row(FILE *f, const char *line, const char *tag) {
    fputs("<tr>", f);
    const char *p = line + 1;
    while (*p) {
        const char *q = p;
        while (*q && !(*q == '|' && q[-1] != '\\')) q++;
        if (!*q) break;
        const char *a = p, *b = q;
        while (a < b && *a == ' ') a++;
        while (b > a && b[-1] == ' ') b--;
        fprintf(f, "<%s>", tag);
        put_inline(f, a, (size_t)(b - a));
        fprintf(f, "</%s>", tag);
        p = q + 1;
    }
    fputs("</tr>\n", f);
}

int bb_report_html(const char *md_path, const char *html_path, const char *base_dir, char *err, size_t err_len) {
    char *text;
    size_t len;
    if (bb_read_file(md_path, &text, &len) != 0) {
        snprintf(err, err_len, "cannot read %s: %s", md_path, strerror(errno));
        return -1;
    }
    bb_atomic_file af;
    FILE *f = bb_atomic_open(&af, html_path);
    if (!f) {
        snprintf(err, err_len, "cannot write %s: %s", html_path, strerror(errno));
        bb_free(text);
        return -1;
    }
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>bitbench report</title>\n"
          "<style>body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;max-width:1400px;margin:2em auto;padding:0 1em;"
          "line-height:1.45;color:#222}table{border-collapse:collapse;margin:1em 0;font-size:0.9em}"
          "td,th{border:1px solid #bbb;padding:0.3em 0.5em;vertical-align:top}th{background:#eee}"
          "code{background:#f3f3f3;padding:0 0.2em}img{max-width:100%;border:1px solid #ddd}</style>\n</head><body>\n",
          f);
    enum { NONE, PARA, LIST, TABLE } open = NONE;
    int list_depth = 0, table_row = 0;
    char *p = text;
    while (*p) {
        char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char *line = p;
        p = nl ? nl + 1 : p + n;
        bool is_table = n > 0 && line[0] == '|', is_item = n > 1 && line[0] == '-' && line[1] == ' ';
        bool is_sub = n > 3 && line[0] == ' ' && line[1] == ' ' && line[2] == '-' && line[3] == ' ';
        /* close what the line does not continue */
        if (open == TABLE && !is_table) { fputs("</table>\n", f); open = NONE; }
        if (open == LIST && !is_item && !is_sub) {
            while (list_depth-- > 0) fputs("</li></ul>\n", f);
            list_depth = 0;
            open = NONE;
        }
        if (open == PARA && (n == 0 || line[0] == '#' || is_table || is_item || line[0] == '!')) { fputs("</p>\n", f); open = NONE; }
        if (n == 0) continue;
        if (line[0] == '#') {
            int level = 0;
            while (level < (int)n && line[level] == '#') level++;
            fprintf(f, "<h%d>", level);
            put_inline(f, line + level + 1, n - (size_t)level - 1);
            fprintf(f, "</h%d>\n", level);
        } else if (is_table) {
            if (open != TABLE) { fputs("<table>\n", f); open = TABLE; table_row = 0; }
            if (strspn(line, "|-: ") >= n) continue;  /* the separator line */
            char *row = bb_alloc(BB_MEM_OTHER, n + 1);
            memcpy(row, line, n);
            put_table_row(f, row, table_row++ == 0 ? "th" : "td");
            bb_free(row);
        } else if (is_item || is_sub) {
            int depth = is_sub ? 2 : 1;
            if (open != LIST) { open = LIST; list_depth = 0; }
            if (depth > list_depth) { fputs("<ul><li>", f); list_depth++; }
            else {
                while (list_depth > depth) { fputs("</li></ul>\n", f); list_depth--; }
                fputs("</li><li>", f);
            }
            size_t skip = is_sub ? 4 : 2;
            put_inline(f, line + skip, n - skip);
        } else if (line[0] == '!' && n > 4 && line[1] == '[') {
            char *close = memchr(line, ']', n), *end = close ? memchr(close, ')', (size_t)(line + n - close)) : NULL;
            if (close && end && close[1] == '(') {
                char rel[1024], path[5200];
                size_t rl = (size_t)(end - close - 2);
                if (rl >= sizeof rel) rl = sizeof rel - 1;
                memcpy(rel, close + 2, rl);
                rel[rl] = '\0';
                snprintf(path, sizeof path, "%s/%s", base_dir, rel);
                char *img;
                size_t il;
                fputs("<p><img alt=\"", f);
                put_escaped(f, line + 2, (size_t)(close - line - 2));
                if (bb_read_file(path, &img, &il) == 0) {
                    fputs("\" src=\"data:image/png;base64,", f);
                    put_base64(f, (const unsigned char *)img, il);
                    bb_free(img);
                } else {
                    fputs("\" src=\"", f);
                    put_escaped(f, rel, strlen(rel));
                }
                fputs("\"></p>\n", f);
            }
        } else {
            if (open != PARA) { fputs("<p>", f); open = PARA; }
            else fputc(' ', f);
            put_inline(f, line, n);
        }
    }
    if (open == TABLE) fputs("</table>\n", f);
    if (open == PARA) fputs("</p>\n", f);
    while (open == LIST && list_depth-- > 0) fputs("</li></ul>\n", f);
    fputs("</body></html>\n", f);
    bb_free(text);
    if (bb_atomic_commit(&af) != 0) {
        snprintf(err, err_len, "cannot write %s: %s", html_path, strerror(errno));
        return -1;
    }
    return 0;
}
