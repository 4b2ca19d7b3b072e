#!/bin/bash
# nightly-selftest: prove that `make nightly` catches regressions (issue 17 section 4; README
# "Nightly regression check").  Run by `make nightly-selftest`, which passes the variables below.
#
# Against the baseline ($NIGHTLY_BASELINE, the committed one unless told otherwise):
#   1. a clean `make nightly` must pass;
#   2. a clean `make nightly` with a competing busy process (`yes > /dev/null`) must pass;
#   3. each test-only fault (harness/sweep/train_fault.h), planted in $SELFTEST_METHOD's trials
#      only (compare --allow-missing judges that subset), must be flagged as a regression, and
#      for its own reason:
#        PEFTBENCH_FAULT_FREEZE=<m>          -> "metric"
#        PEFTBENCH_FAULT_SLOW_HOOK=<m>:0.3   -> "speed"
#        PEFTBENCH_FAULT_GROW_ACT=0.2        -> "memory"
# SELFTEST_FRESH=1 first runs the nightly once clean and uses that as the baseline (a baseline of
# this machine and this code: what to use while the committed one is stale).
# Exit status 0 when every check holds, 1 otherwise; logs in $SELFTEST_OUT/*.log.
set -uo pipefail

: "${MAKE:=make}" "${BUILD:=build}" "${BIN:=$BUILD/peftbench}"
: "${NIGHTLY_SWEEP:=configs/nightly.yaml}" "${NIGHTLY_BASELINE:=results/baselines/nightly.csv}"
: "${NIGHTLY_THREADS:=2}" "${NIGHTLY_TOLS:=}" "${NIGHTLY_ARGS:=}"
: "${SELFTEST_OUT:=results/nightly-selftest}" "${SELFTEST_METHOD:=lora}" "${SELFTEST_FRESH:=0}"
: "${SELFTEST_SLOW:=0.3}" "${SELFTEST_GROW:=0.2}"

rm -rf "$SELFTEST_OUT"
mkdir -p "$SELFTEST_OUT" || exit 1
failures=0
t_start=$(date +%s)
busy_pid=

stop_busy() {
    if [ -n "$busy_pid" ]; then
        kill "$busy_pid" 2>/dev/null
        wait "$busy_pid" 2>/dev/null
        busy_pid=
    fi
}
trap stop_busy EXIT

# make nightly into $SELFTEST_OUT/<name>, log in <name>.log; extra NIGHTLY_ARGS / NIGHTLY_TOLS.
# Prints "pass", "regression" (compare's verdict) or "error" (make failed otherwise: make
# exits 2 for any failed recipe, so compare's own status is read from its RESULT line).
nightly() {
    local name=$1 args=$2 tols=$3
    if "$MAKE" --no-print-directory nightly BUILD="$BUILD" NIGHTLY_SWEEP="$NIGHTLY_SWEEP" \
        NIGHTLY_BASELINE="$baseline" NIGHTLY_OUT="$SELFTEST_OUT/$name" \
        NIGHTLY_THREADS="$NIGHTLY_THREADS" NIGHTLY_ARGS="$NIGHTLY_ARGS $args" \
        NIGHTLY_TOLS="$NIGHTLY_TOLS $tols" >>"$SELFTEST_OUT/$name.log" 2>&1; then
        echo pass
    elif grep -q "^RESULT: REGRESSION" "$SELFTEST_OUT/$name.log"; then
        echo regression
    else
        echo error
    fi
}

verdict() { # name, wanted status, what, got status
    local name=$1 want=$2 what=$3 got=$4
    if [ "$got" = "$want" ]; then
        echo "nightly-selftest: PASS $name: $what"
    else
        echo "nightly-selftest: FAIL $name: $what (got: $got; see $SELFTEST_OUT/$name.log)" >&2
        tail -n 40 "$SELFTEST_OUT/$name.log" >&2
        failures=$((failures + 1))
    fi
}

baseline=$NIGHTLY_BASELINE
if [ "$SELFTEST_FRESH" = 1 ]; then
    baseline=$SELFTEST_OUT/baseline.csv
    "$MAKE" --no-print-directory nightly-run BUILD="$BUILD" NIGHTLY_SWEEP="$NIGHTLY_SWEEP" \
        NIGHTLY_OUT="$SELFTEST_OUT/fresh" NIGHTLY_THREADS="$NIGHTLY_THREADS" \
        NIGHTLY_ARGS="$NIGHTLY_ARGS" >"$SELFTEST_OUT/fresh.log" 2>&1 &&
        cp "$SELFTEST_OUT"/fresh/bin-*/results.csv "$baseline" || {
        echo "nightly-selftest: the fresh baseline run failed (see $SELFTEST_OUT/fresh.log)" >&2
        exit 1
    }
    echo "nightly-selftest: fresh baseline $baseline ($(($(date +%s) - t_start)) s)"
fi
[ -f "$baseline" ] || { echo "nightly-selftest: no baseline $baseline" >&2; exit 2; }

# The faulted method's trials, by plan index (the baseline's `index` column).
indexes=$(awk -F, -v m="$SELFTEST_METHOD" 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    $col["method"] == m { print $col["index"] }' "$baseline")
[ -n "$indexes" ] || { echo "nightly-selftest: no $SELFTEST_METHOD trials in $baseline" >&2; exit 2; }

# A fault on the method's trials only: all but the last run by `run`, the last by make nightly
# (which then compares every trial of the directory with the baseline).
fault() {
    local name=$1 assign=$2 reason=$3 last rc dir
    dir="$SELFTEST_OUT/$name/bin-$(cksum <"$BIN" | cut -d' ' -f1)"
    last=$(echo "$indexes" | tail -n 1)
    for i in $(echo "$indexes" | head -n -1); do
        env "$assign" "$BIN" run "$NIGHTLY_SWEEP" --out "$dir" --threads "$NIGHTLY_THREADS" \
            $NIGHTLY_ARGS --trial "$i" --quiet >>"$SELFTEST_OUT/$name.log" 2>&1
    done
    rc=$(export "${assign?}" && nightly "$name" "--trial $last" "--allow-missing")
    if [ "$rc" = regression ] && ! grep -E "REGRESSION: .*\b$reason\b" "$SELFTEST_OUT/$name.log" >/dev/null; then
        rc="regression, but not for $reason"
    fi
    verdict "$name" regression "$assign flagged as a $reason regression" "$rc"
}

verdict clean pass "a clean run passes" "$(nightly clean "" "")"

yes >/dev/null &
busy_pid=$!
rc=$(nightly clean-loaded "" "")
stop_busy
verdict clean-loaded pass "a clean run with a competing busy process passes" "$rc"

fault freeze "PEFTBENCH_FAULT_FREEZE=$SELFTEST_METHOD" metric
fault slow-hook "PEFTBENCH_FAULT_SLOW_HOOK=$SELFTEST_METHOD:$SELFTEST_SLOW" speed
fault grow-act "PEFTBENCH_FAULT_GROW_ACT=$SELFTEST_GROW" memory

if [ "$failures" = 0 ]; then
    echo "nightly-selftest: all 5 checks passed in $(($(date +%s) - t_start)) s"
else
    echo "nightly-selftest: FAILED: $failures of 5 checks in $(($(date +%s) - t_start)) s" >&2
fi
[ "$failures" = 0 ]
