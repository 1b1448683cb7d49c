/* signature.h — sacreBLEU's reproducibility signature (metrics/base.py, Signature.format):
 * "nrefs:N|<metric keys in order>|version:2.6.0", or the short form with abbreviated keys
 * ("#:N|...|v:2.6.0"). nrefs is "var" when segments have different numbers of references.
 * bitbench claims the scores of sacreBLEU 2.6.0, so that is the version it signs with. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#define BB_SACREBLEU_VERSION "2.6.0"

typedef struct {
    const char *key, *abbr;   /* "case", "c" */
    char value[32];
} bb_sig_item;

/* Writes the signature for the metric's items (nrefs < 0 means "var"). */
void bb_sig_format(const bb_sig_item *items, int n_items, int nrefs, bool short_form, char *buf, size_t len);

/* sacreBLEU's Score.format text form: "NAME = 48.53 VERBOSE" without a signature (the
 * API's str()), "NAME|SIG = 48.5 VERBOSE" with one (the CLI's -f text). The score is
 * printed with width decimals; verbose may be NULL. */
void bb_sig_score_line(const char *name, const char *sig, double score, int width, const char *verbose, char *buf,
                       size_t len);
