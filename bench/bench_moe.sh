#!/bin/sh
# MoE vs dense cost (bench/bench_moe.c): builds the library and the bench,
# then runs it; arguments go to the bench (-t THREADS, -w f16|q8_0,
# -r RUNS, -p PROMPT, -g GEN, -d DIR for the two generated model files).
set -e
cd "$(dirname "$0")/.."
make -s build/libtinfer.a
cc -std=c11 -O2 -D_GNU_SOURCE -pthread -Iinclude -Ilib -Ikernels -Itests -o build/bench_moe \
    bench/bench_moe.c build/libtinfer.a -lutf8proc -lm -lpthread -ldl
exec build/bench_moe "$@"
