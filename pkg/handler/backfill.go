package handler

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/param"
)

// backfiller is the part of app.Backfill the backfill handler uses.
type backfiller interface {
	Run(ctx context.Context, req app.BackfillRequest) (app.BackfillReport, error)
}

// BackfillInput is BackfillFunction's event: {"since": RFC3339, "until": RFC3339, "includeUse": bool, "runId": optional}.
type BackfillInput struct {
	Since      string `json:"since"`
	Until      string `json:"until"`
	IncludeUse bool   `json:"includeUse,omitempty"`
	RunID      string `json:"runId,omitempty"`
}

// BackfillOutput is what an invocation did. Complete false: invoke again with the same input to continue.
type BackfillOutput struct {
	RunID    string            `json:"runId"`
	Complete bool              `json:"complete"`
	Stats    app.BackfillStats `json:"stats"` // the whole run so far, earlier invocations included
	Slices   int               `json:"slices"`
	Done     int               `json:"slicesDone"`
	Message  string            `json:"message"`
}

// Backfill handles BackfillFunction's on-demand invocations. A window larger than one invocation can read (15
// minutes at 100 events/s is at most 90,000 events) stops shortly before the deadline with everything
// checkpointed; the same input continues it.
type Backfill struct {
	app    backfiller
	log    *slog.Logger
	margin time.Duration
}

// NewBackfill returns the handler; it stops margin before the invocation's deadline (30 s when 0).
func NewBackfill(app backfiller, log *slog.Logger, margin time.Duration) *Backfill {
	if margin <= 0 {
		margin = 30 * time.Second
	}
	return &Backfill{app: app, log: log, margin: margin}
}

// Handle runs the backfill until it is complete or the deadline nears. Bad input is an error naming the field.
func (h *Backfill) Handle(ctx context.Context, in BackfillInput) (BackfillOutput, error) {
	req := app.BackfillRequest{IncludeUse: in.IncludeUse, RunID: in.RunID}
	var probs param.Problems
	var err error
	req.Since, err = param.Time("since", in.Since)
	probs.Check(err)
	req.Until, err = param.Time("until", in.Until)
	probs.Check(err)
	if err := probs.Err(); err != nil {
		return BackfillOutput{}, fmt.Errorf("backfill input: %w", err)
	}
	run := ctx
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		run, cancel = context.WithDeadline(ctx, dl.Add(-h.margin))
		defer cancel()
	}
	rep, err := h.app.Run(run, req)
	out := BackfillOutput{RunID: rep.RunID, Complete: rep.Complete, Stats: rep.Progress.Stats, Slices: rep.Progress.Slices, Done: rep.Progress.SlicesDone}
	switch {
	case err != nil && ctx.Err() == nil && run.Err() != nil:
		out.Message = "stopped before the deadline with progress checkpointed: invoke again with the same input to continue"
		h.log.InfoContext(ctx, "backfill paused", "runId", rep.RunID, "events", out.Stats.Events, "slicesDone", out.Done, "slices", out.Slices)
		return out, nil
	case err != nil:
		h.log.ErrorContext(ctx, "backfill failed", "runId", rep.RunID, "err", err)
		return out, err
	}
	out.Message = "complete"
	h.log.InfoContext(ctx, "backfill complete", "runId", rep.RunID, "events", out.Stats.Events, "applied", out.Stats.Applied,
		"duplicates", out.Stats.Duplicates, "ignored", out.Stats.Ignored, "rejected", out.Stats.Rejected)
	return out, nil
}
