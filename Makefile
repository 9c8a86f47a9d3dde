# adn — top-level build. `make` builds the tools, `make check` runs every
# test (as root, real kernel), `make demo` runs the example chain end to end.
# Everything is built under build/; sources are found by wildcard, so a new
# file in a folder needs no Makefile change.

PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
CC ?= cc
CLANG ?= clang
BPFTOOL ?= bpftool

CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter \
	  -Iheaders -Irpc -Imaps -Iloader -Itools
LIBBPF_LIBS := -lbpf -lelf -lz

BIN := $(BUILD)/bin
OBJ := $(BUILD)/obj

COMPILER_SRC := $(wildcard compiler/*.c)
RPC_SRC      := $(wildcard rpc/*.c)
MAPS_SRC     := $(wildcard maps/*.c)
LOADER_SRC   := $(wildcard loader/*.c)
BPF_HDRS     := $(wildcard bpf/*.h) $(wildcard headers/*.h)

COMPILER_OBJ := $(COMPILER_SRC:%.c=$(OBJ)/%.o)
RPC_OBJ      := $(RPC_SRC:%.c=$(OBJ)/%.o)
MAPS_OBJ     := $(MAPS_SRC:%.c=$(OBJ)/%.o)
LOADER_OBJ   := $(LOADER_SRC:%.c=$(OBJ)/%.o)

LIBADNC  := $(BUILD)/libadnc.a
LIBRPC   := $(BUILD)/libadnrpc.a
LIBMAPS  := $(BUILD)/libadnmaps.a

TOOLS := $(BIN)/adnc $(BIN)/adn-load $(BIN)/adnctl
EXAMPLE_KV := $(BUILD)/kv/kv.bpf.o $(BIN)/kv-server $(BIN)/kv-client
REFERENCE := $(patsubst bpf/reference/%.bpf.c,$(BUILD)/reference/%.bpf.o,$(wildcard bpf/reference/*.bpf.c))

.PHONY: all check check-unit check-kernel demo install clean deps bench bench-profile vmtest fuzz fuzz-check
all: $(TOOLS) $(EXAMPLE_KV) $(REFERENCE)

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)

# compiler/main.c holds adnc's main(); the rest is a library the tests link.
$(LIBADNC): $(filter-out $(OBJ)/compiler/main.o,$(COMPILER_OBJ))
	@mkdir -p $(dir $@); ar rcs $@ $^
# libadnrpc.a also holds adnc's front end and reference interpreter (SQL
# elements IN APP run in the client: rpc/app_sql.c) and the value formatters
# of libadnmaps its log records use; none of them needs libbpf, so an
# application links libadnrpc.a alone, as before (docs/rpc-library.md).
RPC_APP_OBJ := $(filter-out $(OBJ)/compiler/main.o,$(COMPILER_OBJ)) \
	$(addprefix $(OBJ)/maps/,text_quote.o fixed_real.o wall_time.o)
$(LIBRPC): $(RPC_OBJ) $(RPC_APP_OBJ)
	@mkdir -p $(dir $@); ar rcs $@ $^
$(LIBMAPS): $(MAPS_OBJ)
	@mkdir -p $(dir $@); ar rcs $@ $^

$(BIN)/adnc: $(OBJ)/compiler/main.o $(LIBADNC)
	@mkdir -p $(dir $@); $(CC) $(CFLAGS) $^ $(LIBBPF_LIBS) -o $@
$(BIN)/adn-load: $(LOADER_OBJ) $(LIBMAPS)
	@mkdir -p $(dir $@); $(CC) $(CFLAGS) $^ $(LIBBPF_LIBS) -o $@
$(BIN)/adnctl: $(OBJ)/tools/adnctl.o $(LIBMAPS)
	@mkdir -p $(dir $@); $(CC) $(CFLAGS) $^ $(LIBBPF_LIBS) -o $@

# The example: adnc writes kv.bpf.c, kv.bpf.o, kv.json and kv_rpc.h.
$(BUILD)/kv/kv.bpf.o $(BUILD)/kv/kv_rpc.h: examples/kv/kv.adn $(BIN)/adnc $(BPF_HDRS)
	$(BIN)/adnc $< -o $(BUILD)/kv/
$(OBJ)/examples/kv/%.o: examples/kv/%.c $(BUILD)/kv/kv_rpc.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I$(BUILD)/kv -MMD -MP -c $< -o $@
# Helpers the example programs share (examples/common).
EX_UTIL := $(OBJ)/examples/common/ex_util.o
$(BIN)/kv-server: $(OBJ)/examples/kv/kv_server.o $(EX_UTIL) $(LIBRPC)
	@mkdir -p $(dir $@); $(CC) $(CFLAGS) $^ -o $@
$(BIN)/kv-client: $(OBJ)/examples/kv/kv_client.o $(LIBRPC)
	@mkdir -p $(dir $@); $(CC) $(CFLAGS) $^ -lm -o $@

# The paper's section 2 example: rules in examples/s2/s2.mk; the encrypt
# element's client and server (they link OpenSSL): elements/encrypt/encrypt.mk;
# the cache element's kvc client and server: elements/cache/cache.mk.
include examples/s2/s2.mk
include elements/encrypt/encrypt.mk
include elements/cache/cache.mk
all: $(EXAMPLE_S2) $(ELEM_ENCRYPT) $(ELEM_CACHE)

# The hand-written reference chain (the "hand-optimized" baseline).
# asm/types.h lives in the multiarch include dir, which -target bpf does not search
BPF_CFLAGS := -O2 -g -target bpf -Wall -Ibpf -Iheaders -I/usr/include/$(shell uname -m)-linux-gnu
$(BUILD)/reference/%.bpf.o: bpf/reference/%.bpf.c $(BPF_HDRS) $(wildcard bpf/reference/*.h)
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# Tests ------------------------------------------------------------------
# Unit tests: selftests/unit/test_*.c, each linked with every library.
UNIT_SRC := $(wildcard selftests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:selftests/unit/%.c=$(BUILD)/selftests/%)
$(BUILD)/selftests/%: selftests/unit/%.c $(LIBADNC) $(LIBMAPS) $(LIBRPC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Icompiler $< $(LIBADNC) $(LIBMAPS) $(LIBRPC) \
		$$(pkg-config --cflags --libs check) $(LIBBPF_LIBS) $(UNIT_LIBS) -lm -o $@
# test_rpc_udf tests adn_udf_aead (rpc/udf_aead.c): OpenSSL's libcrypto
$(BUILD)/selftests/test_rpc_udf: UNIT_LIBS := -lcrypto

# Small programs the kernel tests drive (raw clients and the like).
TEST_TOOLS := $(patsubst selftests/tools/%.c,$(BIN)/%,$(wildcard selftests/tools/*.c))
$(BIN)/%: selftests/tools/%.c $(wildcard headers/*.h) $(wildcard selftests/tools/*.h)
	@mkdir -p $(dir $@); $(CC) $(CFLAGS) $< -o $@
# selftests/progs/kv_app.adn (the kv chain with acl IN APP): adnc writes its
# kv.bpf.o and kv_rpc.h into build/kv_app/; kv_app_client opens the chain's
# in-app side from that header and links the RPC library (test_place_app).
$(BUILD)/kv_app/kv.bpf.o: selftests/progs/kv_app.adn $(BIN)/adnc $(BPF_HDRS)
	$(BIN)/adnc $< -o $(BUILD)/kv_app/
$(BUILD)/kv_app/kv_rpc.h: $(BUILD)/kv_app/kv.bpf.o ;
$(BIN)/kv_app_client: selftests/tools/kv_app_client.c $(BUILD)/kv_app/kv_rpc.h $(LIBRPC)
	@mkdir -p $(dir $@); $(CC) $(CFLAGS) -I$(BUILD)/kv_app $< $(LIBRPC) -lm -o $@

check-unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; ADN_ROOT=$(CURDIR) $$t; done

include selftests/fuzz/fuzz.mk
include vmtest/vmtest.mk

check-kernel: all $(TEST_TOOLS)
	selftests/run_kernel_tests.sh

# Sub-makes keep the order even under -j: packages first, then build, then tests.
check:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory check-unit
	@$(MAKE) --no-print-directory fuzz-check
	@$(MAKE) --no-print-directory check-kernel

deps:
	@scripts/install-deps.sh

demo:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all
	examples/kv/demo.sh

bench:
	@ADN_BENCH=1 $(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all
	tools/bench/run.sh
	# per-element cost and scaling (issue 3 items 4-5); BENCH_MICRO=0 skips it
	@if [ "$(BENCH_MICRO)" != 0 ]; then tools/bench/micro.sh; fi

# where the CPU of an RPC goes: perf over raw, adn and hand-written runs
# (docs/bench/profile.md); not part of bench (perf slows what it measures)
bench-profile:
	@ADN_PROFILE=1 $(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all
	tools/bench/profile.sh

install: $(TOOLS) $(LIBRPC)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include/adn \
		$(DESTDIR)$(PREFIX)/share/adn/bpf $(DESTDIR)$(PREFIX)/lib
	install -m 0755 $(TOOLS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 headers/*.h rpc/adn_rpc.h $(DESTDIR)$(PREFIX)/include/adn/
	install -m 0644 bpf/*.h $(DESTDIR)$(PREFIX)/share/adn/bpf/
	install -m 0644 $(LIBRPC) $(DESTDIR)$(PREFIX)/lib/

clean:
	rm -rf $(BUILD)
