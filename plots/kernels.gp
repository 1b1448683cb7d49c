# kernels.gp — the packed-precision kernels against the references measured in the same
# run, from kernels.csv (the suite converts bench gemm's gemm.csv): left, GEMM at the small
# preset's training shapes in GOP/s beside OpenBLAS sgemm; right, GEMV at Llama-7B decode
# shapes in GB/s of weights streamed beside the STREAM triad and sgemv. Only the kernels the
# engine dispatches are drawn. has_gemm / has_gemv (set by bitbench plot) pick the panels.
load plot_dir."/common.gp"
file = run_dir."/kernels.csv"
if (!exists("has_gemm")) has_gemm = 1
if (!exists("has_gemv")) has_gemv = 1
gemm_precs = "fp32-sgemm fp16 bf16 int8 int4 b158"
gemm_shapes = "qkv attproj fc fcproj"
gemv_precs = "triad fp32-sgemv fp16 bf16 int8 int4 b158"
gemv_shapes = "llama7b-attn llama7b-ffn-up llama7b-ffn-down"
gemv_labels = "attn ffn-up ffn-down"
kcolour(s) = s eq "fp32-sgemm" || s eq "fp32-sgemv" ? "#444444" : s eq "triad" ? "#999999" : prec_colour(s)
set style fill solid 0.9 border -1
set key top right horizontal maxcols 4 samplen 2 width 1
set offsets 0, 0, graph 0.22, 0
set yrange [0:*]
set multiplot layout 1, (has_gemm + has_gemv) title "Packed kernels against in-run references (dispatched kernels; bench gemm)" noenhanced
if (has_gemm) {
    n = words(gemm_precs)
    bw = 0.8 / n
    eval "set xtics ".xtics_of(gemm_shapes)
    set xrange [-0.6:words(gemm_shapes) - 0.4]
    set ylabel "GOP/s (2 N C OC per call)"
    set xlabel "linear layer of a small block"
    set title "GEMM, training shapes of small (2048 tokens)"
    plot for [i=1:n] file using (strcol("kind") eq "gemm" && column("dispatched") == 1 && strcol("precision") eq word(gemm_precs, i) ? \
            wordidx(gemm_shapes, strcol("shape")) + (i - 1 - (n - 1) / 2.0) * bw : NaN):(column("gop_per_s")):(bw * 0.9) \
            with boxes lc rgb kcolour(word(gemm_precs, i)) title word(gemm_precs, i)
}
if (has_gemv) {
    n = words(gemv_precs)
    bw = 0.8 / n
    eval "set xtics ".xtics_of(gemv_labels)
    set xrange [-0.6:words(gemv_shapes) - 0.4]
    set ylabel "GB/s of weights streamed (triad: STREAM bandwidth)"
    set xlabel "linear layer of a Llama-7B block"
    set title "GEMV, Llama-7B decode shapes (1 token)"
    ycol(d) = strcol("precision") eq "triad" ? column("triad_gb_per_s") : column("weight_gb_per_s")
    plot for [i=1:n] file using (strcol("kind") eq "gemv" && column("dispatched") == 1 && strcol("precision") eq word(gemv_precs, i) ? \
            wordidx(gemv_shapes, strcol("shape")) + (i - 1 - (n - 1) / 2.0) * bw : NaN):(ycol(0)):(bw * 0.9) \
            with boxes lc rgb kcolour(word(gemv_precs, i)) title word(gemv_precs, i)
}
unset multiplot
