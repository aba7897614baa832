# Plots of bench/ordinality.sh results (gnuplot 5).
# Usage: gnuplot -e "csv='DIR/ordinality.csv'; outdir='DIR'; machine='LABEL'" bench/plot.gp
# Writes outdir/throughput.png (compress/decompress bytes/s against input size) and
# outdir/bpb.png (bits per byte against input size). Both x axes are log-scale.
if (!exists("csv")) csv = "ordinality.csv"
if (!exists("outdir")) outdir = "."
if (!exists("machine")) machine = ""

set datafile separator ","
set datafile missing ""
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
    set terminal pngcairo size 960,600 font "sans,10"
} else {
    set terminal png size 960,600
}
set logscale x 10
set format x "10^{%L}"
set xlabel "input size (bytes, first bytes of the Gutenberg books)"
set grid xtics ytics mxtics
set key outside right top
set xrange [0.5:2e7]

# the rows whose codec (col 3) and device (col 4) match and whose column c is filled: a
# filtered source, so that each curve is one unbroken line
src(codec, dev, c) = sprintf("< awk -F, '$3 == \"%s\" && $4 == \"%s\" && $%d != \"\"' '%s'", codec, dev, c, csv)

# ---- throughput -------------------------------------------------------------------------------
set output outdir."/throughput.png"
set title "Throughput against input size (".machine."; median wall time, 2 cores shared: noisy)"
set logscale y 10
set format y "10^{%L}"
set ylabel "bytes per second"
plot src("lacgpu", "cpu", 11) using 1:11 with linespoints lw 2 pt 7 lc rgb "#d62728" title "lacgpu CPU compress", \
     src("lacgpu", "cpu", 12) using 1:12 with linespoints lw 2 pt 6 dt 2 lc rgb "#d62728" title "lacgpu CPU decompress", \
     src("lacgpu", "cuda", 11) using 1:11 with linespoints lw 2 pt 5 lc rgb "#9467bd" title "lacgpu CUDA compress", \
     src("lacgpu", "cuda", 12) using 1:12 with linespoints lw 2 pt 4 dt 2 lc rgb "#9467bd" title "lacgpu CUDA decompress", \
     src("xz-9", "cpu", 11) using 1:11 with linespoints pt 9 lc rgb "#1f77b4" title "xz -9 compress", \
     src("zstd-19", "cpu", 11) using 1:11 with linespoints pt 11 lc rgb "#2ca02c" title "zstd -19 compress", \
     src("bzip2-9", "cpu", 11) using 1:11 with linespoints pt 13 lc rgb "#ff7f0e" title "bzip2 -9 compress", \
     src("brotli-11", "cpu", 11) using 1:11 with linespoints pt 15 lc rgb "#8c564b" title "brotli -q 11 compress"

# ---- bits per byte ----------------------------------------------------------------------------
set output outdir."/bpb.png"
set title "Bits per byte against input size (".machine.")"
set ylabel "compressed bits per input byte (log)"
set yrange [1:*]
set format y "%g"
set ytics (1, 1.5, 2, 3, 4, 6, 8, 12, 20, 50, 100, 500, 2000)
plot src("lacgpu", "cpu", 8) using 1:8 with linespoints lw 1 pt 1 dt 3 lc rgb "black" title "lac-tiny ideal (model)", \
     src("lacgpu", "cpu", 7) using 1:7 with linespoints lw 2 pt 7 lc rgb "#d62728" title "lacgpu", \
     src("lacgpu", "cuda", 7) using 1:7 with linespoints lw 2 pt 4 lc rgb "#9467bd" title "lacgpu CUDA", \
     src("xz-9", "cpu", 7) using 1:7 with linespoints pt 9 lc rgb "#1f77b4" title "xz -9", \
     src("zstd-19", "cpu", 7) using 1:7 with linespoints pt 11 lc rgb "#2ca02c" title "zstd -19", \
     src("bzip2-9", "cpu", 7) using 1:7 with linespoints pt 13 lc rgb "#ff7f0e" title "bzip2 -9", \
     src("brotli-11", "cpu", 7) using 1:7 with linespoints pt 15 lc rgb "#8c564b" title "brotli -q 11"
