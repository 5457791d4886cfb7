// Package handler adapts Lambda invocations to the use cases and holds the drop-versus-retry policy: input that can
// never succeed is recorded and dropped; failures that may pass (store throttling, 5xx) are returned so Lambda retries.
package handler

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/grantwatch/grantwatch/pkg/emf"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/trail"
)

// ingester is the part of app.Service the ingest handler uses.
type ingester interface {
	Ingest(ctx context.Context, ev lifecycle.Event) (lifecycle.Result, error)
	IngestJob(ctx context.Context, ev lifecycle.JobEvent) (lifecycle.Outcome, error) // a Service without WithJobs ignores them
	Reject(ctx context.Context, source, eventID string, raw []byte, cause error) error
}

// Ingest handles the EventBridge "AWS API Call via CloudTrail" events of IngestFunction.
type Ingest struct {
	app     ingester
	log     *slog.Logger
	metrics *emf.Writer
}

// NewIngest returns the handler; it writes its metrics (metrics.go) to metrics.
func NewIngest(app ingester, log *slog.Logger, metrics *emf.Writer) *Ingest {
	return &Ingest{app: app, log: log, metrics: metrics}
}

// Handle takes the raw event, so that an envelope the runtime could not unmarshal into a typed struct is still
// recorded instead of failing before our code runs (which Lambda would retry for nothing). trail.Classify decodes
// it once and says what it is.
func (h *Ingest) Handle(ctx context.Context, raw json.RawMessage) error {
	d := trail.Classify(raw)
	source := "eventbridge:" + cmp.Or(d.EnvelopeID, "unknown")
	switch d.Class {
	case trail.Ignored:
		h.log.DebugContext(ctx, "event ignored", "source", source, "eventId", d.EventID, "err", d.Err)
		return nil
	case trail.Rejected:
		return h.reject(ctx, source, d.EventID, raw, d.Err)
	case trail.JobEvent:
		return h.job(ctx, d.Job)
	}
	ev := d.Event
	r, err := h.app.Ingest(ctx, ev)
	if err != nil {
		// Transient by policy: the store or a race. Returning it makes Lambda retry, then the on-failure DLQ.
		h.log.ErrorContext(ctx, "ingest failed, will be retried", "eventId", ev.ID, "eventName", ev.Name, "err", err)
		return fmt.Errorf("ingest %s: %w", ev.ID, err)
	}
	h.log.InfoContext(ctx, "event processed", "eventId", ev.ID, "eventName", ev.Name, "grantId", ev.GrantID,
		"keyArn", ev.KeyARN, "outcome", string(r.Outcome), "alerts", len(r.Alerts))
	putAlerts(ctx, h.log, h.metrics, r.Alerts, r.Resolved)
	return nil
}

// reject records unusable input where a person can find it (the table's REJECTED# items), counts it
// (EventsRejected), and drops it. Only a failure to record it is returned, so it is retried.
func (h *Ingest) reject(ctx context.Context, source, eventID string, raw []byte, cause error) error {
	h.log.WarnContext(ctx, "event rejected", "source", source, "eventId", eventID, "err", cause)
	put(ctx, h.log, h.metrics, "", "", count("EventsRejected", 1))
	if err := h.app.Reject(ctx, source, eventID, raw, cause); err != nil {
		return fmt.Errorf("record rejected event %s: %w", source, err)
	}
	return nil
}
