/* x86_avxvnni.c - the AVX2 kernels rebuilt for AVX-VNNI (the VEX-encoded
 * dpbusd/dpwssd of Alder Lake and later client CPUs, which lack AVX-512):
 * the same sources with TF_AVXVNNI defined, so the integer dots take one
 * instruction where AVX2 takes two or three.  The int32 lanes are the
 * same, so results are bit-identical to the AVX2 build's; dispatch.c
 * installs these over the AVX2 entries when CPUID reports AVX-VNNI.
 * (The Makefile lists the two included files as this object's
 * prerequisites.)
 */
#define TF_AVXVNNI 1
#include "x86_avx2.c"
#include "x86_avx2_k.c"
