package replay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/alert"
	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/replay"
	"github.com/grantwatch/grantwatch/pkg/store"
	"github.com/grantwatch/grantwatch/pkg/trail"
)

// envelope builds an EventBridge "AWS API Call via CloudTrail" event in the shape of the AWS samples.
func envelope(eventID, name string, at time.Time, key, grant string, service bool, ops []string) []byte {
	identity := map[string]any{"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/RoleForModelCopy/SampleUser01",
		"accountId": "111122223333", "invokedBy": "bedrock.amazonaws.com"}
	if service {
		identity = map[string]any{"type": "AWSService", "invokedBy": "bedrock.amazonaws.com"}
	}
	rec := map[string]any{
		"eventVersion": "1.09", "userIdentity": identity, "eventTime": at.Format(time.RFC3339),
		"eventSource": "kms.amazonaws.com", "eventName": name, "awsRegion": "us-east-1",
		"sourceIPAddress": "bedrock.amazonaws.com", "userAgent": "bedrock.amazonaws.com",
		"requestID": eventID, "eventID": eventID, "readOnly": lifecycle.IsUse(name),
		"resources": []map[string]string{{"accountId": "111122223333", "type": "AWS::KMS::Key", "ARN": key}},
		"eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "111122223333", "eventCategory": "Management",
	}
	switch name {
	case lifecycle.CreateGrant:
		rec["requestParameters"] = map[string]any{"granteePrincipal": "bedrock.amazonaws.com", "retiringPrincipal": "bedrock.amazonaws.com", "keyId": key, "operations": ops}
		rec["responseElements"] = map[string]any{"grantId": grant, "keyId": key}
	case lifecycle.RetireGrant:
		rec["requestParameters"] = nil
		rec["additionalEventData"] = map[string]any{"grantId": grant}
	default:
		rec["requestParameters"] = map[string]any{"keyId": key, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
	}
	ev := map[string]any{"version": "0", "id": "eb-" + eventID, "detail-type": trail.DetailType, "source": "aws.kms",
		"account": "111122223333", "time": at.Format(time.RFC3339), "region": "us-east-1", "resources": []string{}, "detail": rec}
	b, err := json.Marshal(ev)
	if err != nil {
		panic(err)
	}
	return b
}

// workload is a realistic stream: per key one primary, then secondaries that are used and retired.
func workload(keys, secondariesPerKey int) [][]byte {
	t := time.Date(2024, 5, 30, 0, 0, 0, 0, time.UTC)
	all4 := []string{"Decrypt", "CreateGrant", "GenerateDataKey", "DescribeKey"}
	narrow := []string{"Decrypt", "GenerateDataKey", "DescribeKey"}
	var out [][]byte
	n := 0
	next := func() string { n++; return fmt.Sprintf("%08d-0000-4000-8000-000000000000", n) }
	for k := range keys {
		key := fmt.Sprintf("arn:aws:kms:us-east-1:111122223333:key/%08d-aaaa-bbbb-cccc-dddddddddddd", k)
		primary := fmt.Sprintf("%064x", k)
		out = append(out, envelope(next(), lifecycle.CreateGrant, t, key, primary, false, all4))
		for s := range secondariesPerKey {
			g := fmt.Sprintf("%032x%032x", k, s+1)
			at := t.Add(time.Duration(s+1) * time.Minute)
			out = append(out,
				envelope(next(), lifecycle.CreateGrant, at, key, g, true, narrow),
				envelope(next(), lifecycle.Decrypt, at.Add(time.Second), key, "", true, nil),
				envelope(next(), lifecycle.RetireGrant, at.Add(time.Minute), key, g, true, nil))
		}
	}
	return out
}

// BenchmarkIngest measures decode + classify + apply through the ingest use case on the in-memory store, one event
// per op. Run with -cpu 1 for a per-core figure.
func BenchmarkIngest(b *testing.B) {
	events := workload(64, 16) // 64 keys, 16 secondaries each: 3,136 events
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	var svc *app.Service
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%len(events) == 0 {
			b.StopTimer() // a fresh store per pass, so every event is new rather than a duplicate
			svc = app.New(store.NewMemory(), alert.Discard{}, lifecycle.DefaultConfig(), log, time.Now)
			b.StartTimer()
		}
		raw := events[i%len(events)]
		rec, err := trail.FromEventBridge(raw)
		if err != nil {
			b.Fatal(err)
		}
		ev, err := rec.Event()
		if err != nil {
			b.Fatal(err)
		}
		r, err := svc.Ingest(ctx, ev)
		if err != nil || r.Outcome != lifecycle.Applied {
			b.Fatalf("event %d: %s %v", i, r.Outcome, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// oneKeyFile writes, as JSON Lines, one key's primary and n secondaries that are each created, used once by the
// Bedrock service and retired, a minute apart: 1 + 3n events.
func oneKeyFile(tb testing.TB, n int) string {
	tb.Helper()
	evs := workload(1, n)
	path := filepath.Join(tb.TempDir(), fmt.Sprintf("one-key-%d.jsonl", n))
	if err := os.WriteFile(path, append(bytes.Join(evs, []byte("\n")), '\n'), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// replayFile runs what `grantwatch replay --json --at` runs on one file, in memory.
func replayFile(tb testing.TB, path string, at time.Time) replay.Report {
	tb.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := replay.New(app.New(store.NewMemory(), alert.Discard{}, lifecycle.DefaultConfig(), log, time.Now).WithSweepTime(at))
	if err := r.Paths(context.Background(), []string{path}); err != nil {
		tb.Fatal(err)
	}
	rep, err := r.Finish(context.Background(), at)
	if err != nil {
		tb.Fatal(err)
	}
	return rep
}

// TestReplayOfALongKey: one key with 3,000 created-used-retired secondaries (9,001 events) replays completely and
// reports every grant. BenchmarkReplayOneKey measures what it costs.
func TestReplayOfALongKey(t *testing.T) {
	rep := replayFile(t, oneKeyFile(t, 3000), time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC))
	if len(rep.Grants) != 3001 || rep.Stats.Events != 9001 || rep.Stats.Applied != 9001 {
		t.Fatalf("replay reports %d grants and %+v; want 3,001 grants from 9,001 applied events", len(rep.Grants), rep.Stats)
	}
}

// BenchmarkReplayOneKey: time per event of a replay of one key with 300 and with 3,000 secondaries (the goal: the
// second costs at most 2x per event what the first does), in one run:
//
//	go test ./pkg/replay -run '^$' -bench ReplayOneKey -count 5
func BenchmarkReplayOneKey(b *testing.B) {
	at := time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC)
	for _, n := range []int{300, 3000} {
		path := oneKeyFile(b, n)
		b.Run(fmt.Sprintf("secondaries=%d", n), func(b *testing.B) {
			for b.Loop() {
				replayFile(b, path, at)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(1+3*n), "ns/event")
		})
	}
}
