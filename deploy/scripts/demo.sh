#!/usr/bin/env bash
# make demo: start moto_server on loopback, create the table as template.yaml does, replay events/scenarios through
# the ingest path on DynamoDB, sweep, print grants and alerts, and stop what it started.
set -euo pipefail
cd "$(dirname "$0")/../.."

for tool in go moto_server curl python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "demo: '$tool' is not on PATH; it is required (see README: Requirements)" >&2; exit 1; }
done

AT=${AT:-2024-06-01T00:00:00Z}   # every scenario in events/scenarios is written against this sweep time
TABLE=grantwatch-demo
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
LOG=$(mktemp)

echo "== building bin/grantwatch"
go build -o bin/grantwatch ./cmd/grantwatch

echo "== starting moto_server on 127.0.0.1:$PORT"
moto_server -H 127.0.0.1 -p "$PORT" >"$LOG" 2>&1 &
MOTO_PID=$!
trap 'kill "$MOTO_PID" 2>/dev/null || true; wait "$MOTO_PID" 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 1 120); do   # bounded: 60 s at most
  curl -fsS -o /dev/null "http://127.0.0.1:$PORT/moto-api/" 2>/dev/null && break
  kill -0 "$MOTO_PID" 2>/dev/null || { echo "demo: moto_server exited:" >&2; cat "$LOG" >&2; exit 1; }
  sleep 0.5
done
curl -fsS -o /dev/null "http://127.0.0.1:$PORT/moto-api/" || { echo "demo: moto_server did not become ready" >&2; exit 1; }

export AWS_ENDPOINT_URL="http://127.0.0.1:$PORT" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
  AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1

echo "== creating table $TABLE (the schema template.yaml deploys)"
bin/grantwatch table create --table "$TABLE"

echo "== replaying events/scenarios into DynamoDB, then one sweep at $AT"
echo
status=0
bin/grantwatch replay --table "$TABLE" --at "$AT" events/scenarios || status=$?
echo
# Scenario 09-malformed holds broken input on purpose: exit 1 (something rejected, the rest processed) is expected.
if [ "$status" -ne 0 ] && [ "$status" -ne 1 ]; then
  echo "demo: replay failed with exit status $status" >&2
  exit "$status"
fi
echo "== done (moto_server stopped); exit status of replay: $status (1 = the malformed samples were rejected, as intended)"
