package replay_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/internal/fixture"
	"github.com/grantwatch/grantwatch/internal/trailgen"

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

// BenchmarkIngest measures decode and classify (trail.Classify) + apply through the ingest use case on the in-memory store, one event
// per op. Run with -cpu 1 for a per-core figure.
func BenchmarkIngest(b *testing.B) {
	events := workload(64, 16) // 64 keys, 16 secondaries each: 3,136 events
	log := fixture.Quiet()
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
		d := trail.Classify(raw)
		if d.Class != trail.KMSEvent {
			b.Fatal(d.Err)
		}
		r, err := svc.Ingest(ctx, d.Event)
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
	log := fixture.Quiet()
	r := replay.New(app.New(store.NewMemory(), alert.Discard{}, lifecycle.DefaultConfig(), log, time.Now).WithSweepTime(at))
	return finish(tb, r, r.Paths(context.Background(), []string{path}), at)
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

// mixedTrail is a gzipped CloudTrail log file of about 8 MB of records, 5 % of them Bedrock KMS records, as a
// trail that logs every service writes it (internal/trailgen), and its size decompressed.
func mixedTrail(b *testing.B) (gz []byte, size int) {
	b.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	n, err := io.Copy(w, trailgen.Reader(8<<20, 5))
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		b.Fatal(err)
	}
	return buf.Bytes(), int(n)
}

// BenchmarkMixedTrail compares a replay of a realistic mixed trail (gunzip, stream, skip what cannot matter, decode
// and apply the KMS records, sweep, report) with the floor of any reader of the same file: gunzip plus json.Valid
// over the decompressed bytes, on one core. Each iteration runs both, one after the other, so that a machine shared
// with other work slows both alike; the replay/floor metric is the ratio BENCHMARKS.md records.
func BenchmarkMixedTrail(b *testing.B) {
	gz, size := mixedTrail(b)
	floor := func() {
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			b.Fatal(err)
		}
		data, err := io.ReadAll(zr)
		if err != nil || !json.Valid(data) {
			b.Fatalf("gunzip: %v", err)
		}
	}
	log := fixture.Quiet()
	ctx := context.Background()
	replayOnce := func() {
		r := replay.New(app.New(store.NewMemory(), alert.Discard{}, lifecycle.DefaultConfig(), log, time.Now))
		in := replay.Input{Name: "trail.json.gz", Open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(gz)), nil
		}}
		if err := r.Inputs(ctx, func(yield func(replay.Input) bool) { yield(in) }); err != nil {
			b.Fatal(err)
		}
		rep, err := r.Finish(ctx, time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC))
		if err != nil || rep.Stats.Rejected > 0 || rep.Stats.Applied == 0 {
			b.Fatalf("replay: %v, stats %+v", err, rep.Stats)
		}
	}
	b.SetBytes(int64(size))
	var tFloor, tReplay time.Duration
	for b.Loop() {
		t0 := time.Now()
		floor()
		t1 := time.Now()
		replayOnce()
		tFloor, tReplay = tFloor+t1.Sub(t0), tReplay+time.Since(t1)
	}
	b.ReportMetric(float64(tFloor.Nanoseconds())/float64(b.N), "floor-ns/op")
	b.ReportMetric(float64(tReplay.Nanoseconds())/float64(b.N), "replay-ns/op")
	b.ReportMetric(float64(tReplay)/float64(tFloor), "replay/floor")
}
