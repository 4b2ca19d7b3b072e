#!/bin/sh
# Install the Debian packages peftbench needs, only those missing.
# Idempotent: prints nothing and exits 0 when everything is present.
# Not root and something missing: one line saying what to run, exit 1.
set -eu

PKGS="libopenblas-dev libopenblas-openmp-dev libyaml-dev libcjson-dev libpcre2-dev check \
gnuplot-nox wordnet-base pkg-config gcc make libdnnl-dev"

# --html: only what `make test-html` needs (headless Chromium and python3 for the
# screenshot check in tests/html/browser_test.sh); never installed for the normal build.
if [ "${1:-}" = "--html" ]; then
    PKGS="chromium python3"
fi

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "peftbench: missing packages:$missing -- run: sudo scripts/install-deps.sh" >&2
    exit 1
fi
echo "peftbench: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
