# tinfer - build with `make`; `make check` runs the tests; `make asan` runs
# them under AddressSanitizer + UndefinedBehaviorSanitizer; `make tsan` runs
# the concurrency test under ThreadSanitizer; `make fuzz` runs the libFuzzer
# targets (clang) for FUZZ_SECONDS each.
#
# Layout of the build: build/ (release) and build-asan/ (sanitized) hold
# objects, libtinfer.a, libtinfer.so.$(SOVER) and the tinfer binary;
# build-tsan/ and build-fuzz/ the ThreadSanitizer and libFuzzer builds.

CC      ?= cc
PREFIX  ?= /usr/local
SOVER   := 0
VERSION := 0.1.0
SHARED  ?= $(abspath ../shared)

BUILD   ?= build
OPT     ?= -O2
SAN     ?=
WARN    := -Wall -Wextra $(WARN_EXTRA)
CFLAGS_BASE := -std=c11 $(OPT) -g $(WARN) -fPIC -D_GNU_SOURCE -pthread \
	-Iinclude -Ilib -Ikernels $(SAN)
LDLIBS  := -lutf8proc -lm -lpthread -ldl

# Per-ISA kernel files get their own target flags; everything else is
# plain x86-64/ARMv8 so one binary runs everywhere (dispatch at run time).
# ARCH is the target's: from the compiler, so a cross build (CC=
# aarch64-linux-gnu-gcc) picks the Arm files (macOS says arm64).
ARCH := $(firstword $(subst -, ,$(shell $(CC) -dumpmachine 2>/dev/null || uname -m)))
ISA_AVX2 := -mavx2 -mfma -mf16c
ISA_AVX512 := $(ISA_AVX2) -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni
ISA_FLAGS_x86_avx2.c       := $(ISA_AVX2)
ISA_FLAGS_x86_avx2_k.c     := $(ISA_AVX2)
ISA_FLAGS_x86_avx2_pack.c  := $(ISA_AVX2)
ISA_FLAGS_x86_avxvnni.c    := $(ISA_AVX2) -mavxvnni
ISA_FLAGS_x86_avx512.c     := $(ISA_AVX512)
ISA_FLAGS_x86_avx512_k.c   := $(ISA_AVX512)
ISA_FLAGS_x86_avx512_pack.c := $(ISA_AVX512)
ISA_FLAGS_x86_avx512bf16.c := $(ISA_AVX512) -mavx512bf16
ISA_FLAGS_attn_avx2.c      := $(ISA_AVX2)
ISA_FLAGS_attn_avx512.c    := $(ISA_AVX512)
# arm_neon.c is plain ARMv8-A NEON (every aarch64 CPU); arm_neon_dot.c
# needs the Armv8.2 dot product, which dispatch.c checks in HWCAP.
ISA_FLAGS_arm_neon_dot.c   := -march=armv8.2-a+dotprod

