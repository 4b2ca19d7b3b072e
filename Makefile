# peftbench build.  `make` builds build/peftbench and build/libpeftbench.a;
# `make test` / `make test-asan` run the Check suites; `make bench` the engine benchmark.

CC       ?= gcc
BUILD    ?= build
OPT      ?= -O2
BLAS_DIR := /usr/lib/x86_64-linux-gnu/openblas-openmp
BLAS_INC := /usr/include/x86_64-linux-gnu/openblas-openmp

WARN   := -Wall -Wextra -Wpedantic -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
          -Wcast-qual -Wpointer-arith -Wdouble-promotion
# -march is deliberately not native: results must not depend on the build host's ISA.
# -mfma/-mavx2 are NOT set either; OpenBLAS dispatches its kernels at run time.
CFLAGS_BASE := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -g $(WARN) -fopenmp \
               -I. -I$(BLAS_INC) -MMD -MP
CFLAGS  ?= $(OPT)
ALL_CFLAGS = $(CFLAGS_BASE) $(CFLAGS) $(SAN) $(EXTRA)
GIT_COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDLIBS  := -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR) -lopenblas -ldnnl -lyaml -lcjson -lpcre2-8 -lm -fopenmp
TEST_LDLIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt -lpthread -lm)

# Every .c under the rooms is library code except the CLI's main().
ROOMS    := base model methods tasks harness
LIB_SRC  := $(filter-out harness/cli/main.c,$(sort $(shell find $(ROOMS) -name '*.c')))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(sort $(shell find tests -name '*.c' -not -path 'tests/fuzz/*'))
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
BIN      := $(BUILD)/peftbench
LIB      := $(BUILD)/libpeftbench.a
TESTBIN  := $(BUILD)/run_tests

.PHONY: all test test-asan bench bench-compare demo deps check-deps clean format format-check

all: $(BIN) $(LIB)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# The commit goes into every trial record (environment.git_commit).
$(BUILD)/harness/sweep/results.o: EXTRA = -DPEFTBENCH_GIT='"$(GIT_COMMIT)"'

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/harness/cli/main.o $(LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(TESTBIN): $(TEST_OBJ) $(LIB) $(BIN)
	$(CC) $(ALL_CFLAGS) -o $@ $(TEST_OBJ) $(LIB) $(TEST_LDLIBS) $(LDLIBS)

check-deps:
	@scripts/install-deps.sh

# Tests run from the repository root; PEFTBENCH_BIN lets the end-to-end tests find the CLI.
test: check-deps
	@$(MAKE) --no-print-directory $(TESTBIN)
	PEFTBENCH_BIN=$(abspath $(BIN)) OMP_NUM_THREADS=2 CK_DEFAULT_TIMEOUT=120 $(TESTBIN)

test-asan: check-deps
	@$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  build-asan/run_tests
	PEFTBENCH_BIN=$(abspath build-asan/peftbench) OMP_NUM_THREADS=2 \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  CK_DEFAULT_TIMEOUT=600 CK_TIMEOUT_MULTIPLIER=4 build-asan/run_tests

# `make bench`: the benchmark table (README, "Engine benchmark"); `make bench-compare` adds the
# PyTorch reference run in the same invocation (needs Debian's python3-torch).
bench: check-deps $(BIN)
	$(BIN) bench

bench-compare: check-deps $(BIN)
	$(BIN) bench --torch

demo: check-deps $(BIN)
	$(BIN) demo

deps:
	scripts/install-deps.sh

clean:
	rm -rf build build-asan

format:
	clang-format -i $(shell find $(ROOMS) tests -name '*.[ch]')

format-check:
	clang-format --dry-run --Werror $(shell find $(ROOMS) tests -name '*.[ch]')

-include $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(BUILD)/harness/cli/main.d

# ---- fuzzing ------------------------------------------------------------------------------------
# `make fuzz FUZZ_SECONDS=N` builds one libFuzzer binary per tests/fuzz/fuzz_<target>.c against
# the library compiled by clang with ASan+UBSan and coverage into build-fuzz/ (main.c left out),
# then runs each target for N seconds, one after the other, starting from its seed corpus
# tests/fuzz/corpus/<target>/ (read only; new inputs go to build-fuzz/corpus/<target>/).
# An input slower than 1 s, a crash, a leak, a sanitizer report or a harness oracle failure
# stops the run with the reproducer in build-fuzz/artifacts/<target>/ and a non-zero status;
# replay it with `build-fuzz/fuzz_<target> FILE`.  Logs: build-fuzz/logs/<target>.log.
FUZZ_CC      ?= clang
FUZZ_BUILD   := build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# Library code gets the strict flags minus two clang-only warnings: NAN is a float in glibc, so
# clang's -Wdouble-promotion flags `return NAN;` in double functions, and -O1 cannot honour every
# `#pragma omp simd` (-Wpass-failed).
FUZZ_LIBFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -g -O1 $(WARN) \
                 -Wno-error=double-promotion -Wno-pass-failed \
                 -fopenmp -I. -I$(BLAS_INC) -MMD -MP $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

.PHONY: fuzz fuzz-build

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_LIBFLAGS) -c $< -o $@

