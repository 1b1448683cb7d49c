# inference.gp — prefill and decode tokens/s by precision and method (median, min–max
# bars), from throughput.csv. Filters as throughput.gp.
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
tics = xtics_of(precs)
set multiplot layout 1,2 title sprintf("Inference with the KV cache, preset %s, threads %d, one sequence (median; bars: min to max)", \
    f_preset, f_threads) noenhanced
set xrange [-0.6:n_precs - 0.4]
set yrange [0:*]
set offsets 0, 0, graph 0.15, 0
set xtics @tics
set style fill solid 0.85 border -1
set key top right
set bars 2
set xlabel "precision of the quantized linears"
set ylabel "prefill tokens/s"
set title "prefill (prompt through the full forward)"
plot for [m=1:n_methods] file using (keep(0) && strcol("method") eq word(methods, m) ? x(0) : NaN) \
        :(column("prefill_tokens_per_s_median")):(column("prefill_tokens_per_s_min")) \
        :(column("prefill_tokens_per_s_max")):(bw * 0.9) \
        with boxerrorbars lc rgb method_colour(m) title "method ".word(methods, m)
set ylabel "decode tokens/s"
set title "greedy decode, one token per step"
plot for [m=1:n_methods] file using (keep(0) && strcol("method") eq word(methods, m) ? x(0) : NaN) \
        :(column("decode_tokens_per_s_median")):(column("decode_tokens_per_s_min")) \
        :(column("decode_tokens_per_s_max")):(bw * 0.9) \
        with boxerrorbars lc rgb method_colour(m) title "method ".word(methods, m)
unset multiplot
