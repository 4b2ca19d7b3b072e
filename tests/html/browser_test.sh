#!/bin/bash
# `make test-html`: report.html and history.html in headless Chromium (Debian's chromium,
# installed by scripts/install-deps.sh --html).  From generated fixtures (a 12-trial sweep with
# a failed and a diverged trial and a label "<script>alert(1)</script>", and a 1,000-trial
# sweep), written by the real binary ($PEFTBENCH_BIN report / history), it checks:
#   - no console message of any kind (errors, CSP violations: the pages log nothing);
#   - the page's own controls: the URL fragment #sort=..&desc=..&filter=..&status=.. is
#     applied by the same functions the header clicks and the filter box call; the DOM after
#     the script ran (--dump-dom) must show the expected row order and visible rows;
#   - the escaped label is text: the DOM holds exactly one <script> (the page's own);
#   - a screenshot per page that is not blank (PNG decoded by python3: not every pixel equal);
#   - sizes of report.html (12 and 1,000 trials) and the 1,000-trial render time (the page's
#     own performance.now() at the end of its script, data-render-ms), which must be < 2 s.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${PEFTBENCH_BIN:-build/peftbench}
CHROME=${CHROMIUM:-chromium}
command -v "$CHROME" >/dev/null || { echo "test-html: $CHROME not found (scripts/install-deps.sh --html)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "test-html: python3 not found" >&2; exit 1; }
T=$(mktemp -d /tmp/peftbench-html-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "test-html: FAIL: $*" >&2; exit 1; }
chrome() { # chrome OUT_PREFIX URL [extra flags]: DOM to OUT.dom, log to OUT.log
    local out=$1 url=$2; shift 2
    timeout 120 "$CHROME" --headless=new --no-sandbox --disable-gpu --no-first-run \
        --user-data-dir="$T/profile" --enable-logging=stderr --v=0 --window-size=1280,1000 \
        "$@" --dump-dom "$url" >"$out.dom" 2>"$out.log" || fail "chromium failed on $url"
    if grep -E 'CONSOLE|Uncaught' "$out.log" >/dev/null; then
        grep -E 'CONSOLE|Uncaught' "$out.log" >&2
        fail "console message on $url"
    fi
}
shot() { # shot PNG URL
    timeout 120 "$CHROME" --headless=new --no-sandbox --disable-gpu --no-first-run \
        --user-data-dir="$T/profile" --window-size=1280,1000 --screenshot="$1" "$2" \
        >/dev/null 2>&1 || fail "screenshot of $2"
    python3 - "$1" <<'PY' || fail "screenshot $1 is blank or not a PNG"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
pos, idat, w, h, bpp = 8, b"", 0, 0, 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
        bpp = {2: 3, 6: 4, 0: 1, 4: 2}[ctype] * depth // 8
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
raw, stride, prev, rows = zlib.decompress(idat), w * bpp, bytearray(w * bpp), []
for y in range(h):  # undo the PNG filters, then compare pixels
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        p = a + b - c
        pr = a if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c) else b if abs(p - b) <= abs(p - c) else c
        line[i] = (line[i] + [0, a, b, (a + b) // 2, pr][f]) & 255
    rows.append(bytes(line)); prev = line
first = rows[0][:bpp]
distinct = any(r[i:i + bpp] != first for r in rows[::7] for i in range(0, stride, bpp * 5))
print(f"  screenshot {sys.argv[1].split('/')[-1]}: {w}x{h}, {len(data)} bytes, non-blank: {distinct}")
sys.exit(0 if distinct else 1)
PY
}
rows() { # rows DOM TABLE_ID: the visible rows' first cells, in order, one a line
    python3 - "$1" "$2" <<'PY'
import sys
from html.parser import HTMLParser
class P(HTMLParser):
    def __init__(s):
        super().__init__(); s.inside = s.body = False; s.row = None; s.cell = 0; s.out = []
    def handle_starttag(s, tag, attrs):
        a = dict(attrs)
        if tag == "table": s.inside = a.get("id") == sys.argv[2]
        if s.inside and tag == "tbody": s.body = True
        if s.body and tag == "tr": s.row = None if "hidden" in a else ""; s.cell = 0
        if s.body and tag == "td": s.cell += 1
    def handle_endtag(s, tag):
        if tag == "table": s.inside = s.body = False
        if s.body and tag == "tr" and s.row is not None: s.out.append(s.row.strip())
    def handle_data(s, d):
        if s.body and s.row is not None and s.cell == 1: s.row += d
p = P(); p.feed(open(sys.argv[1]).read()); print("\n".join(p.out))
PY
}

# ---- fixtures ----------------------------------------------------------------------------------
# fixture DIR N COMMIT DATE METRIC_SHIFT: a results dir of N trials (trial 3 failed, trial 5
# diverged, method of trial 1 is the script label), trials/<id>.json, plots/ with one SVG.
fixture() {
    local d=$1 n=$2
    mkdir -p "$d/trials" "$d/plots"
    awk -v n="$n" -v commit="$3" -v date="$4" -v shift="$5" 'BEGIN {
        print "sweep,trial_id,index,status,task,method,seed,model,primary_metric,primary_value," \
              "params_trainable,params_total,trainable_pct,train_tokens_per_s,mem_peak_total," \
              "calibration_gflops,diverged_step,message,git_commit,started_at,lora.rank"
        split("lora ia3 houlsby prefix", m, " ")
        for (i = 0; i < n; i++) {
            st = i == 3 ? "failed" : i == 5 ? "diverged" : "ok"
            meth = i == 1 ? "\"<script>alert(1)</script>\"" : m[i % 4 + 1]
            val = st == "ok" ? sprintf("%.4f", 0.5 + ((i * 37) % 101) / 250.0 + shift) : ""
            msg = i == 3 ? "\"out of memory, <b>not</b> bold & \"\"quoted\"\"\"" : ""
            printf "fix,%016x,%d,%s,%s,%s,%d,builtin:tiny-bert,accuracy,%s,%d,1000000,%.3f," \
                   "%d,%d,50,%s,%s,%s,%s,%d\n", i + 4096, i, st, i % 2 ? "wn-pos" : "wn-supersense",
                   meth, i % 3 + 1, val, 1000 + i, (1000 + i) / 10000.0, 20000 - i, 30000000 + i,
                   i == 5 ? 17 : "", msg, commit, date, 2 ^ (i % 4)
        }
    }' >"$d/results.csv"
    for id in $(cut -d, -f2 "$d/results.csv" | tail -n +2 | head -20); do
        echo "{\"trial_id\": \"$id\"}" >"$d/trials/$id.json"
    done
    printf 'sweep: fix\nmodel: builtin:tiny-bert  # </pre><script>alert(2)</script>\n' >"$d/sweep.yaml"
    printf 'bars\tBars <script>alert(3)</script>\n' >"$d/plots/figures.tsv"
    printf '<?xml version="1.0"?>\n<!DOCTYPE svg>\n<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100"><rect width="120" height="60" fill="#36c"/><text x="5" y="90">a &lt; b</text></svg>\n' >"$d/plots/bars.svg"
}
fixture "$T/small" 12 c0ffee1 2025-01-01T02:00:00Z 0
fixture "$T/small2" 12 c0ffee2 2025-01-02T02:00:00Z -0.05
fixture "$T/big" 1000 c0ffee3 2025-01-03T02:00:00Z 0
for d in small small2 big; do "$BIN" report "$T/$d" >/dev/null; done

# ---- report.html ------------------------------------------------------------------------------
R="file://$T/small/report.html"
grep -c '<script>alert(1)' "$T/small/report.html" >/dev/null && fail "unescaped label in report.html"
chrome "$T/r0" "$R"
[ "$(grep -o '<script' "$T/r0.dom" | wc -l)" = 1 ] || fail "report.html: a <script> from the data is live"
grep -q '&lt;script&gt;alert(1)&lt;/script&gt;' "$T/r0.dom" || fail "report.html: the label is not shown as text"

# sorting by value, descending: ok trials by value, then the empty ones in file order
chrome "$T/r1" "$R#sort=value&desc=1"
want=$(awk -F, 'NR > 1 && $10 != "" {print $10, $2}' "$T/small/results.csv" | sort -k1,1gr -s | cut -d' ' -f2
       awk -F, 'NR > 1 && $10 == "" {print $2}' "$T/small/results.csv")
got=$(rows "$T/r1.dom" trials)
[ "$got" = "$want" ] || { echo "want:"; echo "$want"; echo "got:"; echo "$got"; fail "sort by value desc"; }
grep -q 'data-sort="value desc"' "$T/r1.dom" || fail "sort state not recorded"
echo "  report.html: sort by value (desc) through sortBy(): $(echo "$got" | wc -l) rows in the expected order"

# filtering: text and status
chrome "$T/r2" "$R#filter=wn-pos&status=ok"
want=$(awk -F, 'NR > 1 && $5 == "wn-pos" && $4 == "ok"' "$T/small/results.csv" | wc -l)
got=$(rows "$T/r2.dom" trials | wc -l)
[ "$got" = "$want" ] && [ "$got" -gt 0 ] || fail "filter wn-pos/ok: $got rows, want $want"
chrome "$T/r3" "$R#status=failed"
[ "$(rows "$T/r3.dom" trials)" = "$(printf '%016x' 4099)" ] || fail "status filter failed"
echo "  report.html: filter wn-pos + ok: $got rows; status=failed: the failed trial only"
shot "$T/report.png" "$R"

# ---- history.html -----------------------------------------------------------------------------
"$BIN" history "$T/small" "$T/small2" --out "$T/night" >/dev/null
before=$(cat "$T"/night/history/*.csv | md5sum)
"$BIN" history "$T/small2" --out "$T/night" >/dev/null
[ "$(cat "$T"/night/history/*.csv | md5sum)" = "$before" ] || fail "history replay is not idempotent"
H="file://$T/night/history.html"
chrome "$T/h1" "$H#status=regression"
want=$(awk -F, 'NR > 1 && $4 == "ok"' "$T/small2/results.csv" | wc -l) # every ok trial lost 0.05
got=$(rows "$T/h1.dom" trials | wc -l)
[ "$got" = "$want" ] || fail "history: $got regressions shown, want $want"
[ "$(grep -o '<script' "$T/h1.dom" | wc -l)" = 1 ] || fail "history.html: a <script> from the data is live"
echo "  history.html: $got regressions (metric -0.05 on every ok trial) through the verdict filter"
shot "$T/history.png" "$H"

# ---- sizes and the 1,000-trial page ------------------------------------------------------------
start=$(date +%s%N)
chrome "$T/b1" "file://$T/big/report.html#sort=value&desc=1&filter=lora"
wall=$(( ($(date +%s%N) - start) / 1000000 ))
ms=$(grep -o 'data-render-ms="[0-9]*"' "$T/b1.dom" | grep -o '[0-9]*')
[ -n "$ms" ] || fail "1,000-trial page: the script did not finish"
echo "  report.html sizes: 12 trials $(stat -c %s "$T/small/report.html") bytes, 1,000 trials $(stat -c %s "$T/big/report.html") bytes"
echo "  1,000-trial report.html: script done ${ms} ms after navigation start (sorted and filtered), chromium wall ${wall} ms including start-up"
[ "$ms" -lt 2000 ] || fail "1,000-trial page renders in $ms ms (limit 2000)"
shot "$T/big.png" "file://$T/big/report.html"

# ---- the console check catches what it should ---------------------------------------------------
printf '<!DOCTYPE html><html><body><script>console.error("boom")</script></body></html>' >"$T/bad.html"
if (chrome "$T/bad" "file://$T/bad.html") 2>/dev/null; then fail "console check missed console.error"; fi
echo "test-html: OK"
