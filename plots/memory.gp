# memory.gp — training memory by category, stacked, per precision and method: measured by
# the tracked allocator (solid) beside the memory calculator's prediction (light), from
# memory.csv (bitbench bench memory). Filters: f_preset, f_batch, f_seq; checkpointing none.
load plot_dir."/common.gp"
file = run_dir."/memory.csv"
if (!exists("f_preset")) f_preset = ""
if (!exists("f_batch")) f_batch = 0
if (!exists("f_seq")) f_seq = 0
keep(d) = (f_preset eq "" || strcol("preset") eq f_preset) && (f_batch == 0 || column("batch") == f_batch) \
    && (f_seq == 0 || column("seq") == f_seq) && strcol("checkpointing") eq "none" && strcol("device") eq "cpu"
# every category of the tracked allocator that training uses: LoRA's frozen base tensors and
# adapters, and a KD teacher, stack on top of the full-training ones (0 where unused)
cats = "parameters frozen packed adapters gradients adapter_gradients optimizer adapter_optimizer activations workspace teacher"
cat_names = "parameters|frozen base (LoRA)|packed weights|adapters (LoRA)|gradients|adapter gradients|optimizer (AdamW)|adapter optimizer|activations|workspace|teacher (KD)"
cat_name(k) = field(cat_names, k)
cat_colour(k) = word("#0072B2 #332288 #56B4E9 #CC79A7 #D55E00 #882255 #E69F00 #F0E442 #009E73 #999999 #117733", k)
# the same colours mixed half with white, for the predicted bars (plain colours render the
# same in every PNG and SVG viewer, unlike transparency or patterns)
cat_light(k) = word("#80B9D9 #9990C3 #ABDAF4 #E5BCD3 #EAAF80 #C390AA #F3CF80 #F7F1A1 #80CFB9 #CCCCCC #88BB99", k)
# the sum of the first k categories of one kind (measured or predicted)
cum(kind, k) = sum [i=1:k] column(kind."_".word(cats, i)."_mib")
gap = 1
x(d) = midx(strcol("method")) * (n_precs + gap) + pidx(strcol("precision"))
bw = 0.38
set title sprintf("Training memory by category after one step (preset %s, batch %d x seq %d)\nleft: measured by the tracked allocator; right, light: predicted by the memory calculator", \
    f_preset, f_batch, f_seq) noenhanced
tics = group_tics(gap)
set xtics @tics
set ylabel "memory (MiB)"
set xlabel (n_methods > 1 ? "precision of the quantized linears, grouped by method" : "precision of the quantized linears (method ".methods.")")
set yrange [0:*]
set xrange [-0.6:n_methods * (n_precs + gap) - gap - 0.4]
set style fill solid 0.9 border -1
set key inside top center horizontal maxcols 4 samplen 2 font ",10"
set offsets 0, 0, graph 0.45, 0
set xtics font ",9"
set xlabel offset 0, -0.5
set format y "%.0f"
plot for [k=words(cats):1:-1] file using (keep(0) ? x(0) - bw / 2 - 0.01 : NaN):(cum("measured", k)):(bw) \
        with boxes lc rgb cat_colour(k) fs solid 0.9 border -1 title cat_name(k), \
     for [k=words(cats):1:-1] file using (keep(0) ? x(0) + bw / 2 + 0.01 : NaN):(cum("predicted", k)):(bw) \
        with boxes lc rgb cat_light(k) fs solid 1.0 border -1 notitle, \
     NaN with boxes lc rgb "#555555" fs solid 1.0 border -1 title "measured (left bar)", \
     NaN with boxes lc rgb "#CCCCCC" fs solid 1.0 border -1 title "calculator (right bar)"
