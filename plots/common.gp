# common.gp — shared style of the bitbench charts (../shared/specs/evaluation.md §6), loaded
# by every plots/*.gp. The caller sets (gnuplot -e "..." plots/NAME.gp):
#   run_dir   the results folder holding the CSVs (the only data a chart reads)
#   out       the output file; .png renders with pngcairo, .svg with the svg terminal
#   plot_dir  this folder (for `load`)
# and optionally the f_* filters documented in each script. `bitbench plot RUN` does this.
if (!exists("run_dir")) run_dir = "."
if (!exists("out")) out = "chart.png"
is_svg = strlen(out) > 4 && out[strlen(out)-2:] eq "svg"
# chart_h (set before loading): height as a multiple of the default, for tall charts
if (!exists("chart_h")) chart_h = 1.0
if (is_svg) {
    set terminal svg size 1000,int(620 * chart_h) dynamic enhanced font "DejaVu Sans,12" background rgb "white"
} else {
    set terminal pngcairo size 1600,int(1000 * chart_h) enhanced font "DejaVu Sans,20" linewidth 2
}
set output out
set datafile separator comma
set datafile columnheaders
set key top left box opaque noenhanced
set grid ytics lc rgb "#dddddd"
set tics nomirror out
set border 3
# Okabe–Ito colour-blind-safe palette, one colour per precision in the fixed order below
set style line 1 lc rgb "#0072B2" lw 2 pt 7
set style line 2 lc rgb "#D55E00" lw 2 pt 5
set style line 3 lc rgb "#009E73" lw 2 pt 9
set style line 4 lc rgb "#CC79A7" lw 2 pt 11
set style line 5 lc rgb "#E69F00" lw 2 pt 13
set style line 6 lc rgb "#56B4E9" lw 2 pt 15
set style line 7 lc rgb "#000000" lw 2 pt 1
set style line 8 lc rgb "#999999" lw 2 pt 2
# The precisions and methods a chart shows, in order (bitbench plot passes the ones present
# in the run, so an absent method gets no empty key entry).
if (!exists("precs")) precs = "fp32 fp16 bf16 int8 int4 b158"
if (!exists("methods")) methods = "full lora kd"
n_precs = words(precs)
n_methods = words(methods)
# 0-based position of word s in a space-separated list, NaN if absent
wordidx(list, s) = (wi_p = strstrt(" ".list." ", " ".s." "), wi_p == 0 ? NaN : words((" ".list." ")[1:wi_p]))
pidx(s) = wordidx(precs, s)
midx(s) = wordidx(methods, s)
# colours: one per precision (fixed, so a precision keeps its colour in every chart) and per method
prec_colour(s) = word("#0072B2 #D55E00 #009E73 #CC79A7 #E69F00 #56B4E9 #000000 #999999", \
    (c_i = wordidx("fp32 fp16 bf16 int8 int4 b158 nf4", s), c_i == c_i ? c_i + 1 : 8))
method_colour(m) = word("#0072B2 #D55E00 #009E73", m)
method_dash(m) = m == 1 ? 1 : m == 2 ? 2 : 3
# ticks at 0..n-1 labelled with the words of a list
xtics_of(list) = sprintf("(%s)", join_tics(list, 1))
join_tics(list, i) = i > words(list) ? "" : sprintf("\"%s\" %d%s", word(list, i), i - 1, \
    i < words(list) ? ", ".join_tics(list, i + 1) : "")
# ticks for groups: position g*(n_precs+gap)+p labelled "precision" (one method) or
# "precision\nmethod" (several), for charts that group bars by method
group_tics(gap) = sprintf("(%s)", group_tics_rec(gap, 0))
group_tics_rec(gap, i) = i >= n_precs * n_methods ? "" : sprintf("\"%s%s\" %g%s", \
    word(precs, i % n_precs + 1), n_methods > 1 ? "\\n".word(methods, int(i / n_precs) + 1) : "", \
    int(i / n_precs) * (n_precs + gap) + i % n_precs, i + 1 < n_precs * n_methods ? ", ".group_tics_rec(gap, i + 1) : "")
# the k-th field (1-based) of a "|"-separated list
field(s, k) = k == 1 ? (strstrt(s, "|") ? s[1:strstrt(s, "|") - 1] : s) : field(s[strstrt(s, "|") + 1:], k - 1)
n_fields(s) = strstrt(s, "|") ? 1 + n_fields(s[strstrt(s, "|") + 1:]) : 1
