# fit.gp — what fits where, from the validated memory calculator: predicted memory of full
# training (top) and of packed inference weights (bottom) per model and precision, on a log
# scale, with the memory of the devices the claims name as dashed lines (one dash type per
# device, named in the key). From fit.csv and fit_devices.csv (bitbench memcalc --fit --out
# RUN). `models` (set by bitbench plot): the models in the run, in order.
chart_h = 1.35
load plot_dir."/common.gp"
file = run_dir."/fit.csv"
devs = run_dir."/fit_devices.csv"
if (!exists("models")) models = "distilgpt2 gpt2-124m gpt2-medium gpt2-large gptj-6b llama-7b llama-13b llama-70b"
if (!exists("f_seq")) f_seq = 0
n_models = words(models)
bw = 0.84 / n_precs
x(d) = wordidx(models, strcol("model")) + (pidx(strcol("precision")) - (n_precs - 1) / 2.0) * bw
# tick labels on two lines at the dash: "llama\n7b"
two_lines(s) = (tl_i = strstrt(s, "-"), tl_i ? s[1:tl_i - 1]."\n".s[tl_i + 1:] : s)
model_tics(i) = i > n_models ? "" : sprintf("\"%s\" %d%s", two_lines(word(models, i)), i - 1, i < n_models ? ", ".model_tics(i + 1) : "")
eval "set xtics (".model_tics(1).")"
# device names (set by bitbench plot from fit_devices.csv, in its row order, "|"-separated)
if (!exists("dev_names")) dev_names = "device 1|device 2|device 3|device 4|device 5"
n_devs = n_fields(dev_names)
set logscale y 10
set yrange [0.1:4000]
set format y "%g"
set xrange [-0.6:n_models - 0.4]
set style fill solid 0.9 border -1
set lmargin at screen 0.09
set rmargin at screen 0.63
set multiplot title sprintf("What fits where, from the memory calculator (shapes only; batch 1, seq %d or the context)", f_seq) noenhanced
set key at screen 0.99, screen 0.90 right top vertical maxcols 1 samplen 2.5 spacing 1.1 box opaque
set ylabel "GiB (log scale)"
set tmargin at screen 0.89
set bmargin at screen 0.56
set title "full training in bitbench: FP32 masters, gradients, AdamW, QAT copies, activations" noenhanced
plot for [p=1:n_precs] file using (strcol("precision") eq word(precs, p) ? x(0) : NaN):(column("train_gib")):(bw * 0.9) \
        with boxes lc rgb prec_colour(word(precs, p)) title word(precs, p), \
     for [i=1:n_devs] devs every ::(i - 1)::(i - 1) using (-0.6):(column("memory_gib")):(n_models):(0) \
        with vectors nohead dt i + 1 lw 2 lc rgb "#222222" title field(dev_names, i)
unset key
set tmargin at screen 0.44
set bmargin at screen 0.11
set title "packed inference weights: quantized linears in their storage format, the rest FP32" noenhanced
plot for [p=1:n_precs] file using (strcol("precision") eq word(precs, p) ? x(0) : NaN):(column("infer_gib")):(bw * 0.9) \
        with boxes lc rgb prec_colour(word(precs, p)) notitle, \
     for [i=1:n_devs] devs every ::(i - 1)::(i - 1) using (-0.6):(column("memory_gib")):(n_models):(0) \
        with vectors nohead dt i + 1 lw 2 lc rgb "#222222" notitle
unset multiplot
