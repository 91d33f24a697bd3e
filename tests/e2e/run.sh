#!/usr/bin/env bash
# Browser tests for the Parley web UI: for each test file (chats.test.mjs, widget.test.mjs,
# xss.test.mjs, …) starts a real server on a free port with a temporary data directory, one API
# channel and one website-widget channel, adds two managers, runs the file in headless Chromium
# (Debian's /usr/bin/chromium through playwright-core) and stops the server; exits non-zero when
# any file failed. The widget test serves its visitor page from another origin ($PARLEY_SITE).
#
#   tests/e2e/run.sh                          # every *.test.mjs, with target/debug/parley
#   tests/e2e/run.sh tests/e2e/xss.test.mjs   # one file
#   PARLEY_BIN=/path/to/parley tests/e2e/run.sh
#
# Needs: node ≥ 18, npm, chromium (apt-get install chromium). Browsers are never downloaded.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BIN="${PARLEY_BIN:-$ROOT/target/debug/parley}"
case "$BIN" in /*) ;; *) BIN="$ROOT/$BIN" ;; esac
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

[ -x "$BIN" ] || { echo "e2e: parley binary not found at $BIN (build it or set PARLEY_BIN)" >&2; exit 2; }
[ -x "$CHROMIUM" ] || { echo "e2e: $CHROMIUM not found (apt-get install -y chromium)" >&2; exit 2; }
command -v node >/dev/null || { echo "e2e: node is required" >&2; exit 2; }

if [ ! -d "$HERE/node_modules/playwright-core" ]; then
  (cd "$HERE" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund >/dev/null)
fi

TMP=""
SERVER_PID=""
stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
  if [ -n "$TMP" ]; then rm -rf "$TMP"; fi
  TMP=""
}
trap stop_server EXIT

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
TOKEN="e2e-crm-token-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
SLOW_TOKEN="e2e-slow-token-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
SLOW_SECRET="e2e-slow-secret-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
PASSWORD="e2e-pass-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"

# A fresh server (data directory, port, the two managers) for one test file, so that files
# do not see each other's data.
start_server() {
  TMP="$(mktemp -d "${TMPDIR:-/tmp}/parley-e2e.XXXXXX")"
  PORT="$(free_port)"
  # The widget test serves its visitor page here: another origin, allowed by the widget channel.
  SITE_PORT="$(free_port)"
  while [ "$SITE_PORT" = "$PORT" ]; do SITE_PORT="$(free_port)"; done
  SITE="http://127.0.0.1:$SITE_PORT"
  # The delivery test answers the "crm-slow" channel's callbacks here.
  CALLBACK_PORT="$(free_port)"
  while [ "$CALLBACK_PORT" = "$PORT" ] || [ "$CALLBACK_PORT" = "$SITE_PORT" ]; do CALLBACK_PORT="$(free_port)"; done
  # A test file's own fake endpoint (the assistant test's OpenAI-compatible server) listens here.
  LLM_PORT="$(free_port)"
  while [ "$LLM_PORT" = "$PORT" ] || [ "$LLM_PORT" = "$SITE_PORT" ] || [ "$LLM_PORT" = "$CALLBACK_PORT" ]; do LLM_PORT="$(free_port)"; done
  DATA="$TMP/data"
  CONFIG="$TMP/parley.toml"
  mkdir -p "$DATA"
  cat >"$CONFIG" <<EOF
[log]
level = "warn"

[[channels]]
id = "crm"
kind = "api"
name = "CRM bridge"
token = "$TOKEN"

# Replies go to a callback the delivery test controls (it answers 503, then 400).
[[channels]]
id = "crm-slow"
kind = "api"
name = "Slow CRM"
token = "$SLOW_TOKEN"
callback_url = "http://127.0.0.1:$CALLBACK_PORT/hook"
secret = "$SLOW_SECRET"

# A second channel with the first one's name: the UI must tell them apart (kind and id).
[[channels]]
id = "shop"
kind = "api"
name = "CRM bridge"
token = "$TOKEN"

[[channels]]
id = "site"
kind = "widget"
name = "Website chat"
allowed_origins = ["$SITE"]
title = "Ask the shop"
greeting = "Hello! How can we help?"

[[templates]]
name = "Greeting"
text = "Hello, {client.name}! How can we help?"
EOF
  # A test file may add to the config next to it (x.test.mjs -> x.config.toml), e.g. an
  # [[assistants]] entry on its own fake endpoint; the other files keep the plain config.
  local extra="${file%.test.mjs}.config.toml"
  if [ -f "$extra" ]; then sed "s/@LLM_PORT@/$LLM_PORT/g" "$extra" >>"$CONFIG"; fi

  echo "$PASSWORD" | "$BIN" user add alice --name "Alice Admin" --role admin --password-stdin --data-dir "$DATA" --config "$CONFIG" >/dev/null
  echo "$PASSWORD" | "$BIN" user add bob --name "Bob Builder" --role manager --password-stdin --data-dir "$DATA" --config "$CONFIG" >/dev/null

  "$BIN" serve --data-dir "$DATA" --config "$CONFIG" --listen "127.0.0.1:$PORT" --http-listen off >"$TMP/server.log" 2>&1 &
  SERVER_PID=$!

  URL="https://127.0.0.1:$PORT"
  for _ in $(seq 1 150); do
    if curl -skf "$URL/healthz" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "e2e: the server exited early:" >&2
      cat "$TMP/server.log" >&2
      exit 1
    fi
    sleep 0.2
  done
  curl -skf "$URL/healthz" >/dev/null || { echo "e2e: the server did not become healthy" >&2; cat "$TMP/server.log" >&2; exit 1; }
}

mkdir -p "$HERE/screenshots"
# Every *.test.mjs here, or the files named on the command line.
if [ "$#" -gt 0 ]; then FILES=("$@"); else FILES=("$HERE"/*.test.mjs); fi
status=0
for file in "${FILES[@]}"; do
  start_server
  echo "e2e: $(basename "$file")"
  file_status=0
  PARLEY_URL="$URL" PARLEY_CHANNEL_TOKEN="$TOKEN" PARLEY_SITE="$SITE" \
    PARLEY_SLOW_TOKEN="$SLOW_TOKEN" PARLEY_CALLBACK_PORT="$CALLBACK_PORT" PARLEY_LLM_PORT="$LLM_PORT" \
    PARLEY_ADMIN_LOGIN=alice PARLEY_ADMIN_NAME="Alice Admin" \
    PARLEY_MANAGER_LOGIN=bob PARLEY_MANAGER_NAME="Bob Builder" \
    PARLEY_PASSWORD="$PASSWORD" CHROMIUM="$CHROMIUM" \
    node --test --test-concurrency=1 "$file" || file_status=$?
  if [ "$file_status" -ne 0 ]; then
    status=$file_status
    echo "--- server log (last 40 lines) ---" >&2
    tail -n 40 "$TMP/server.log" >&2 || true
  fi
  stop_server
done
exit "$status"
