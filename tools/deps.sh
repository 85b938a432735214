#!/bin/sh
# Install the Debian packages tinfer needs, only those that are missing.
# usage: tools/deps.sh [build|test|bench]   (test = build + what the tests use;
#        bench = build + gnuplot and the KJV text for bench/bench_quants.sh)
set -eu
# libvulkan-dev + glslc: the Vulkan backend is built when both are present
# (headers and the shader compiler; nothing links against libvulkan).
want="gcc make libc6-dev pkg-config libutf8proc-dev python3 python3-pip ca-certificates libvulkan-dev glslc"
if [ "${1:-build}" = test ]; then
  # clang + its sanitizer/libFuzzer runtimes for `make fuzz` (libclang-rt-dev
  # follows Debian 12's default clang, 14); gcc's own runtimes cover make
  # asan and make tsan.
  # g++ checks that tinfer.h also compiles as C++.
  want="$want libcmocka-dev strace valgrind clang libclang-rt-dev g++"
  # `make cross-arm`: the aarch64 cross compiler, and qemu to run the NEON
  # kernel tests
  want="$want gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user"
  # OpenBLAS (opened at run time, optional) for the TINFER_BLAS golden runs.
  want="$want libopenblas0"
  # Mesa's lavapipe (a Vulkan device on the CPU) and the Khronos validation
  # layer for tests/test_vulkan.c.
  want="$want mesa-vulkan-drivers vulkan-validationlayers"
fi
if [ "${1:-build}" = bench ]; then
  # Plots of `tinfer bench-quants` (gnuplot) and its default text, the King
  # James Bible (bible-kjv: the `bible` reader, data in bible-kjv-text).
  want="$want gnuplot-nox bible-kjv"
fi
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
  echo "deps: all packages present"
  exit 0
fi
echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
