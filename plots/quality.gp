# quality.gp — validation perplexity (KJV LM) and BLEU (Greek->English MT, sacreBLEU) by
# precision and method at one token budget, from quality.csv (bitbench bench quality).
# Filter: f_preset (unset: every row).
load plot_dir."/common.gp"
file = run_dir."/quality.csv"
if (!exists("f_preset")) f_preset = ""
keep(task) = (f_preset eq "" || strcol("preset") eq f_preset) && strcol("task") eq task
bw = 0.8 / n_methods
x(d) = pidx(strcol("precision")) + (midx(strcol("method")) - (n_methods - 1) / 2.0) * bw
tics = xtics_of(precs)
set multiplot layout 1,2 title sprintf("Quality at one token budget per task, preset %s (each bar: one training run)", f_preset) noenhanced
set xrange [-0.6:n_precs - 0.4]
set yrange [0:*]
set offsets 0, 0, graph 0.15, 0
set xtics @tics
set style fill solid 0.85 border -1
set key top right
set xlabel "precision of the quantized linears"
set ylabel "validation perplexity (lower is better)"
set title "KJV language model: valid perplexity"
plot for [m=1:n_methods] file using (keep("lm") && strcol("method") eq word(methods, m) ? x(0) : NaN) \
        :(column("valid_ppl")):(bw * 0.9) with boxes lc rgb method_colour(m) title "method ".word(methods, m)
set ylabel "BLEU (sacreBLEU 13a, higher is better)"
set title "Greek->English: BLEU on the test split"
plot for [m=1:n_methods] file using (keep("mt") && strcol("method") eq word(methods, m) ? x(0) : NaN) \
        :(column("bleu")):(bw * 0.9) with boxes lc rgb method_colour(m) title "method ".word(methods, m)
unset multiplot
