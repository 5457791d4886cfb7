package handler

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// sweeper is the part of app.Service the sweep handler uses.
type sweeper interface {
	Sweep(ctx context.Context, at time.Time) (app.SweepReport, error)
}

// Sweep handles SweepFunction's scheduled EventBridge events: one sweep at the handler's clock.
type Sweep struct {
	app sweeper
	log *slog.Logger
	now func() time.Time
}

// NewSweep returns the handler. Pass time.Now in production.
func NewSweep(app sweeper, log *slog.Logger, now func() time.Time) *Sweep {
	return &Sweep{app: app, log: log, now: now}
}

// Handle ignores the event's content: a schedule carries nothing but its time, and the sweep uses the clock so a
// late retry evaluates the rules at the time it actually runs. A failed sweep is returned; the next schedule (or
// Lambda's retry) sweeps again, and claims keep that from sending anything twice.
func (h *Sweep) Handle(ctx context.Context, _ json.RawMessage) error {
	at := h.now().UTC()
	rep, err := h.app.Sweep(ctx, at)
	h.metrics(ctx, rep)
	if err != nil {
		h.log.ErrorContext(ctx, "sweep failed", "keys", rep.Keys, "err", err)
		return fmt.Errorf("handler: sweep at %s: %w", at.Format(time.RFC3339), err)
	}
	h.log.InfoContext(ctx, "sweep done", "at", at, "keys", rep.Keys, "alerts", len(rep.Alerts), "resolved", len(rep.Resolved),
		"notices", rep.Notices, "busiestKey", rep.BusiestKey, "busiestKeyActiveGrants", rep.BusiestCount)
	return nil
}

// metrics writes the sweep's CloudWatch metrics as embedded-metric-format log lines (namespace grantwatch):
// ActiveGrants by Kind, AlertsRaised and AlertsResolved by Type, MaxActiveGrantsPerKey against the quota.
func (h *Sweep) metrics(ctx context.Context, rep app.SweepReport) {
	for _, k := range app.Kinds {
		emit(ctx, h.log, "ActiveGrants", "Kind", string(k), rep.ActiveByKind[k])
	}
	emit(ctx, h.log, "MaxActiveGrantsPerKey", "", "", rep.BusiestCount)
	emitAlerts(ctx, h.log, rep.Alerts, rep.Resolved)
}

// emitAlerts writes AlertsRaised and AlertsResolved by Type, for the ingest and sweep handlers.
func emitAlerts(ctx context.Context, log *slog.Logger, raised, resolved []lifecycle.Alert) {
	for name, alerts := range map[string][]lifecycle.Alert{"AlertsRaised": raised, "AlertsResolved": resolved} {
		counts := map[string]int{}
		for _, a := range alerts {
			counts[string(a.Type)]++
		}
		types := make([]string, 0, len(counts))
		for t := range counts {
			types = append(types, t)
		}
		slices.Sort(types)
		for _, t := range types {
			emit(ctx, log, name, "Type", t, counts[t])
		}
	}
}

// emit writes one EMF metric, with one dimension when dim is set.
func emit(ctx context.Context, log *slog.Logger, metric, dim, value string, n int) {
	dims := [][]string{{}}
	attrs := []any{}
	if dim != "" {
		dims = [][]string{{dim}}
		attrs = append(attrs, dim, value)
	}
	attrs = append(attrs, slog.Group("_aws", "Timestamp", time.Now().UnixMilli(), "CloudWatchMetrics",
		[]emfDirective{{Namespace: "grantwatch", Dimensions: dims, Metrics: []emfMetric{{Name: metric, Unit: "Count"}}}}), metric, n)
	log.InfoContext(ctx, "metric", attrs...)
}
