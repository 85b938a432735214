TITLE = "tinyllama-shape-f16.gguf"
TG = "32"
THREADS = "2"
# Written by tinfer bench-quants --speed-only; rerun with: gnuplot bench-quants.gp
set datafile separator "\t"
set grid
set key off
set yrange [0:*]
set xrange [0:*]
set ylabel "decode speed, tokens/s (tg".TG.", ".THREADS." threads)"
set xlabel "file size, MiB"
set offsets graph 0.02, graph 0.15, graph 0.1, graph 0
do for [fmt in "svg png"] {
  if (fmt eq "svg") { set terminal svg size 800,520 dynamic noenhanced font "sans,12" }
  if (fmt eq "png") { set terminal pngcairo size 1000,650 noenhanced font "sans,11" }
  set output "speed_vs_size.".fmt
  set title TITLE.": decode speed vs file size (random weights: speed only)"
  plot "bench-quants.dat" using 2:3 with points pt 7 ps 1.3, "" using 2:3:1 with labels offset char 1,0.6 left
  unset output
}
