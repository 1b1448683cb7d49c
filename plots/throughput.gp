# throughput.gp — training tokens/s by precision and method: the median of the timed steps
# with min–max error bars, from throughput.csv (bitbench bench throughput). Filters, set by
# bitbench plot to the first row's configuration (unset: every row): f_preset, f_batch,
# f_seq, f_threads; only device cpu and checkpointing none are drawn.
load plot_dir."/common.gp"
file = run_dir."/throughput.csv"
if (!exists("f_preset")) f_preset = ""
if (!exists("f_batch")) f_batch = 0
if (!exists("f_seq")) f_seq = 0
if (!exists("f_threads")) f_threads = 0
keep(d) = (f_preset eq "" || strcol("preset") eq f_preset) && (f_batch == 0 || column("batch") == f_batch) \
    && (f_seq == 0 || column("seq") == f_seq) && (f_threads == 0 || column("threads") == f_threads) \
    && strcol("checkpointing") eq "none" && strcol("device") eq "cpu"
bw = 0.8 / n_methods
x(d) = pidx(strcol("precision")) + (midx(strcol("method")) - (n_methods - 1) / 2.0) * bw
set title sprintf("Training throughput, preset %s, batch %d x seq %d, threads %d (median; bars: min to max)", \
    f_preset, f_batch, f_seq, f_threads) noenhanced
set xlabel "precision of the quantized linears"
set ylabel "training tokens/s"
set xrange [-0.6:n_precs - 0.4]
set yrange [0:*]
set offsets 0, 0, graph 0.15, 0
tics = xtics_of(precs)
set xtics @tics
set style fill solid 0.85 border -1
set key top right
set bars 2
plot for [m=1:n_methods] file using (keep(0) && strcol("method") eq word(methods, m) ? x(0) : NaN) \
        :(column("train_tokens_per_s_median")):(column("train_tokens_per_s_min")) \
        :(column("train_tokens_per_s_max")):(bw * 0.9) \
        with boxerrorbars lc rgb method_colour(m) title "method ".word(methods, m)
