package trail_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/trail"
)

// BenchmarkDecodeEventBridge measures what the ingest Lambda does per event: classify it (envelope, record and its
// parts in one pass) and map it. Compare with BenchmarkJSONValid over the same bytes, the floor of any decoder that reads them all.
func BenchmarkDecodeEventBridge(b *testing.B) {
	raw := kmsEnvelope(b)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if d := trail.Classify(raw); d.Class != trail.KMSEvent {
			b.Fatal(d.Err)
		}
	}
}

func BenchmarkJSONValid(b *testing.B) {
	raw := kmsEnvelope(b)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if !json.Valid(raw) {
			b.Fatal("invalid JSON")
		}
	}
}

// BenchmarkDecodeRatio runs json.Valid and the decode of BenchmarkDecodeEventBridge one after the other on the same
// event, so that a machine shared with other work slows both alike; decode/valid is the ratio BENCHMARKS.md records.
func BenchmarkDecodeRatio(b *testing.B) {
	raw := kmsEnvelope(b)
	var tValid, tDecode time.Duration
	for b.Loop() {
		t0 := time.Now()
		if !json.Valid(raw) {
			b.Fatal("invalid JSON")
		}
		t1 := time.Now()
		if d := trail.Classify(raw); d.Class != trail.KMSEvent {
			b.Fatal(d.Err)
		}
		tValid, tDecode = tValid+t1.Sub(t0), tDecode+time.Since(t1)
	}
	b.ReportMetric(float64(tValid.Nanoseconds())/float64(b.N), "valid-ns/op")
	b.ReportMetric(float64(tDecode.Nanoseconds())/float64(b.N), "decode-ns/op")
	b.ReportMetric(float64(tDecode)/float64(tValid), "decode/valid")
}
