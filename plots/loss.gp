# loss.gp — training loss curves per precision (colour) and method (dash), validation loss
# as points, for the LM and the MT task, from loss_curves.csv (bitbench bench quality).
load plot_dir."/common.gp"
file = run_dir."/loss_curves.csv"
sel(task, p, m) = strcol("task") eq task && strcol("precision") eq word(precs, p) && strcol("method") eq word(methods, m)
set multiplot title "Training curves (lines: training loss; points: validation loss)" noenhanced
set xlabel "optimizer step"
set ylabel "loss (nats/token)"
# one key for both panels, in the right margin, so it never covers a curve
set key at screen 0.995, screen 0.88 right top vertical maxcols 1 samplen 2.5 width 1 box opaque
set tmargin at screen 0.88
set bmargin at screen 0.12
set lmargin at screen 0.09
set rmargin at screen 0.43
set title "KJV language model"
plot for [m=1:n_methods] for [p=1:n_precs] file using (sel("lm", p, m) ? column("step") : NaN):(column("train_loss")) \
        with lines lw 2 dt method_dash(m) lc rgb prec_colour(word(precs, p)) \
        title word(precs, p).(n_methods > 1 ? " ".word(methods, m) : ""), \
     for [m=1:n_methods] for [p=1:n_precs] file using (sel("lm", p, m) ? column("step") : NaN):(column("val_loss")) \
        with points pt 7 ps 1.2 lc rgb prec_colour(word(precs, p)) notitle
unset key
set lmargin at screen 0.53
set rmargin at screen 0.85
set title "Greek->English translation"
plot for [m=1:n_methods] for [p=1:n_precs] file using (sel("mt", p, m) ? column("step") : NaN):(column("train_loss")) \
        with lines lw 2 dt method_dash(m) lc rgb prec_colour(word(precs, p)) notitle, \
     for [m=1:n_methods] for [p=1:n_precs] file using (sel("mt", p, m) ? column("step") : NaN):(column("val_loss")) \
        with points pt 7 ps 1.2 lc rgb prec_colour(word(precs, p)) notitle
unset multiplot
