package emf_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/emf"
)

var t0 = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)

func docs(t *testing.T, out string) []map[string]any {
	t.Helper()
	var all []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q is not one JSON document: %v", line, err)
		}
		all = append(all, m)
	}
	return all
}

// TestPut: one document per call in the embedded metric format, stamped with the injected clock.
func TestPut(t *testing.T) {
	var buf bytes.Buffer
	w := emf.New(&buf, func() time.Time { return t0 }, "")
	if err := w.Put("", "", emf.Metric{Name: "KeysFailed", Unit: emf.Count, Value: 2}, emf.Metric{Name: "KeysSwept", Unit: emf.Count, Value: 7}); err != nil {
		t.Fatal(err)
	}
	if err := w.Put("Kind", "secondary", emf.Metric{Name: "ActiveGrants", Unit: emf.Count, Value: 3}); err != nil {
		t.Fatal(err)
	}
	got := docs(t, buf.String())
	if len(got) != 2 {
		t.Fatalf("%d documents; want 2", len(got))
	}
	aws := got[0]["_aws"].(map[string]any)
	if ts := aws["Timestamp"].(float64); int64(ts) != t0.UnixMilli() {
		t.Errorf("Timestamp = %v; want the injected clock %d", ts, t0.UnixMilli())
	}
	dir := aws["CloudWatchMetrics"].([]any)[0].(map[string]any)
	if dir["Namespace"] != "grantwatch" || len(dir["Metrics"].([]any)) != 2 || len(dir["Dimensions"].([]any)[0].([]any)) != 0 {
		t.Errorf("directive = %v; want namespace grantwatch, two metrics, no dimension", dir)
	}
	if got[0]["KeysFailed"] != 2.0 || got[0]["KeysSwept"] != 7.0 || got[0]["level"] != nil {
		t.Errorf("document = %v; want the values and no level at INFO", got[0])
	}
	dims := got[1]["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)["Dimensions"].([]any)[0].([]any)
	if got[1]["Kind"] != "secondary" || got[1]["ActiveGrants"] != 3.0 || len(dims) != 1 || dims[0] != "Kind" {
		t.Errorf("document = %v; want ActiveGrants 3 under Kind=secondary", got[1])
	}
}

// TestLevelKeepsMetricsThroughLambdasFilter: above INFO, documents carry the configured level, which Lambda's
// log-level filter keeps; at INFO and below they carry none (Lambda takes them for INFO and keeps them).
func TestLevelKeepsMetricsThroughLambdasFilter(t *testing.T) {
	for level, want := range map[string]any{"": nil, "DEBUG": nil, "INFO": nil, "info": nil, "WARN": "WARN", "error": "ERROR", "FATAL": "FATAL"} {
		var buf bytes.Buffer
		if err := emf.New(&buf, func() time.Time { return t0 }, level).Put("", "", emf.Metric{Name: "X", Unit: emf.Count, Value: 1}); err != nil {
			t.Fatal(err)
		}
		if got := docs(t, buf.String())[0]["level"]; got != want {
			t.Errorf("level %q: document level = %v; want %v", level, got, want)
		}
	}
}

// TestConcurrentPutsKeepLinesWhole: handlers write from several goroutines; every line stays one document.
func TestConcurrentPutsKeepLinesWhole(t *testing.T) {
	var buf bytes.Buffer
	w := emf.New(&buf, func() time.Time { return t0 }, "")
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			for range 20 {
				_ = w.Put("Type", "use-after-retire", emf.Metric{Name: "AlertsRaised", Unit: emf.Count, Value: 1})
			}
		})
	}
	wg.Wait()
	if n := len(docs(t, buf.String())); n != 400 {
		t.Errorf("%d documents; want 400", n)
	}
	var nilWriter *emf.Writer
	if err := nilWriter.Put("", "", emf.Metric{Name: "X"}); err != nil {
		t.Errorf("nil Writer Put() = %v; want nil", err)
	}
}
