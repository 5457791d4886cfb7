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
# Query the history just recorded (README "Query grant history"): read-only, Query and GetItem. --at makes the ages
# ("active for") those at the sweep time; ids are typed as the tables print them, or shorter (8 characters or more).
KEY01=arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-010000000001
KEY03=arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-030000000001
query() { local rc=0; echo "\$ grantwatch $*"; GRANTWATCH_TABLE="$TABLE" bin/grantwatch "$@" || rc=$?; echo; return "$rc"; }
echo "== querying the recorded history (GRANTWATCH_TABLE=$TABLE)"
query grants --kind secondary --state active --at "$AT"
query grants --key "$KEY01" --active-at 2024-05-30T10:30:00Z --at "$AT"
query grants --key "$KEY03" --active-at 2024-05-31T18:00:01Z --at "$AT"
query history 0102381c786c --at "$AT"
query history 0202be99 --at "$AT"
query keys --at "$AT"
query keys -o csv
qstatus=0
query history ffff0000 || qstatus=$?
[ "$qstatus" -eq 3 ] || { echo "demo: history of an unknown grant exited $qstatus; want 3 (not found)" >&2; exit 1; }
echo "(exit status $qstatus: not found)"

# ---- Alerts delivered through moto's SNS to a local HTTP subscriber, as a person receives them ----
SUB_PORTFILE=$(mktemp)
SUB_OUT=$(mktemp)
python3 deploy/scripts/demo_subscriber.py "$SUB_PORTFILE" "$SUB_OUT" &
SUB_PID=$!
trap 'kill "$SUB_PID" 2>/dev/null || true; wait "$SUB_PID" 2>/dev/null || true; kill "$MOTO_PID" 2>/dev/null || true;
  wait "$MOTO_PID" 2>/dev/null || true; rm -f "$LOG" "$SUB_PORTFILE" "$SUB_OUT"' EXIT
for _ in $(seq 1 40); do   # bounded: 20 s at most
  [ -s "$SUB_PORTFILE" ] && break
  sleep 0.5
done
[ -s "$SUB_PORTFILE" ] || { echo "demo: the HTTP subscriber did not start" >&2; exit 1; }
SUB_URL="http://127.0.0.1:$(cat "$SUB_PORTFILE")/"
# SNS speaks the query protocol: form posts answered in XML. moto routes by the credential scope of the
# Authorization header and does not check the signature.
sns() { curl -fsS "$AWS_ENDPOINT_URL/" -H "Authorization: AWS4-HMAC-SHA256 Credential=test/20240601/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=demo" "$@"; }
TOPIC=$(sns -d Action=CreateTopic -d Name=grantwatch-demo-alerts | sed -n 's:.*<TopicArn>\(.*\)</TopicArn>.*:\1:p')
[ -n "$TOPIC" ] || { echo "demo: could not create the SNS topic" >&2; exit 1; }
sns -o /dev/null -d Action=Subscribe --data-urlencode "TopicArn=$TOPIC" -d Protocol=http --data-urlencode "Endpoint=$SUB_URL"
echo "== alert delivery: topic $TOPIC, subscriber $SUB_URL (python3, PID $SUB_PID)"
echo "== replaying events/scenarios into a fresh table with --topic: ingest and the sweep claim and publish each alert"
TABLE=grantwatch-demo-alerts
bin/grantwatch table create --table "$TABLE"
bin/grantwatch replay --table "$TABLE" --topic "$TOPIC" --at "$AT" events/scenarios >/dev/null 2>&1 || true
echo "== two more sweeps at $AT (what SweepFunction does every 15 minutes): nothing is sent twice"
bin/grantwatch sweep --table "$TABLE" --topic "$TOPIC" --at "$AT" 2>/dev/null
bin/grantwatch sweep --table "$TABLE" --topic "$TOPIC" --at "$AT" 2>/dev/null
echo
echo "== what the subscriber received ($(grep -c '^| Subject:' "$SUB_OUT") messages):"
echo
cat "$SUB_OUT"
: >"$SUB_OUT"
echo "== Bedrock retires scenario 02's long-lived secondary (events/demo/): its ingest sends the resolution; a sweep adds nothing"
bin/grantwatch replay --table "$TABLE" --topic "$TOPIC" --at "$AT" events/demo >/dev/null
bin/grantwatch sweep --table "$TABLE" --topic "$TOPIC" --at "$AT" 2>/dev/null
echo
echo "== what the subscriber received ($(grep -c '^| Subject:' "$SUB_OUT") message):"
echo
cat "$SUB_OUT"
echo "== done (moto_server stopped); exit status of replay: $status (1 = the malformed samples were rejected, as intended)"
