#!/usr/bin/env bash
# Bounded load test of `newssearch serve` on loopback with wrk (see docs/benchmarks.md).
#
# Usage: benchmarks/load.sh [INDEX_DIR]
#   INDEX_DIR  index to serve (else $LOAD_INDEX). Without either, the bundled demo sample
#              (data/sample) is ingested with `newssearch demo --no-serve` into
#              ${TMPDIR:-/tmp}/newssearch-load-index (kept, so a rerun ingests nothing; the
#              first run embeds ~1,500 paragraphs once, a few minutes, then they are cached in
#              the product's embedding cache).
# Environment (defaults): PORT=8765 DURATION=30s CONNECTIONS=32 THREADS=2
#   PASSES="mixed bm25 dense hybrid" (one wrk run each; "mixed" rotates the modes)
#   NEWSSEARCH=<repo>/.venv/bin/newssearch if present, else newssearch from PATH.
# Needs wrk (Debian: apt-get install wrk) and curl. Traffic goes to 127.0.0.1 only.
# Exit status: 0 only if every pass had zero non-2xx responses and zero socket errors.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
PORT="${PORT:-8765}"
DURATION="${DURATION:-30s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
PASSES="${PASSES:-mixed bm25 dense hybrid}"
if [[ -z "${NEWSSEARCH:-}" ]]; then
  if [[ -x "$REPO/.venv/bin/newssearch" ]]; then NEWSSEARCH="$REPO/.venv/bin/newssearch"
  else NEWSSEARCH="newssearch"; fi
fi
BASE="http://127.0.0.1:$PORT"

command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 2; }
command -v curl >/dev/null || { echo "curl not found" >&2; exit 2; }

INDEX="${1:-${LOAD_INDEX:-}}"
if [[ -z "$INDEX" ]]; then
  INDEX="${TMPDIR:-/tmp}/newssearch-load-index"
  echo "== ingesting the demo sample into $INDEX (only what changed)"
  "$NEWSSEARCH" demo --no-serve --index "$INDEX"
fi
[[ -d "$INDEX" ]] || { echo "no index at $INDEX" >&2; exit 2; }

if curl -fsS -o /dev/null "$BASE/health" 2>/dev/null; then
  echo "something already answers on $BASE; set PORT" >&2; exit 2
fi

LOG="$(mktemp "${TMPDIR:-/tmp}/newssearch-load-server.XXXXXX.log")"
echo "== starting: $NEWSSEARCH serve --index $INDEX --port $PORT (log: $LOG)"
"$NEWSSEARCH" serve --index "$INDEX" --host 127.0.0.1 --port "$PORT" >"$LOG" 2>&1 &
SERVER_PID=$!
stop_server() {
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID"
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$SERVER_PID" 2>/dev/null && kill -KILL "$SERVER_PID"
  fi
  wait "$SERVER_PID" 2>/dev/null || true
}
trap stop_server EXIT

for _ in $(seq 240); do
  curl -fsS -o /dev/null "$BASE/health" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "server exited:"; tail -20 "$LOG"; exit 1; }
  sleep 0.5
done
echo "== health: $(curl -fsS "$BASE/health")"

echo "== machine: $(getconf _NPROCESSORS_ONLN) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

failed=0
for pass in $PASSES; do
  # One untimed round over the queries first: query embeddings are cached in memory by the
  # server, so every pass measures the same (warm) state.
  echo
  echo "== pass: $pass ($THREADS threads, $CONNECTIONS connections, $DURATION)"
  wrk -t1 -c1 -d2s -s "$HERE/load_queries.lua" "$BASE" -- "$pass" >/dev/null
  out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
    -s "$HERE/load_queries.lua" "$BASE" -- "$pass")"
  echo "$out"
  bad="$(sed -n 's/^non-2xx responses: //p' <<<"$out")"
  sock="$(sed -n 's/^socket errors: connect \([0-9]*\), read \([0-9]*\), write \([0-9]*\), timeout \([0-9]*\)$/\1 \2 \3 \4/p' <<<"$out")"
  for n in ${bad:-1} $sock; do [[ "$n" == 0 ]] || failed=1; done
done

echo
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
if grep -q "Traceback\|unhandled error" "$LOG"; then
  echo "server log has errors (see $LOG):"; grep -m5 -A3 "unhandled error\|Traceback" "$LOG"
  failed=1
fi
[[ "$failed" == 0 ]] && echo "== OK: no errors" || echo "== FAILED: errors above"
exit "$failed"
