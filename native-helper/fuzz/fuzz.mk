# libFuzzer targets (fuzz/fuzz_*.c), included by the Makefile. Built with
# clang: the helper's sources with ASan + UBSan and coverage, each target
# linked with libFuzzer's main. `make fuzz-build` puts them in $(B)/fuzz/;
# `make fuzz-smoke` runs each one briefly on its seed corpus (fuzz/corpus/).
FUZZ_CC ?= clang
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# Our code is built with the project's warnings; clang's extra ones on other
# files' code must not stop a fuzz build, so -Werror is kept for fuzz/ only.
FUZZ_CFLAGS := -std=gnu11 -O1 -g -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter \
               -Wno-unknown-warning-option $(shell pkg-config --cflags $(PKGS)) $(FUZZ_SAN)
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
FUZZ_BIN := $(patsubst fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRC))
FUZZ_OBJ := $(patsubst src/%.c,$(B)/fuzz/obj/%.o,$(LIB_SRC))
# Seconds each target runs in fuzz-smoke.
FUZZ_SMOKE_SECONDS ?= 15

.PHONY: fuzz-build fuzz-smoke
fuzz-build: $(FUZZ_BIN)

$(B)/fuzz/obj/%.o: src/%.c $(wildcard src/*.h) | $(B)/fuzz/obj
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
$(B)/fuzz/libberth-fuzz.a: $(FUZZ_OBJ)
	ar rcs $@ $^
$(B)/fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz-util.h $(B)/fuzz/libberth-fuzz.a | $(B)/fuzz/obj
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Werror -fsanitize=fuzzer -Isrc -o $@ $< $(B)/fuzz/libberth-fuzz.a $(LDLIBS)
$(B)/fuzz/obj:
	mkdir -p $@

# Each target on a copy of its corpus (new inputs stay out of the repo), for
# FUZZ_SMOKE_SECONDS; stops at the first crash, leak or timeout with a non-zero
# status. Prints "fuzz-smoke: ok NAME" or "fuzz-smoke: FAIL NAME" per target.
fuzz-smoke: $(FUZZ_BIN)
	@fail=0; for t in $^; do n=$${t##*/fuzz_}; \
	  w=$$(mktemp -d /tmp/berth-fuzz-smoke.XXXXXX); mkdir -p $$w/corpus; \
	  cp -r fuzz/corpus/$$n/. $$w/corpus/ 2>/dev/null; \
	  dict=""; [ -f fuzz/$$n.dict ] && dict="-dict=fuzz/$$n.dict"; \
	  if $$t $$w/corpus $$dict -max_total_time=$(FUZZ_SMOKE_SECONDS) -timeout=20 -rss_limit_mb=2048 \
	       -artifact_prefix=$$w/ -print_final_stats=1 > $$w/log 2>&1; then \
	    echo "fuzz-smoke: ok $$n ($$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' $$w/log | grep -o '[0-9]*$$') runs)"; rm -rf $$w; \
	  else echo "fuzz-smoke: FAIL $$n (log and reproducer in $$w)"; tail -n 40 $$w/log; fail=1; fi; \
	done; exit $$fail
