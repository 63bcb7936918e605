# FlatRender — build, test and run the whole suite.
#
#   make            build every library, daemon and test (debug build, gcc)
#   make SAN=1      the same with AddressSanitizer + UndefinedBehaviorSanitizer (build/san)
#   make CC=clang   any target with clang instead of gcc (build/<mode>-clang)
#   make up         install what is missing, start the local stack, print the gateway URL
#   make down       stop exactly what `make up` started
#   make test       every test tier (unit, contract, end-to-end, fuzz smoke) under ASan+UBSan
#   make fuzz       build the libFuzzer targets (clang)
#   make fmt        apply .clang-format to every C file
#
# Sources are picked up by wildcard: a new libcommon/src/*.c joins libcommon.a, a new
# libcommon/tests/test_*.c becomes a test binary, a new services/<svc>/src/*.c joins that daemon.

.DEFAULT_GOAL := all

CC      ?= gcc
ifeq ($(origin CC),default)
CC      := gcc
endif
SAN     ?= 0
MODE    := $(if $(filter 1,$(SAN)),san,debug)
CCNAME  := $(notdir $(firstword $(CC)))
BUILD   ?= build/$(MODE)$(if $(filter gcc cc,$(CCNAME)),,-$(CCNAME))

PKGS    := libevent libevent_pthreads libpq json-c openssl hiredis librabbitmq libargon2
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

WARN    := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
           -Wmissing-prototypes -Wno-unused-parameter -Wformat=2 -Wvla
CFLAGS  ?= -O1 -g
override CFLAGS += -std=gnu11 -D_GNU_SOURCE -fno-omit-frame-pointer $(WARN) -Ilibcommon/include $(PKG_CFLAGS)
LDLIBS  := $(PKG_LIBS) -lpthread -lm
ifeq ($(MODE),san)
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined
override CFLAGS += $(SANFLAGS)
override LDFLAGS += $(SANFLAGS)
endif

# ---- libcommon ---------------------------------------------------------------------------
COMMON_SRC  := $(wildcard libcommon/src/*.c)
COMMON_OBJ  := $(COMMON_SRC:%.c=$(BUILD)/%.o)
COMMON_LIB  := $(BUILD)/libcommon.a
COMMON_TEST := $(patsubst libcommon/tests/%.c,$(BUILD)/tests/libcommon/%,$(wildcard libcommon/tests/test_*.c))

# ---- daemons: gateway and every services/<svc> --------------------------------------------
SERVICES    := $(notdir $(wildcard services/*))
DAEMONS     := gateway $(SERVICES)
daemon_dir   = $(if $(filter gateway,$(1)),gateway,services/$(1))
BINS        := $(DAEMONS:%=$(BUILD)/bin/%)

define DAEMON_RULES
$(1)_SRC  := $$(wildcard $(call daemon_dir,$(1))/src/*.c)
$(1)_OBJ  := $$($(1)_SRC:%.c=$(BUILD)/%.o)
$(1)_LOBJ := $$(filter-out %/main.o,$$($(1)_OBJ))
$(1)_TEST := $$(patsubst $(call daemon_dir,$(1))/tests/%.c,$(BUILD)/tests/$(1)/%,$$(wildcard $(call daemon_dir,$(1))/tests/test_*.c))
$(BUILD)/bin/$(1): $$($(1)_OBJ) $(COMMON_LIB)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
$(BUILD)/tests/$(1)/%: $(call daemon_dir,$(1))/tests/%.c $$($(1)_LOBJ) $(COMMON_LIB)
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) -I$(call daemon_dir,$(1))/src -Ilibcommon/tests $$(LDFLAGS) -o $$@ $$^ $$(CMOCKA_LIBS) $$(LDLIBS)
ALL_TESTS += $$($(1)_TEST)
endef
$(foreach d,$(DAEMONS),$(eval $(call DAEMON_RULES,$(d))))

ALL_TESTS += $(COMMON_TEST)

# ---- benchmark tools: C programs the bench/ scripts drive (bench/tools/*.c) -------------------
BENCH_TOOLS := $(patsubst bench/tools/%.c,$(BUILD)/bench/%,$(wildcard bench/tools/*.c))
$(BUILD)/bench/%: bench/tools/%.c $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
bench-tools: $(BENCH_TOOLS)

# ---- test tools: small real programs built on libcommon that tests drive (tests/tools/*.c) ----
TOOLS := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(wildcard tests/tools/*.c))
$(BUILD)/tools/%: tests/tools/%.c $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

.PHONY: all build tests up down test test-unit test-e2e fuzz fmt clean deps bench bench-tools
all: build tests
build: $(COMMON_LIB) $(BINS) $(TOOLS)
tests: $(ALL_TESTS)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(COMMON_LIB): $(COMMON_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/tests/libcommon/%: libcommon/tests/%.c $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LDLIBS)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---- fuzz targets (clang + libFuzzer) ------------------------------------------------------
FUZZ_BUILD := build/fuzz
FUZZ_SRC   := $(wildcard fuzz/fuzz_*.c)
FUZZ_BINS  := $(FUZZ_SRC:fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_FLAGS := -O1 -g -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer-no-link,address,undefined \
              -fno-sanitize-recover=undefined $(WARN) -Ilibcommon/include $(PKG_CFLAGS)
FUZZ_OBJ   := $(COMMON_SRC:%.c=$(FUZZ_BUILD)/%.o)
$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(@D)
	clang $(FUZZ_FLAGS) -c -o $@ $<
$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c $(FUZZ_OBJ)
	@mkdir -p $(@D)
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)
fuzz: $(FUZZ_BINS)

# ---- the stack and the test tiers ----------------------------------------------------------
deps:
	@scripts/deps.sh
up:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory build
	@BUILD=$(BUILD) scripts/stack.sh up
down:
	@BUILD=$(BUILD) scripts/stack.sh down
test:
	@scripts/test.sh
bench:
	@bench/gateway-vs-identity.sh

fmt:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build
