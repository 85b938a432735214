# tinfer - build with `make`; `make check` runs the tests; `make asan` runs
# them under AddressSanitizer + UndefinedBehaviorSanitizer.
#
# Layout of the build: build/ (release) and build-asan/ (sanitized) hold
# objects, libtinfer.a, libtinfer.so.$(SOVER) and the tinfer binary.

CC      ?= cc
PREFIX  ?= /usr/local
SOVER   := 0
VERSION := 0.1.0
SHARED  ?= $(abspath ../shared)

BUILD   ?= build
OPT     ?= -O2
SAN     ?=
WARN    := -Wall -Wextra
CFLAGS_BASE := -std=c11 $(OPT) -g $(WARN) -fPIC -D_GNU_SOURCE -pthread \
	-Iinclude -Ilib -Ikernels $(SAN)
LDLIBS  := -lutf8proc -lm -lpthread -ldl

# Per-ISA kernel files get their own target flags; everything else is
# plain x86-64/ARMv8 so one binary runs everywhere (dispatch at run time).
ARCH := $(shell uname -m)
ISA_FLAGS_x86_avx2.c   := -mavx2 -mfma -mf16c
ISA_FLAGS_x86_avx512.c := -mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl \
	-mavx512dq -mavx512vnni -mavx512bf16

LIB_SRC := $(wildcard lib/*.c) $(wildcard kernels/*.c)
ifneq ($(ARCH),x86_64)
LIB_SRC := $(filter-out kernels/x86_%.c,$(LIB_SRC))
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

$(BUILD)/libtinfer.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libtinfer.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libtinfer.so.$(SOVER) $(SAN) -o $@.$(SOVER) $^ $(LDLIBS)
	ln -sf libtinfer.so.$(SOVER) $@

$(BUILD)/tinfer: $(CLI_OBJ) $(BUILD)/libtinfer.a
	$(CC) $(SAN) -pthread -o $@ $(CLI_OBJ) $(BUILD)/libtinfer.a $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(wildcard tests/*.h) $(BUILD)/libtinfer.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -Itests -o $@ $< $(BUILD)/libtinfer.a -lcmocka $(LDLIBS)

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

install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/tinfer.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(BUILD)/libtinfer.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libtinfer.so.$(SOVER) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libtinfer.so.$(SOVER) $(DESTDIR)$(PREFIX)/lib/libtinfer.so
	install -m 755 $(BUILD)/tinfer $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' tools/tinfer.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/tinfer.pc

clean:
	rm -rf build build-asan

.PHONY: all tests check asan install clean
