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
LDLIBS  := -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR) -lopenblas -lyaml -lcjson -lpcre2-8 -lm -fopenmp
TEST_LDLIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt -lpthread -lm)

LIB_SRC  := $(wildcard model/*.c methods/*.c tasks/*.c) $(filter-out harness/main.c,$(wildcard harness/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/*.c)
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
$(BUILD)/harness/results.o: EXTRA = -DPEFTBENCH_GIT='"$(GIT_COMMIT)"'

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/harness/main.o $(LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(TESTBIN): $(TEST_OBJ) $(LIB) $(BIN)
	$(CC) $(ALL_CFLAGS) -o $@ $(TEST_OBJ) $(LIB) $(TEST_LDLIBS) $(LDLIBS)

check-deps:
	@scripts/install-deps.sh

# Tests run from the repository root; PEFTBENCH_BIN lets the end-to-end tests find the CLI.
test: check-deps
	@$(MAKE) --no-print-directory $(TESTBIN)
	PEFTBENCH_BIN=$(abspath $(BIN)) OMP_NUM_THREADS=2 $(TESTBIN)

test-asan: check-deps
	@$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  build-asan/run_tests
	PEFTBENCH_BIN=$(abspath build-asan/peftbench) OMP_NUM_THREADS=2 \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  CK_DEFAULT_TIMEOUT=600 build-asan/run_tests

bench: check-deps $(BIN)
	$(BIN) bench

demo: check-deps $(BIN)
	$(BIN) demo

deps:
	scripts/install-deps.sh

clean:
	rm -rf build build-asan

format:
	clang-format -i $(wildcard model/*.[ch] methods/*.[ch] tasks/*.[ch] harness/*.[ch] tests/*.[ch])

format-check:
	clang-format --dry-run --Werror $(wildcard model/*.[ch] methods/*.[ch] tasks/*.[ch] harness/*.[ch] tests/*.[ch])

-include $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(BUILD)/harness/main.d
