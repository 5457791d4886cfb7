package handler

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/emf"
)

// sweeper is the part of app.Service the sweep handler uses.
type sweeper interface {
	Sweep(ctx context.Context, at time.Time) (app.SweepReport, error)
}

// Sweep handles SweepFunction's scheduled EventBridge events: one sweep at the handler's clock.
type Sweep struct {
	app sweeper
	scheduled
}

// NewSweep returns the handler. Pass time.Now in production, and the same clock to metrics.
func NewSweep(app sweeper, log *slog.Logger, metrics *emf.Writer, now func() time.Time) *Sweep {
	return &Sweep{app: app, scheduled: scheduled{log: log, metrics: metrics, now: now}}
}

// Handle ignores the event's content: a schedule carries nothing but its time, and the sweep uses the clock so a
// late retry evaluates the rules at the time it actually runs. Keys the sweep could not sweep are counted
// (KeysFailed, alarmed in template.yaml) and were logged with their error; they are not returned, since the next
// scheduled sweep tries every key again and a retry now would meet the same fault. A sweep that could not run at
// all is returned (Lambda records an error, SweepFunctionErrorsAlarm fires).
func (h *Sweep) Handle(ctx context.Context, _ json.RawMessage) error {
	at := h.now().UTC()
	rep, err := h.app.Sweep(ctx, at)
	h.record(ctx, rep)
	if err != nil {
		h.log.ErrorContext(ctx, "sweep failed", "keys", rep.Keys, "keysFailed", len(rep.Failed), "err", err)
		return fmt.Errorf("sweep at %s: %w", at.Format(time.RFC3339), err)
	}
	h.log.InfoContext(ctx, "sweep done", "at", at, "keys", rep.Keys, "keysFailed", len(rep.Failed), "alerts", len(rep.Alerts),
		"resolved", len(rep.Resolved), "notices", rep.Notices, "noticesFailed", rep.NoticesFailed, "noticesPastLease", rep.NoticesPastLease,
		"busiestKey", rep.BusiestKey, "busiestKeyActiveGrants", rep.BusiestCount)
	return nil
}

// record writes the sweep's metrics (metrics.go).
func (h *Sweep) record(ctx context.Context, rep app.SweepReport) {
	put(ctx, h.log, h.metrics, "", "", count("KeysSwept", rep.Keys), count("KeysFailed", len(rep.Failed)),
		count("NoticesSent", rep.Notices), count("NoticesFailed", rep.NoticesFailed), count("NoticesPastLease", rep.NoticesPastLease),
		count("MaxActiveGrantsPerKey", rep.BusiestCount))
	for _, k := range app.Kinds {
		put(ctx, h.log, h.metrics, "Kind", string(k), count("ActiveGrants", rep.ActiveByKind[k]))
	}
	putAlerts(ctx, h.log, h.metrics, rep.Alerts, rep.Resolved)
}
