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

// reconciler is the part of app.Reconcile the reconcile handler uses.
type reconciler interface {
	Run(ctx context.Context, keys []string, at time.Time) (app.ReconcileReport, error)
}

// Reconcile handles ReconcileFunction's scheduled events: every key with recorded Bedrock grants against KMS.
type Reconcile struct {
	app reconciler
	scheduled
}

// NewReconcile returns the handler. Pass time.Now in production, and the same clock to metrics.
func NewReconcile(app reconciler, log *slog.Logger, metrics *emf.Writer, now func() time.Time) *Reconcile {
	return &Reconcile{app: app, scheduled: scheduled{log: log, metrics: metrics, now: now}}
}

// Handle reconciles and writes the GrantsAdded, GrantsEnded and KeysNotListed metrics. A key that could not be
// listed is logged as an error and counted, not returned: retrying the whole run at once would meet the same
// denial or throttling, and tomorrow's run tries again. Store failures are returned.
func (h *Reconcile) Handle(ctx context.Context, _ json.RawMessage) error {
	rep, err := h.app.Run(ctx, nil, h.now().UTC())
	added, ended := 0, 0
	for _, k := range rep.Keys {
		added += len(k.Added)
		ended += len(k.Ended)
		switch {
		case k.CouldNotList != "":
			h.log.ErrorContext(ctx, "could not list grants; key left unchanged", "keyArn", k.KeyARN, "reason", k.CouldNotList)
		case len(k.Added)+len(k.Ended) > 0:
			h.log.InfoContext(ctx, "key reconciled", "keyArn", k.KeyARN, "listed", k.Listed, "added", k.Added, "ended", k.Ended)
		}
	}
	put(ctx, h.log, h.metrics, "", "", count("GrantsAdded", added), count("GrantsEnded", ended), count("KeysNotListed", rep.CouldNotList()))
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	h.log.InfoContext(ctx, "reconcile done", "keys", len(rep.Keys), "added", added, "ended", ended, "keysNotListed", rep.CouldNotList())
	return nil
}
