package trail_test

import (
	"encoding/json"
	"testing"

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
