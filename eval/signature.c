/* signature.c — see signature.h. Of the shared keys only nrefs and version appear here:
 * bootstrap (bs, seed), test set and language keys are None for bitbench's use and so
 * are omitted, as sacreBLEU omits None values. */
#include "signature.h"
#include "../common/check.h"
#include <stdio.h>

static void append(char *buf, size_t len, size_t *at, const char *key, const char *value) {
    int w = snprintf(buf + *at, len - *at, "%s%s:%s", *at ? "|" : "", key, value);
    BB_CHECK(w > 0 && (size_t)w < len - *at);
    *at += (size_t)w;
}

void bb_sig_format(const bb_sig_item *items, int n_items, int nrefs, bool short_form, char *buf, size_t len) {
    size_t at = 0;
    char n[16];
    BB_CHECK(len > 0);
    buf[0] = '\0';
    if (nrefs < 0) snprintf(n, sizeof n, "var");
    else snprintf(n, sizeof n, "%d", nrefs);
    append(buf, len, &at, short_form ? "#" : "nrefs", n);
    for (int i = 0; i < n_items; i++)
        append(buf, len, &at, short_form ? items[i].abbr : items[i].key, items[i].value);
    append(buf, len, &at, short_form ? "v" : "version", BB_SACREBLEU_VERSION);
}

void bb_sig_score_line(const char *name, const char *sig, double score, int width, const char *verbose, char *buf,
                       size_t len) {
    int w = snprintf(buf, len, "%s%s%s = %.*f%s%s", name, sig ? "|" : "", sig ? sig : "", width, score,
                     verbose ? " " : "", verbose ? verbose : "");
    BB_CHECK(w > 0 && (size_t)w < len);
}
