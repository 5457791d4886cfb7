package trail_test

import (
	"encoding/json"
	"testing"

	"github.com/grantwatch/grantwatch/pkg/trail"
)

// BenchmarkDecodeEventBridge measures what the ingest Lambda does per event: decode the envelope and the record,
// then map it. Compare with BenchmarkJSONValid over the same bytes, the floor of any decoder that reads them all.
func BenchmarkDecodeEventBridge(b *testing.B) {
	raw := kmsEnvelope(b)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := trail.FromEventBridge(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Event(); err != nil {
			b.Fatal(err)
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
