#!/bin/sh
# compare_llamacpp.sh - tinfer vs llama.cpp on the same GGUF files, same
# threads, same test shapes (prompt 128 tokens as one batch, 32 decoded
# tokens, from an empty context; median of the runs after a warm-up).
# Never run by CI or `make check`: it installs llama-cpp-python from PyPI
# into a throwaway virtual environment (deleted afterwards unless --venv).
#
#   bench/compare_llamacpp.sh [options] MODEL.gguf...
#     -t N          threads for both engines (default: all CPUs)
#     -p N, -n N    prompt and decode sizes (default 128 and 32)
#     -r N          runs per test (default 3)
#     --venv DIR    use/keep this virtual environment (reuse saves the build)
#     --from-source don't look for a prebuilt CPU wheel; build from the sdist
#     --tinfer-only skip llama.cpp (checks the rest of the script)
#     --bf16        tinfer rounds F16 matrices to BF16 (its opt-in; rows
#                   say "tinfer --bf16"); llama.cpp runs the files as they are
#
# Installing: a prebuilt CPU wheel from the llama-cpp-python project's own
# wheel index is tried first (https://abetlen.github.io/llama-cpp-python/
# whl/cpu, generic x86-64 builds); without one, pip compiles llama.cpp from
# the PyPI sdist with cmake and a C++ compiler (build-essential, cmake),
# which takes a long time: ~15-40 minutes on 2 cores.  The compiled build
# uses -march=native; a prebuilt wheel may be slower than a native build.
# Needs python3-venv.  Timing goes through the Python bindings (Llama.eval,
# which also copies the logits out): a small overhead per call, which
# matters most for decoding small models.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
tinfer=${TINFER_BIN:-$root/build/tinfer}
threads=$(nproc)
pp=128
tg=32
reps=3
venv=""
from_source=0
tinfer_only=0
tinfer_opt=""

usage() { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; }
num() { case $2 in ''|*[!0-9]*) echo "compare_llamacpp.sh: $1 needs a number, got '$2'" >&2; exit 2 ;; esac; }

while [ $# -gt 0 ]; do
    case $1 in
    -h|--help) usage; exit 0 ;;
    -t|-p|-n|-r)
        [ $# -ge 2 ] || { echo "compare_llamacpp.sh: $1 needs a value" >&2; exit 2; }
        num "$1" "$2"
        case $1 in -t) threads=$2 ;; -p) pp=$2 ;; -n) tg=$2 ;; -r) reps=$2 ;; esac
        shift 2 ;;
    --venv) [ $# -ge 2 ] || { echo "compare_llamacpp.sh: --venv needs a folder" >&2; exit 2; }
        venv=$2; shift 2 ;;
    --from-source) from_source=1; shift ;;
    --tinfer-only) tinfer_only=1; shift ;;
    --bf16) tinfer_opt=--bf16; shift ;;
    --) shift; break ;;
    -*) echo "compare_llamacpp.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) break ;;
    esac
done
[ $# -ge 1 ] || { usage >&2; exit 2; }
if [ "$threads" -lt 1 ] || [ "$reps" -lt 1 ]; then
    echo "compare_llamacpp.sh: -t and -r must be >= 1" >&2
    exit 2
fi
for m in "$@"; do
    [ -f "$m" ] || { echo "compare_llamacpp.sh: no such model file: $m" >&2; exit 1; }
done
[ -x "$tinfer" ] || { echo "compare_llamacpp.sh: $tinfer missing (make, or set TINFER_BIN)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tinfer-vs-llamacpp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

if [ "$tinfer_only" = 0 ]; then
    if [ -z "$venv" ]; then venv=$tmp/venv; fi
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv" || { echo "compare_llamacpp.sh: python3 -m venv failed (apt-get install python3-venv)" >&2; exit 1; }
    fi
    if ! "$venv/bin/python" -c 'import llama_cpp' 2>/dev/null; then
        "$venv/bin/pip" install --quiet --upgrade pip
        if [ "$from_source" = 1 ] || ! "$venv/bin/pip" install --only-binary=:all: \
               --extra-index-url https://abetlen.github.io/llama-cpp-python/whl/cpu llama-cpp-python; then
            echo "compare_llamacpp.sh: building llama-cpp-python from source (this takes long on few cores)" >&2
            start=$(date +%s)
            CMAKE_ARGS="-DGGML_NATIVE=ON" "$venv/bin/pip" install --no-binary llama-cpp-python llama-cpp-python
            echo "compare_llamacpp.sh: built in $(( $(date +%s) - start )) s" >&2
        fi
    fi
    llama_ver=$("$venv/bin/python" -c 'import llama_cpp; print(llama_cpp.__version__)')
fi

echo "# $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $threads threads, prompt $pp, decode $tg, $reps runs, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg); llama-cpp-python ${llama_ver:-(skipped)}"
echo "| model | test | tinfer${tinfer_opt:+ $tinfer_opt} t/s | llama.cpp t/s | tinfer / llama.cpp |"
echo "| --- | --- | ---: | ---: | ---: |"
for m in "$@"; do
    "$tinfer" bench -m "$m" -t "$threads" -p "$pp" -n "$tg" -r "$reps" --bw-mib 0 --csv $tinfer_opt > "$tmp/tf.csv"
    # test,tps_median from the CSV (quoted fields may hold commas)
    python3 -c 'import csv, sys
for r in csv.DictReader(open(sys.argv[1])): print(r["test"] + "," + r["tps_median"])' "$tmp/tf.csv" > "$tmp/tf"
    if [ "$tinfer_only" = 0 ]; then
        "$venv/bin/python" "$root/bench/llamacpp_time.py" "$m" "$threads" "$pp" "$tg" "$reps" > "$tmp/lc.csv"
    else
        : > "$tmp/lc.csv"
    fi
    while IFS=, read -r test tps; do
        ref=$(awk -F, -v t="$test" '$1 == t { print $3 }' "$tmp/lc.csv")
        if [ -n "$ref" ]; then
            ratio=$(awk -v a="$tps" -v b="$ref" 'BEGIN { printf "%.2fx", a / b }')
        else
            ref="-"; ratio="-"
        fi
        printf '| %s | %s | %.2f | %s | %s |\n' "$(basename "$m")" "$test" "$tps" "$ref" "$ratio"
    done < "$tmp/tf"
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
