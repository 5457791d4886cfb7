package handler

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/emf"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/param"
)

// reconciler is the part of app.Reconcile the reconcile handler uses.
type reconciler interface {
	Run(ctx context.Context, keys []string, scope app.Scope, at time.Time) (app.ReconcileReport, error)
}

// ReconcileInput is what an invocation may narrow a run to: {"accounts": [...] or ["all"], "regions": [...] or
// ["all"]} ("all": the configured member set). The scheduled event has neither, so it reconciles every recorded key.
type ReconcileInput struct {
	Accounts []string `json:"accounts,omitempty"`
	Regions  []string `json:"regions,omitempty"`
}

// Reconcile handles ReconcileFunction's scheduled events: every key with recorded Bedrock grants against KMS, each
// in its own account.
type Reconcile struct {
	app     reconciler
	members Members
	scheduled
}

// NewReconcile returns the handler. Pass time.Now in production, and the same clock to metrics.
func NewReconcile(app reconciler, log *slog.Logger, metrics *emf.Writer, now func() time.Time) *Reconcile {
	return &Reconcile{app: app, scheduled: scheduled{log: log, metrics: metrics, now: now}}
}

// WithMembers returns h resolving "all" with m.
func (h *Reconcile) WithMembers(m Members) *Reconcile {
	c := *h
	c.members = m
	return &c
}

// Handle reconciles and writes the GrantsAdded, GrantsEnded and KeysNotListed metrics. A key that could not be
// listed is logged as an error and counted, not returned: retrying the whole run at once would meet the same
// denial or throttling, and tomorrow's run tries again; so is an account whose member role could not be assumed.
// Store failures and bad input are returned.
func (h *Reconcile) Handle(ctx context.Context, raw json.RawMessage) error {
	var in ReconcileInput
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &in); err != nil {
			return fmt.Errorf("reconcile input: %w", err)
		}
	}
	var probs param.Problems
	scope := h.members.scope(&probs, in.Accounts, in.Regions)
	if err := probs.Err(); err != nil {
		return fmt.Errorf("reconcile input: %w", err)
	}
	rep, err := h.app.Run(ctx, nil, scope, h.now().UTC())
	for _, a := range rep.Accounts {
		if a.CouldNotAssume != "" {
			h.log.ErrorContext(ctx, "could not assume the account's member role; none of its keys was checked", "account", a.Account,
				"keys", a.Keys, "reason", a.CouldNotAssume)
		}
	}
	added, ended := 0, 0
	for _, k := range rep.Keys {
		added += len(k.Added)
		ended += len(k.Ended)
		switch {
		case k.CouldNotList != "" && k.CouldNotList == assumeFailure(rep, k.KeyARN):
			// Logged once for its account above.
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

// assumeFailure is why the key's account could not be entered, or "".
func assumeFailure(rep app.ReconcileReport, keyARN string) string {
	_, _, account := lifecycle.KeyPlace(keyARN)
	for _, a := range rep.Accounts {
		if a.Account == account {
			return a.CouldNotAssume
		}
	}
	return ""
}
