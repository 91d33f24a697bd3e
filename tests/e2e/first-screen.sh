#!/usr/bin/env bash
# First-screen timing of the web UI over the 100k-client demo data set (see first-screen.mjs).
# Not run by CI. Builds nothing: give it a built binary, a release one for figures to record.
#
#   PARLEY_BIN=target/release/parley tests/e2e/first-screen.sh
#   PARLEY_BIN=… MESSAGES=200000 RUNS=3 PARLEY_DATA=/tmp/demo-data tests/e2e/first-screen.sh
#
# Needs: node ≥ 18, npm, chromium (apt-get install chromium). Browsers are never downloaded.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[ -n "${PARLEY_BIN:-}" ] || { echo "first-screen: set PARLEY_BIN to a built parley binary" >&2; exit 2; }
case "$PARLEY_BIN" in /*) ;; *) PARLEY_BIN="$PWD/$PARLEY_BIN" ;; esac
[ -x "$PARLEY_BIN" ] || { echo "first-screen: no executable at $PARLEY_BIN" >&2; exit 2; }
export PARLEY_BIN CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] || { echo "first-screen: $CHROMIUM not found (apt-get install -y chromium)" >&2; exit 2; }
if [ ! -d "$HERE/node_modules/playwright-core" ]; then
  (cd "$HERE" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund >/dev/null)
fi
exec node "$HERE/first-screen.mjs"
