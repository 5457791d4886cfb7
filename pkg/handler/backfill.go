package handler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/param"
)

// backfiller is the part of app.Backfill the backfill handler uses.
type backfiller interface {
	Run(ctx context.Context, req app.BackfillRequest) (app.BackfillReport, error)
}

// BackfillInput is BackfillFunction's event: {"since": RFC3339, "until": RFC3339, "includeUse": bool, "runId":
// optional, "accounts": optional, "regions": optional}.
type BackfillInput struct {
	Since      string `json:"since"`
	Until      string `json:"until"`
	IncludeUse bool   `json:"includeUse,omitempty"`
	RunID      string `json:"runId,omitempty"`
	// Accounts to read, or ["all"]: the configured member accounts. None: this function's own account.
	Accounts []string `json:"accounts,omitempty"`
	// Regions to read in each account, or ["all"]: the configured member Regions. None: this function's Region.
	Regions []string `json:"regions,omitempty"`
}

// BackfillOutput is what an invocation did. Complete false: invoke again with the same input to continue (and to
// try again the targets that could not be read).
type BackfillOutput struct {
	RunID    string            `json:"runId"`
	Complete bool              `json:"complete"`
	Stats    app.BackfillStats `json:"stats"` // the whole run so far, earlier invocations included
	Slices   int               `json:"slices"`
	Done     int               `json:"slicesDone"`
	Targets  []TargetOutput    `json:"targets,omitempty"` // with accounts or regions: each account-Region
	Message  string            `json:"message"`
}

// TargetOutput is one account-Region of a backfill.
type TargetOutput struct {
	Account  string            `json:"account,omitempty"` // empty: this function's own account
	Region   string            `json:"region,omitempty"`
	Complete bool              `json:"complete"`
	Stats    app.BackfillStats `json:"stats"`
	// Error says why the target could not be read; CouldNotAssume that its member role could not be assumed, so
	// nothing in it was checked.
	Error          string `json:"error,omitempty"`
	CouldNotAssume bool   `json:"couldNotAssume,omitempty"`
}

// Members is the configured set that "all" means (MEMBER_ACCOUNT_IDS, MEMBER_REGIONS), and the function's own Region.
type Members struct {
	Accounts []string
	Regions  []string
	Region   string
}

// Backfill handles BackfillFunction's on-demand invocations. A window larger than one invocation can read (15
// minutes at 100 events/s per account-Region is at most 90,000 events each) stops shortly before the deadline with
// everything checkpointed; the same input continues it.
type Backfill struct {
	app     backfiller
	log     *slog.Logger
	margin  time.Duration
	members Members
}

// NewBackfill returns the handler; it stops margin before the invocation's deadline (30 s when 0).
func NewBackfill(app backfiller, log *slog.Logger, margin time.Duration) *Backfill {
	if margin <= 0 {
		margin = 30 * time.Second
	}
	return &Backfill{app: app, log: log, margin: margin}
}

// scope parses an input's accounts and Regions ("all": the configured set's).
func (m Members) scope(probs *param.Problems, accounts, regions []string) app.Scope {
	set := param.Members{Accounts: m.Accounts, Regions: m.Regions,
		AccountsFrom: "MEMBER_ACCOUNT_IDS, the MemberAccountIds parameter", RegionsFrom: "MEMBER_REGIONS, the MemberRegions parameter"}
	return set.Scope(probs, "accounts", accounts, "regions", regions)
}

// WithMembers returns h resolving "all" and the default Region with m.
func (h *Backfill) WithMembers(m Members) *Backfill {
	c := *h
	c.members = m
	return &c
}

// targets resolves the input's accounts and Regions: none of either is this function's own account and Region.
func (h *Backfill) targets(in BackfillInput, probs *param.Problems) []app.Target {
	scope := h.members.scope(probs, in.Accounts, in.Regions)
	accounts, regions := scope.Accounts, scope.Regions
	switch {
	case len(accounts) == 0 && len(regions) == 0:
		return nil
	case len(accounts) == 0:
		accounts = []string{""} // this account, in other Regions
	case len(regions) == 0:
		regions = []string{h.members.Region}
	}
	return app.Targets(accounts, regions)
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
	req.Targets = h.targets(in, &probs)
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
	if len(req.Targets) > 0 {
		for _, t := range rep.Targets {
			to := TargetOutput{Account: t.Target.Account, Region: t.Target.Region, Complete: t.Complete, Stats: t.Stats}
			if t.Err != nil {
				to.Error, to.CouldNotAssume = t.Err.Error(), errors.Is(t.Err, app.ErrCouldNotAssume)
			}
			out.Targets = append(out.Targets, to)
		}
	}
	switch {
	case err != nil && ctx.Err() == nil && run.Err() != nil:
		out.Message = "stopped before the deadline with progress checkpointed: invoke again with the same input to continue"
		h.log.InfoContext(ctx, "backfill paused", "runId", rep.RunID, "events", out.Stats.Events, "slicesDone", out.Done, "slices", out.Slices)
		return out, nil
	case err != nil:
		h.log.ErrorContext(ctx, "backfill failed", "runId", rep.RunID, "err", err)
		return out, err
	}
	if failed := rep.Failed(); len(failed) > 0 {
		// The others were read: answer with what each did, so that the caller sees which could not be checked.
		var names []string
		for _, t := range failed {
			names = append(names, t.Target.String())
			h.log.ErrorContext(ctx, "backfill target could not be read", "runId", rep.RunID, "target", t.Target.String(),
				"couldNotAssume", errors.Is(t.Err, app.ErrCouldNotAssume), "err", t.Err)
		}
		out.Message = fmt.Sprintf("%d of %d account-Regions could not be read (%s; see targets): they were not checked; invoke again with the same input to try them again",
			len(failed), len(rep.Targets), strings.Join(names, ", "))
		return out, nil
	}
	out.Message = "complete"
	h.log.InfoContext(ctx, "backfill complete", "runId", rep.RunID, "events", out.Stats.Events, "applied", out.Stats.Applied,
		"duplicates", out.Stats.Duplicates, "ignored", out.Stats.Ignored, "rejected", out.Stats.Rejected, "targets", len(rep.Targets))
	return out, nil
}
