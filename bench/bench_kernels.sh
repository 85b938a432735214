#!/bin/sh
# Single-thread throughput of the matrix kernels at every ISA level this
# CPU has (see bench/bench_kernels.c): builds the library and the bench,
# then runs it; extra arguments go to the bench, e.g.
#   bench/bench_kernels.sh -t Q4_0,Q4_K -l avx2,avx512 -r 1024 -s 0.3
set -e
cd "$(dirname "$0")/.."
make -s build/libtinfer.a
cc -std=c11 -O2 -D_GNU_SOURCE -pthread -Iinclude -Ikernels -o build/bench_kernels \
    bench/bench_kernels.c build/libtinfer.a -lutf8proc -lm -lpthread -ldl
exec build/bench_kernels "$@"