$(FUZZ_BUILD)/libpeftbench.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The harnesses themselves get the strict flags, -Werror included.
$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.h $(FUZZ_BUILD)/libpeftbench.a
	$(FUZZ_CC) -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -g -O1 $(WARN) -I. \
	  -I$(BLAS_INC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $< $(FUZZ_BUILD)/libpeftbench.a $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: check-deps fuzz-build
	@mkdir -p $(FUZZ_BUILD)/logs; status=0; \
	for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/artifacts/$$t tests/fuzz/corpus/$$t; \
	  echo "fuzz $$t: $(FUZZ_SECONDS) s"; \
	  if OMP_NUM_THREADS=1 ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	     $(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=1 -rss_limit_mb=2048 \
	       -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$t/ \
	       $(FUZZ_BUILD)/corpus/$$t tests/fuzz/corpus/$$t > $(FUZZ_BUILD)/logs/$$t.log 2>&1; then \
	    grep -E '^#[0-9]+' $(FUZZ_BUILD)/logs/$$t.log | tail -n 1; \
	    grep -E '^stat::number_of_executed_units' $(FUZZ_BUILD)/logs/$$t.log; \
	  else \
	    status=1; echo "fuzz $$t FAILED: see $(FUZZ_BUILD)/logs/$$t.log"; \
	    grep -E 'ERROR|SUMMARY|fuzz oracle|Test unit written' $(FUZZ_BUILD)/logs/$$t.log | head -n 8; \
	  fi; \
	done; exit $$status

-include $(FUZZ_LIB_OBJ:.o=.d)

# ---- HTML pages in a real browser ----------------------------------------------------------------
# `make test-html`: report.html and history.html from generated fixtures (one of 1,000 trials) in
# headless Chromium (tests/html/browser_test.sh): no console error, the page's own sort and
# filter, a non-blank screenshot, page sizes and render times in the log.  Installs Debian's
# chromium (scripts/install-deps.sh --html) when missing.
.PHONY: test-html

test-html: check-deps
	@scripts/install-deps.sh --html
	@$(MAKE) --no-print-directory $(BIN)
	PEFTBENCH_BIN=$(abspath $(BIN)) bash tests/html/browser_test.sh

# ---- Slurm ---------------------------------------------------------------------------------------
# `make test-slurm`: `peftbench slurm` against real slurmctld/slurmd/munged started on this machine
# (tests/slurm_integration.sh installs the Debian packages when missing and it runs as root;
# prints "SKIP: ..." and succeeds where Slurm cannot be installed or started).
.PHONY: test-slurm

test-slurm: check-deps
	@$(MAKE) --no-print-directory $(BIN)
	PEFTBENCH_BIN=$(abspath $(BIN)) bash tests/slurm_integration.sh

# ---- nightly regression -------------------------------------------------------------------------
# `make nightly` runs configs/nightly.yaml into results/nightly/bin-<checksum of the peftbench
# binary> (fixed thread count: with a fixed seed the metrics then repeat bit for bit on one
# machine) and compares it with the committed baseline through `peftbench compare`: exit status 1
# on a regression, 2 on unusable input.  It resumes like `run`: an interrupted nightly continues
# where it stopped, and failed trials are run again; a rebuilt binary (any code change, committed
# or not) gets a new directory, so results of other code are never compared.  Start over with
# `rm -rf results/nightly`.  A trial that fails makes `run`, and so the nightly, exit 1 before the
# comparison, with the failures listed.
# Tolerances: metrics, parameter counts and memory at compare's defaults; throughput per trial at
# 35% (a 7-second trial's throughput swings +-20% on a shared 2-core machine: measured) and over
# the whole sweep (geometric mean) at compare's 10%.  Where baseline and run both have
# throughput_ratio (the trial's step against a bare reference step in the same process), speed is
# judged on it instead, also at 35%: measured on a machine at load 4-5 (README "Nightly
# regression"), clean runs' ratios moved by x0.71 to x1.28.  Override with NIGHTLY_TOLS='...';
# NIGHTLY_ARGS='model=DIR' passes overrides to the run (they change the trial ids: a baseline made
# with an override only matches runs with the same override).
# After the comparison, `peftbench history` appends the run to $(NIGHTLY_OUT)/history/ and
# rewrites $(NIGHTLY_OUT)/history.html; the exit status stays compare's (a history that cannot be
# written is a warning).
# `make nightly-baseline` runs the same sweep and copies its results.csv to the baseline; commit it
# together with any change to configs/nightly.yaml (trial ids follow the config).
NIGHTLY_SWEEP    ?= configs/nightly.yaml
NIGHTLY_OUT      ?= results/nightly
NIGHTLY_BASELINE ?= results/baselines/nightly.csv
NIGHTLY_THREADS  ?= 2
NIGHTLY_TOLS     ?= --speed-tol 0.35 --ratio-tol 0.35
NIGHTLY_ARGS     ?=
# expanded when a recipe runs, after $(BIN) is built
NIGHTLY_DIR       = $(NIGHTLY_OUT)/bin-$(shell cksum < $(BIN) | cut -d' ' -f1)

.PHONY: nightly nightly-baseline nightly-run

nightly-run: check-deps $(BIN)
	@echo "make nightly: running $(NIGHTLY_SWEEP) into $(NIGHTLY_DIR) (resumes: trials recorded there by this binary are kept)"
	$(BIN) run $(NIGHTLY_SWEEP) --out $(NIGHTLY_DIR) --threads $(NIGHTLY_THREADS) $(NIGHTLY_ARGS)

nightly: $(BIN)
	@test -f $(NIGHTLY_BASELINE) || { echo "make nightly: no baseline $(NIGHTLY_BASELINE); create it with 'make nightly-baseline' and commit it" >&2; exit 2; }
	@$(MAKE) --no-print-directory nightly-run
	@status=0; $(BIN) compare $(NIGHTLY_BASELINE) $(NIGHTLY_DIR)/results.csv $(NIGHTLY_TOLS) || status=$$?; \
	  $(BIN) history $(NIGHTLY_DIR) --out $(NIGHTLY_OUT) $(NIGHTLY_TOLS) || \
	    echo "make nightly: warning: $(NIGHTLY_OUT)/history not updated" >&2; \
	  exit $$status

nightly-baseline: nightly-run
	@mkdir -p $(dir $(NIGHTLY_BASELINE))
	cp $(NIGHTLY_DIR)/results.csv $(NIGHTLY_BASELINE)
	@echo "make nightly-baseline: wrote $(NIGHTLY_BASELINE); commit it"

# `make nightly-selftest` proves that `make nightly` catches regressions (scripts/nightly-selftest.sh):
# two clean runs against $(NIGHTLY_BASELINE) (one beside a competing `yes > /dev/null`) must
# pass, and each test-only fault (PEFTBENCH_FAULT_FREEZE / SLOW_HOOK / GROW_ACT, planted in
# $(SELFTEST_METHOD)'s trials) must be flagged for its own reason.  SELFTEST_FRESH=1 first makes
# a baseline of this machine and code in $(SELFTEST_OUT) (one more clean run) and judges against it.
SELFTEST_OUT    ?= results/nightly-selftest
SELFTEST_METHOD ?= lora
SELFTEST_FRESH  ?= 0
.PHONY: nightly-selftest
nightly-selftest: $(BIN)
	MAKE="$(MAKE)" BUILD="$(BUILD)" BIN="$(BIN)" NIGHTLY_SWEEP="$(NIGHTLY_SWEEP)" \
	  NIGHTLY_BASELINE="$(NIGHTLY_BASELINE)" NIGHTLY_THREADS="$(NIGHTLY_THREADS)" \
	  NIGHTLY_TOLS="$(NIGHTLY_TOLS)" NIGHTLY_ARGS="$(NIGHTLY_ARGS)" SELFTEST_OUT="$(SELFTEST_OUT)" \
	  SELFTEST_METHOD="$(SELFTEST_METHOD)" SELFTEST_FRESH="$(SELFTEST_FRESH)" \
	  scripts/nightly-selftest.sh
