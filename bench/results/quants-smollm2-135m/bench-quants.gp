TITLE = "SmolLM2-135M-Instruct-F16.gguf"
TG = "16"
THREADS = "2"
# Written by tinfer bench-quants; rerun with: gnuplot bench-quants.gp
set datafile separator "\t"
set logscale y
set format y "%g"
set grid
set key off
set ylabel "mean KL divergence vs source (nats, log scale)"
set offsets graph 0.08, graph 0.15, graph 0.1, graph 0.1
do for [fmt in "svg png"] {
  if (fmt eq "svg") { set terminal svg size 800,520 dynamic noenhanced font "sans,12" }
  if (fmt eq "png") { set terminal pngcairo size 1000,650 noenhanced font "sans,11" }
  set output "kl_vs_speed.".fmt
  set title TITLE.": quality vs decode speed"
  set xlabel "decode speed, tokens/s (tg".TG.", ".THREADS." threads)"
  plot "bench-quants.dat" using 3:4 with points pt 7 ps 1.3, "" using 3:4:1 with labels offset char 1,0.6 left
  set output "kl_vs_size.".fmt
  set title TITLE.": quality vs file size"
  set xlabel "file size, MiB"
  plot "bench-quants.dat" using 2:4 with points pt 7 ps 1.3, "" using 2:4:1 with labels offset char 1,0.6 left
  unset output
}