LIB_SRC := $(wildcard lib/*.c) $(wildcard kernels/*.c)
ifneq ($(ARCH),x86_64)
LIB_SRC := $(filter-out kernels/x86_%.c lib/attn_avx%.c,$(LIB_SRC))
endif
ifeq ($(filter aarch64 arm64,$(ARCH)),)
LIB_SRC := $(filter-out kernels/arm_%.c,$(LIB_SRC))
endif
CLI_SRC := $(wildcard tools/cli/*.c)
TEST_SRC := $(wildcard tests/test_*.c)

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
TESTS   := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

all: $(BUILD)/libtinfer.a $(BUILD)/libtinfer.so $(BUILD)/tinfer

$(BUILD)/%.o: %.c $(wildcard include/*.h lib/*.h kernels/*.h tools/cli/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(ISA_FLAGS_$(notdir $<)) $(CFLAGS) -c $< -o $@

# x86_avxvnni.c compiles x86_avx2.c and x86_avx2_k.c a second time.
$(BUILD)/kernels/x86_avxvnni.o: kernels/x86_avx2.c kernels/x86_avx2_k.c

$(BUILD)/libtinfer.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libtinfer.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libtinfer.so.$(SOVER) $(SAN) -o $@.$(SOVER) $^ $(LDLIBS)
	ln -sf libtinfer.so.$(SOVER) $@

$(BUILD)/tinfer: $(CLI_OBJ) $(BUILD)/libtinfer.a
	$(CC) $(SAN) -pthread -o $@ $(CLI_OBJ) $(BUILD)/libtinfer.a $(LDLIBS)

# Per-test link flags: LDFLAGS_<test name>.  test_oom and test_private
# wrap the allocator (GNU ld --wrap also rewrites the calls inside
# libtinfer.a's objects, which are linked statically).
WRAP_ALLOC := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=free
LDFLAGS_test_oom := $(WRAP_ALLOC)
LDFLAGS_test_private := $(WRAP_ALLOC)

$(BUILD)/tests/%: tests/%.c $(wildcard tests/*.h tests/fuzz/*.c tests/fuzz/*.h) $(BUILD)/libtinfer.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -Itests -o $@ $< $(BUILD)/libtinfer.a -lcmocka $(LDLIBS) $(LDFLAGS_$*)

tests: $(TESTS) $(BUILD)/tinfer

# Each test binary runs with TINFER_SHARED (the reference data) and
# TINFER_BIN (the CLI) set; they fail loudly when ../shared is missing.
check: tests
	@test -d "$(SHARED)" || { echo "error: reference data not found at $(SHARED) (set SHARED=)"; exit 1; }
	@fail=0; for t in $(TESTS); do \
	  echo "== $$t"; \
	  TINFER_SHARED="$(SHARED)" TINFER_BIN="$(abspath $(BUILD)/tinfer)" $(TEST_ENV) $$t || fail=1; \
	done; \
	if [ $$fail = 0 ]; then echo "all test programs passed"; else echo "SOME TESTS FAILED"; exit 1; fi

asan:
	$(MAKE) check BUILD=build-asan OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
	  TEST_ENV="ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 TINFER_SLOW=1"

# The library cross-compiled for aarch64 (NEON and dotprod kernels) with
# warnings as errors, and the kernel tests (tests/test_kernels_isa.c: every
# NEON kernel against the portable one) run under qemu's user-mode
# emulation; tests/arm/cmocka.h stands in for cmocka there.
QEMU_ARM ?= $(shell command -v qemu-aarch64 || command -v qemu-aarch64-static)
cross-arm:
	$(MAKE) CC=aarch64-linux-gnu-gcc BUILD=build-arm WARN_EXTRA=-Werror build-arm/libtinfer.a
	aarch64-linux-gnu-gcc -std=c11 -O2 -D_GNU_SOURCE -pthread -Itests/arm -Iinclude -Ikernels -Itests \
	  -o build-arm/test_kernels_isa tests/test_kernels_isa.c build-arm/libtinfer.a -lm -static
	@test -n "$(QEMU_ARM)" || { echo "error: qemu-aarch64 not found (apt-get install qemu-user)"; exit 1; }
	$(QEMU_ARM) build-arm/test_kernels_isa

# ThreadSanitizer: several threads, each with its own context on one shared
# model, generate at once (tests/test_threads.c).
tsan:
	$(MAKE) BUILD=build-tsan OPT=-O1 SAN="-fsanitize=thread -fno-omit-frame-pointer" \
	  build-tsan/tests/test_threads
	@test -d "$(SHARED)" || { echo "error: reference data not found at $(SHARED) (set SHARED=)"; exit 1; }
	TINFER_SHARED="$(SHARED)" TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	  build-tsan/tests/test_threads

# libFuzzer targets (tests/fuzz/, see tests/FUZZING.md), built with clang
# under ASan + UBSan into build-fuzz/ and run FUZZ_SECONDS each from the
# committed seeds (tests/fuzz/corpus/<t>/) and regression inputs
# (tests/fuzz/regress/<t>/); what they find goes to build-fuzz/corpus/<t>/,
# crashes to build-fuzz/crashes/.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := gguf model tokenizer chat sampler
FUZZ_CC ?= clang
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_ENV := ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1
# Longer texts than the seeds for the tokenizer and chat targets.
FUZZ_OPTS_tokenizer := -max_len=4096
FUZZ_OPTS_chat := -max_len=4096

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard tests/fuzz/*.h) $(BUILD)/libtinfer.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -fsanitize=fuzzer -Itests -o $@ $< $(BUILD)/libtinfer.a $(LDLIBS)

fuzz-build:
	$(MAKE) BUILD=build-fuzz CC=$(FUZZ_CC) OPT=-O1 SAN="-fsanitize=fuzzer-no-link $(FUZZ_SAN)" \
	  $(FUZZ_TARGETS:%=build-fuzz/fuzz/fuzz_%)

fuzz: fuzz-build
	@test -d "$(SHARED)" || { echo "error: reference data not found at $(SHARED) (set SHARED=)"; exit 1; }
	@fail=0; for t in $(FUZZ_TARGETS); do \
	  mkdir -p build-fuzz/corpus/$$t build-fuzz/crashes; \
	  dirs="build-fuzz/corpus/$$t tests/fuzz/corpus/$$t"; \
	  [ -d tests/fuzz/regress/$$t ] && dirs="$$dirs tests/fuzz/regress/$$t"; \
	  dict=""; [ -f tests/fuzz/$$t.dict ] && dict="-dict=tests/fuzz/$$t.dict"; \
	  echo "== fuzz_$$t: $(FUZZ_SECONDS) s (log build-fuzz/fuzz_$$t.log)"; \
	  case $$t in tokenizer) opts="$(FUZZ_OPTS_tokenizer)";; chat) opts="$(FUZZ_OPTS_chat)";; *) opts="";; esac; \
	  if TINFER_SHARED="$(SHARED)" $(FUZZ_ENV) build-fuzz/fuzz/fuzz_$$t $$dict $$opts \
	       -max_total_time=$(FUZZ_SECONDS) -timeout=30 -rss_limit_mb=4096 -print_final_stats=1 \
	       -artifact_prefix=build-fuzz/crashes/$$t- $$dirs >build-fuzz/fuzz_$$t.log 2>&1; then \
	    grep -E '^#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::peak_rss_mb' build-fuzz/fuzz_$$t.log; \
	  else \
	    fail=1; tail -n 60 build-fuzz/fuzz_$$t.log; \
	  fi; \
	done; \
	if [ $$fail = 0 ]; then echo "all fuzz targets ran clean"; else echo "FUZZING FOUND A CRASH (build-fuzz/crashes/)"; exit 1; fi

# Rewrites the committed seed corpus (deterministic; see tests/fuzz/mkcorpus.c).
fuzz-corpus: $(BUILD)/libtinfer.a
	@mkdir -p $(BUILD)/fuzz
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -Itests -o $(BUILD)/fuzz/mkcorpus tests/fuzz/mkcorpus.c \
	  $(BUILD)/libtinfer.a $(LDLIBS)
	$(BUILD)/fuzz/mkcorpus tests/fuzz/corpus

install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/tinfer.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(BUILD)/libtinfer.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libtinfer.so.$(SOVER) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libtinfer.so.$(SOVER) $(DESTDIR)$(PREFIX)/lib/libtinfer.so
	install -m 755 $(BUILD)/tinfer $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' tools/tinfer.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/tinfer.pc

bench-tokenize: all
	bench/bench_tokenize.sh -r 5

bench-kernels:
	bench/bench_kernels.sh

# The quantization-level report of the default model into bench/results/
# (bench/bench_quants.sh; installs gnuplot-nox and bible-kjv first).
bench-quants: all
	bench/bench_quants.sh

# Random-weight models with TinyLlama-1.1B's shape (F16, then Q8_0, Q4_0,
# Q4_K_M through `tinfer quantize`; ~4.7 GB) into BENCH_DIR (default
# ~/.cache/tinfer/bench; never committed) for `tinfer bench`.
$(BUILD)/gen_bench_model: tools/gen_bench_model.c $(BUILD)/libtinfer.a
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -o $@ $< $(BUILD)/libtinfer.a $(LDLIBS)

bench-model: all $(BUILD)/gen_bench_model
	BUILD=$(BUILD) SHARED="$(SHARED)" bench/make_bench_models.sh

.PHONY: bench-model

# ---- Vulkan backend (lib/backend_vk.c, lib/vk_*.c, shaders/) --------------
# On by default when vulkan/vulkan.h (libvulkan-dev) and glslc are found;
# `make VULKAN=0` builds without it.  shaders/build.sh compiles every
# shaders/*.comp variant with glslc into $(BUILD)/gen/vk_spirv.c (SPIR-V as
# uint32 arrays, generated, never committed), linked into the library.
# Without Vulkan the same lib/ sources build a stub whose contexts fail
# with "built without Vulkan".  Nothing links against libvulkan: the
# library opens libvulkan.so.1 with dlopen when a Vulkan context is made.
GLSLC ?= glslc
ifndef VULKAN
VULKAN := $(shell printf '\043include <vulkan/vulkan.h>\n' | $(CC) -E -x c - >/dev/null 2>&1 && \
	command -v $(GLSLC) >/dev/null 2>&1 && echo 1 || echo 0)
endif
ifeq ($(VULKAN),1)
$(info Vulkan backend: enabled (vulkan/vulkan.h and $(GLSLC) found))
CFLAGS_BASE += -DTF_VULKAN
$(BUILD)/gen/vk_spirv.c: shaders/build.sh $(wildcard shaders/*.comp shaders/*.glsl shaders/*.h)
	sh shaders/build.sh $(GLSLC) $(BUILD)/gen
$(BUILD)/gen/vk_spirv.o: $(BUILD)/gen/vk_spirv.c lib/vk_spirv.h
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -c $< -o $@
$(BUILD)/libtinfer.a $(BUILD)/libtinfer.so: $(BUILD)/gen/vk_spirv.o
$(LIB_OBJ): $(wildcard shaders/*.h)
else
$(info Vulkan backend: disabled (vulkan/vulkan.h or glslc missing: apt-get install libvulkan-dev glslc); building CPU-only)
endif

clean:
	rm -rf build build-asan build-tsan build-fuzz

.PHONY: all tests check asan tsan cross-arm fuzz fuzz-build fuzz-corpus install clean bench-tokenize bench-kernels
