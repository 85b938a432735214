#!/bin/sh
# make_bench_models.sh - random-weight benchmark models with the shape of
# TinyLlama-1.1B (n_embd 2048, 22 layers, 32 heads / 4 KV heads, n_ff 5632,
# 32,000-token SentencePiece vocabulary, untied output): F16 from
# tools/gen_bench_model.c, then Q8_0, Q4_0 and Q4_K_M from it with
# `tinfer quantize`.  Files that already exist are kept.  Run by
# `make bench-model` (which builds the tools first).
#
#   bench/make_bench_models.sh [-d DIR] [-t THREADS] [--types "Q8_0 Q4_0 Q4_K_M"]
#
# DIR: $BENCH_DIR or ~/.cache/tinfer/bench.  Needs about 4.7 GB free (F16
# 2.2 GB, Q8_0 1.2, Q4_0 0.6, Q4_K_M 0.7); checked before each file.
# The vocabulary comes from $SHARED/vocab/ggml-vocab-llama-spm.gguf
# (SHARED: ../shared beside the checkout).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
dir=${BENCH_DIR:-$HOME/.cache/tinfer/bench}
shared=${SHARED:-$root/../shared}
types="Q8_0 Q4_0 Q4_K_M"
threads=""

while [ $# -gt 0 ]; do
    case $1 in
    -d) dir=$2; shift 2 ;;
    -t) threads="-t $2"; shift 2 ;;
    --types) types=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "make_bench_models.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

gen=$build/gen_bench_model
tinfer=$build/tinfer
vocab=$shared/vocab/ggml-vocab-llama-spm.gguf
for f in "$gen" "$tinfer"; do
    [ -x "$f" ] || { echo "make_bench_models.sh: $f missing (run make bench-model)" >&2; exit 1; }
done
[ -f "$vocab" ] || { echo "make_bench_models.sh: vocabulary $vocab missing (set SHARED=)" >&2; exit 1; }
mkdir -p "$dir"

# need MB: refuse to start a file that can't fit (with 10% to spare).
need() {
    avail=$(df -Pm "$dir" | awk 'NR == 2 { print $4 }')
    want=$(( $1 + $1 / 10 ))
    if [ "$avail" -lt "$want" ]; then
        echo "make_bench_models.sh: $2 needs ~$1 MB, only $avail MB free in $dir" >&2
        exit 1
    fi
}

f16=$dir/tinyllama-shape-f16.gguf
if [ -f "$f16" ]; then
    echo "have $f16"
else
    need 2200 "$f16"
    "$gen" "$f16" --vocab "$vocab"
fi

for t in $types; do
    lower=$(echo "$t" | tr '[:upper:]' '[:lower:]')
    out=$dir/tinyllama-shape-$lower.gguf
    if [ -f "$out" ]; then echo "have $out"; continue; fi
    case $lower in q8_0) mb=1200 ;; q4_*|iq4_*) mb=700 ;; q5_*|q6_k) mb=950 ;; *) mb=2200 ;; esac
    need "$mb" "$out"
    start=$(date +%s)
    # shellcheck disable=SC2086 # $threads is "" or "-t N"
    "$tinfer" quantize "$f16" "$out" "$t" $threads -q
    echo "wrote $out ($(( $(date +%s) - start )) s)"
done
ls -l "$dir"/tinyllama-shape-*.gguf
