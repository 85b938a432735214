#!/bin/sh
# The quantization-level report of the default model (make bench-quants).
# Source: SmolLM2-135M-Instruct (the Q4_1 file tools/fetch-model.sh fetches)
# dequantized to F16; every level is quantized from that F16 file, so the
# KL divergences measure what each level loses against it.
#   bench/bench_quants.sh [-o DIR] [bench-quants options...]
# Writes DIR (default bench/results/quants-smollm2-135m): bench-quants.md,
# .csv, .json and the plots.  Took 7.5 minutes on 2 cores shared with other
# jobs (load average 6-8); less on a quiet machine.
set -eu
cd "$(dirname "$0")/.."
tools/deps.sh bench >&2
model=$(tools/fetch-model.sh)
make -s all >&2
out=bench/results/quants-smollm2-135m
if [ "${1:-}" = -o ] && [ $# -ge 2 ]; then out=$2; shift 2; fi
src="${TMPDIR:-/tmp}/SmolLM2-135M-Instruct-F16.gguf"
trap 'rm -f "$src"' EXIT
build/tinfer quantize -q "$model" "$src" f16
# q4_1 is there as a check: the source holds Q4_1 values, so requantizing
# to Q4_1 must come out (nearly) lossless.
note="SmolLM2-135M-Instruct as published (Q4_1, tools/fetch-model.sh) dequantized to F16 with \`tinfer quantize\`:\
 its weights are Q4_1 values, so q4_1 comes out nearly lossless and every other level pays for moving them onto\
 another grid. Its rows of 576 are not a whole number of 256-element K-blocks, so the K-quant levels are mostly\
 their fallbacks (Q5_0, Q5_1, IQ4_NL), as with llama.cpp"
build/tinfer bench-quants -m "$src" -o "$out" --types q8_0,q6_k,q5_k_m,q4_k_m,q4_1,q4_0,q3_k,q2_k \
  --note "$note" "$@"
