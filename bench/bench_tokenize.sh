#!/bin/sh
# Tokenizer throughput on the shared vocabularies: builds the library and
# bench/bench_tokenize.c, then runs it (extra arguments go to the bench,
# e.g. -f FILE, -n MB, -r RUNS).  SHARED=path overrides ../shared.
set -e
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
make -s build/libtinfer.a
cc -std=c11 -O2 -D_GNU_SOURCE -pthread -Iinclude -o build/bench_tokenize bench/bench_tokenize.c \
    build/libtinfer.a -lutf8proc -lm -lpthread -ldl
exec build/bench_tokenize "$@" "$SHARED"/vocab/ggml-vocab-gpt-2.gguf \
    "$SHARED"/vocab/ggml-vocab-starcoder.gguf "$SHARED"/vocab/ggml-vocab-llama-spm.gguf \
    "$SHARED"/vocab/ggml-vocab-phi-3.gguf
