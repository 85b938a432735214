#!/bin/sh
# Tiled vs straightforward attention (bench/bench_attn.c): builds the
# library and the bench, then runs it; arguments go to the bench (-r RUNS).
set -e
cd "$(dirname "$0")/.."
make -s build/libtinfer.a
cc -std=c11 -O2 -D_GNU_SOURCE -pthread -Iinclude -Ilib -Ikernels -o build/bench_attn \
    bench/bench_attn.c build/libtinfer.a -lutf8proc -lm -lpthread -ldl
exec build/bench_attn "$@"
