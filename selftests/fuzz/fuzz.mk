# libFuzzer target for the compiler front end and generators. Include from
# the top-level Makefile (`include selftests/fuzz/fuzz.mk`):
#   make fuzz            FUZZ_SECONDS (default 600) of fuzzing
#   make fuzz-check      a bounded run (30 s) for `make check`
# The corpus starts from every .adn file of the tree; crashes land in
# $(BUILD)/fuzz/ as crash-* files.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 600
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_BIN := $(FUZZ_DIR)/fuzz_adnc
FUZZ_FLAGS := -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -Icompiler

$(FUZZ_BIN): selftests/fuzz/fuzz_adnc.c $(filter-out compiler/main.c,$(COMPILER_SRC)) $(wildcard compiler/*.h)
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_FLAGS) selftests/fuzz/fuzz_adnc.c $(filter-out compiler/main.c,$(COMPILER_SRC)) $(LIBBPF_LIBS) -o $@

$(FUZZ_DIR)/corpus/.seeded:
	@mkdir -p $(FUZZ_DIR)/corpus
	@for f in $$(find examples elements selftests -name '*.adn'); do \
		cp "$$f" "$(FUZZ_DIR)/corpus/$$(echo $$f | tr / _)"; done
	@touch $@

.PHONY: fuzz fuzz-check
fuzz: $(FUZZ_BIN) $(FUZZ_DIR)/corpus/.seeded
	cd $(FUZZ_DIR) && ./fuzz_adnc -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -max_len=8192 corpus

fuzz-check: $(FUZZ_BIN) $(FUZZ_DIR)/corpus/.seeded
	cd $(FUZZ_DIR) && ./fuzz_adnc -max_total_time=30 -timeout=10 -rss_limit_mb=2048 -max_len=8192 corpus
