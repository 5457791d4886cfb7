// Package emf writes CloudWatch metrics in the embedded metric format: one JSON document per line, written straight
// to a writer (stdout in Lambda, which sends it to CloudWatch Logs, where the metrics are extracted). It does not go
// through the logger, so no log level drops a metric, and every document is stamped with an injected clock.
package emf

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace of every grantwatch metric (template.yaml's alarms name it).
const Namespace = "grantwatch"

// Units used by grantwatch's metrics.
const (
	Count   = "Count"
	Seconds = "Seconds"
)

// Metric is one value to record.
type Metric struct {
	Name  string
	Unit  string
	Value float64
}

// Writer writes EMF documents. It is safe for concurrent use: each document is one whole line.
type Writer struct {
	mu    sync.Mutex
	w     io.Writer
	now   func() time.Time
	level string
}

// New returns a Writer on w. now stamps the documents: pass the clock the caller runs on (time.Now in production).
// level is the function's application log level (Lambda's AWS_LAMBDA_LOG_LEVEL; "" when none). Lambda's own
// log-level filter reads a JSON line's "level" and takes a line without one for INFO, so at WARN and above it would
// drop metrics; documents therefore carry the configured level when it is above INFO, which the filter always keeps.
func New(w io.Writer, now func() time.Time, level string) *Writer {
	l := strings.ToUpper(strings.TrimSpace(level))
	switch l {
	case "WARN", "ERROR", "FATAL":
	default:
		l = ""
	}
	return &Writer{w: w, now: now, level: l}
}

type directive struct {
	Namespace  string     `json:"Namespace"`
	Dimensions [][]string `json:"Dimensions"`
	Metrics    []metricID `json:"Metrics"`
}

type metricID struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

// Put writes one document holding metrics, all under one dimension: dim=value, or none when dim is "". A nil Writer
// writes nothing.
func (w *Writer) Put(dim, value string, metrics ...Metric) error {
	if w == nil || len(metrics) == 0 {
		return nil
	}
	d := directive{Namespace: Namespace, Dimensions: [][]string{{}}}
	doc := map[string]any{}
	if dim != "" {
		d.Dimensions = [][]string{{dim}}
		doc[dim] = value
	}
	for _, m := range metrics {
		d.Metrics = append(d.Metrics, metricID{Name: m.Name, Unit: m.Unit})
		doc[m.Name] = m.Value
	}
	doc["_aws"] = map[string]any{"Timestamp": w.now().UnixMilli(), "CloudWatchMetrics": []directive{d}}
	if w.level != "" {
		doc["level"] = w.level
	}
	line, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("emf: %w", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.w.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("emf: write: %w", err)
	}
	return nil
}
