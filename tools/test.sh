#!/bin/sh
# The README's second command (and CI's): install what is missing, fetch the
# default model for the end-to-end test, then the tests, plain and under
# AddressSanitizer + UndefinedBehaviorSanitizer, the concurrency test under
# ThreadSanitizer, the library cross-compiled for aarch64 (no warnings
# allowed) with the NEON kernel tests under qemu, and each libFuzzer target for FUZZ_SECONDS (default 60;
# tests/FUZZING.md).
set -eu
cd "$(dirname "$0")/.."
tools/deps.sh test
if model=$(tools/fetch-model.sh); then
  export TINFER_MODEL="$model"
else
  echo "test: could not fetch the default model; the real-model test will fail" >&2
fi
make -j"$(nproc)" check
make -j"$(nproc)" asan
make -j"$(nproc)" tsan
make -j"$(nproc)" cross-arm
make -j"$(nproc)" fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
