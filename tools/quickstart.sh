#!/bin/sh
# The README's first command: install what is missing, build, fetch the
# default model and ask it a question.
set -eu
cd "$(dirname "$0")/.."
tools/deps.sh build
make -j"$(nproc)"
model=$(tools/fetch-model.sh)
echo "== tinfer run --chat (model: $model)"
build/tinfer run -m "$model" --chat --temp 0 -n 64 -p "${1:-What is the capital of France?}"
