package app

// The Backfill use case: read CloudTrail's event history (LookupEvents) for a time window and feed every record to
// the same Ingest as live events, so overlap with live delivery is harmless (idempotent by eventID). LookupEvents
// allows 2 requests/s per account and Region, 50 events a page and one lookup attribute per call, so the window is
// split into time slices per event name (backfill_plan.go), worked in parallel under the source's shared rate
// limiter by a scheduler (scheduler.go), each slice checkpointed after every page (backfill_checkpoint.go), with
// progress and ETA reported as it goes (backfill_progress.go).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// ErrTokenExpired is returned by an EventSource when a NextToken is no longer accepted: the slice restarts.
var ErrTokenExpired = errors.New("lookup token no longer valid")

// LookupQuery is one slice: the events named EventName in [Start, End).
type LookupQuery struct {
	EventName  string
	Start, End time.Time
}

// LookupRecord is one record of a page, decoded.
type LookupRecord struct {
	Source  string // where it came from, for rejections: "lookup:<eventName>#<eventId>"
	EventID string
	Time    time.Time       // the event time LookupEvents gives
	Event   lifecycle.Event // valid when !Ignored && Err == nil
	Ignored bool            // a record grantwatch does not consume (failed call, other source)
	Err     error           // the record is unusable: it is rejected
	Raw     []byte          // the record, for a rejection
}

// LookupPage is one page of a slice.
type LookupPage struct {
	Records []LookupRecord
	Oldest  time.Time // the oldest event time on the page (LookupEvents returns newest first); zero when empty
	Next    string    // empty on the last page
}

// EventSource reads CloudTrail's event history of one account and Region. It waits on its own rate limiter and
// retries throttling itself.
type EventSource interface {
	LookupPage(ctx context.Context, q LookupQuery, token string) (LookupPage, error)
}

// EventSources opens the event history of a target: another account's through that account's member role, each
// with a rate limiter of its own (CloudTrail's 2 requests/s is per account and Region). An error means the target
// cannot be read at all (ErrCouldNotAssume when the role could not be assumed): it is reported as such, and the
// other targets go on.
type EventSources interface {
	Open(ctx context.Context, t Target) (EventSource, error)
}

// Ingester is what Backfill feeds: app.Service.
type Ingester interface {
	Ingest(ctx context.Context, ev lifecycle.Event) (lifecycle.Result, error)
	Reject(ctx context.Context, source, eventID string, raw []byte, cause error) error
}

var _ Ingester = (*Service)(nil)

// BackfillReport is what a run did.
type BackfillReport struct {
	RunID    string
	Since    time.Time
	Until    time.Time
	Names    []string
	Complete bool             // every target is complete
	Progress BackfillProgress // the whole run, every target
	Targets  []TargetReport   // in the request's order
}

// TargetReport is what a run did in one account and Region.
type TargetReport struct {
	Target     Target
	Complete   bool
	Stats      BackfillStats // the target's, earlier invocations included
	Slices     int
	SlicesDone int
	// Err is why the target could not be read, or stopped before the rest: its member role could not be assumed
	// (ErrCouldNotAssume) or its event history failed. Nil when it was read, or stopped with the run.
	Err error
}

// Failed returns the targets that could not be read.
func (r BackfillReport) Failed() []TargetReport {
	var out []TargetReport
	for _, t := range r.Targets {
		if t.Err != nil {
			out = append(out, t)
		}
	}
	return out
}

// Backfill runs backfills.
type Backfill struct {
	src      EventSource  // the caller's own account and Region
	sources  EventSources // any target; nil: only the caller's own
	cps      CheckpointStore
	ing      Ingester
	log      *slog.Logger
	now      func() time.Time
	Workers  int                    // parallel slices per target; DefaultBackfillWorkers when 0
	Slices   int                    // slices per event name; DefaultSlicesPerName when 0
	Progress func(BackfillProgress) // called after every page, serialised; may be nil
}

// NewBackfill returns the use case, reading the caller's own account and Region from src. Pass time.Now in
// production.
func NewBackfill(src EventSource, cps CheckpointStore, ing Ingester, log *slog.Logger, now func() time.Time) *Backfill {
	return &Backfill{src: src, cps: cps, ing: ing, log: log, now: now}
}

// WithSources returns b reading any target through sources (the zero Target too, when src is nil).
func (b *Backfill) WithSources(sources EventSources) *Backfill {
	c := *b
	c.sources = sources
	return &c
}

// open returns the event history of target t.
func (b *Backfill) open(ctx context.Context, t Target) (EventSource, error) {
	if t == (Target{}) && b.src != nil {
		return b.src, nil
	}
	return b.sources.Open(ctx, t) // Run checked that there are sources for every other target
}

// Run backfills req, resuming the run with the same id if one was started. Every target is read at once, each by
// its own workers from its own source; one that cannot be read is reported in its TargetReport and the others go on.
// Run returns when every target is done or has failed, on a store failure (which ends every target), or when ctx
// ends (the report then says Complete false; run it again to continue). The error is the run's: the store's, ctx's,
// or, when no target could be read, theirs.
func (b *Backfill) Run(ctx context.Context, req BackfillRequest) (BackfillReport, error) {
	plan, err := Plan(req, b.now(), b.Slices)
	if err != nil {
		return BackfillReport{}, err
	}
	for _, t := range req.Targets {
		if t != (Target{}) && b.sources == nil {
			return BackfillReport{}, &InputError{Field: "accounts", Value: t.String(), Kind: ErrBadBackfill,
				Problem: "cannot be read: this backfill reads only its own account and Region"}
		}
	}
	run, err := b.cps.LoadRun(ctx, plan.ID)
	if err != nil {
		return BackfillReport{}, err
	}
	switch {
	case run.ID == "":
		if err := b.cps.SaveRun(ctx, plan); err != nil {
			return BackfillReport{}, fmt.Errorf("backfill %s: store the run: %w", plan.ID, err)
		}
		run = plan
	case run.Requested != plan.Requested:
		return BackfillReport{}, &InputError{Field: "run id", Value: run.ID, Kind: ErrBadBackfill,
			Problem: fmt.Sprintf("was started for %s, not %s; choose another run id", run.Requested, plan.Requested)}
	default:
		b.log.InfoContext(ctx, "resuming backfill", "runId", run.ID)
	}
	if plan.Since.After(req.Since) {
		b.log.WarnContext(ctx, "since is older than CloudTrail's 90-day event history; starting at its beginning", "since", req.Since, "effectiveSince", run.Since)
	}
	stored, err := b.cps.LoadCheckpoints(ctx, run.ID)
	if err != nil {
		return BackfillReport{}, err
	}
	var targets []Target
	for _, t := range req.Targets {
		if !slices.Contains(targets, t) {
			targets = append(targets, t)
		}
	}
	if len(targets) == 0 {
		targets = []Target{{}}
	}
	var cps []Checkpoint
	for _, t := range targets {
		cps = append(cps, resume(run, t, stored)...)
	}
	workers := b.Workers
	if workers <= 0 {
		workers = DefaultBackfillWorkers
	}
	w := &backfillRun{Backfill: b, slices: newRunSlices(run, len(targets), cps, b.now), reporter: newProgressReporter(b.Progress)}
	// A store failure ends every target: what they read could not be kept. A target's own failure ends only it.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	failed := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() { failed[i] = w.target(ctx, cancel, t, workers) })
	}
	wg.Wait()
	rep := BackfillReport{RunID: run.ID, Since: run.Since, Until: run.Until, Names: run.EventNames, Progress: w.slices.progress(), Complete: true}
	for i, t := range targets {
		tr := TargetReport{Target: t, Err: failed[i], Complete: true}
		for _, c := range w.slices.of(t) {
			tr.Stats.add(c.Stats)
			tr.Slices++
			if c.Done {
				tr.SlicesDone++
			}
		}
		tr.Complete = tr.SlicesDone == tr.Slices
		rep.Complete = rep.Complete && tr.Complete
		rep.Targets = append(rep.Targets, tr)
	}
	if err := context.Cause(ctx); err != nil && !rep.Complete {
		return rep, err
	}
	if f := rep.Failed(); len(f) == len(rep.Targets) {
		errs := make([]error, len(f))
		for i, t := range f {
			errs[i] = t.Err
		}
		return rep, errors.Join(errs...) // nothing could be read: the run failed as a whole
	}
	return rep, nil
}

// target works one target's slices with its own workers until they are done. It returns why the target could not
// be read (its source could not be opened, or a page could not be read), or nil; a store failure cancels the whole
// run through cancelRun instead.
func (w *backfillRun) target(ctx context.Context, cancelRun context.CancelCauseFunc, t Target, workers int) error {
	pending := w.slices.pending(t)
	if len(pending) == 0 {
		return nil
	}
	src, err := w.open(ctx, t)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped with the run, not the target's failure
		}
		w.log.WarnContext(ctx, "cannot read the event history of a backfill target", "runId", w.slices.run.ID, "target", t.String(), "err", err)
		return fmt.Errorf("backfill %s: %s: %w", w.slices.run.ID, t, err)
	}
	ctx, stopTarget := context.WithCancelCause(ctx)
	defer stopTarget(nil)
	sched := newScheduler(pending)
	stop := context.AfterFunc(ctx, sched.stop)
	defer stop()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i, ok := sched.next()
				if !ok {
					return
				}
				err := w.slice(ctx, i, src, sched)
				sched.done()
				var se *sourceError
				switch {
				case err == nil:
					continue
				case ctx.Err() != nil:
					// Stopped (the target by another worker, or the run): the cause is recorded already.
				case errors.As(err, &se):
					stopTarget(se)
				default:
					cancelRun(err)
				}
				return
			}
		})
	}
	wg.Wait()
	var se *sourceError
	if errors.As(context.Cause(ctx), &se) {
		w.log.WarnContext(ctx, "backfill target stopped; the others go on", "runId", w.slices.run.ID, "target", t.String(), "err", se.err)
		return se.err
	}
	return nil
}

// sourceError is a failure of a target's event history, as opposed to the store's: it ends that target only.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

// backfillRun is one invocation of Run: the use case, the run's slices (every target's) and the reporter of
// progress. Each target has a scheduler of its own that hands its slices to its workers.
type backfillRun struct {
	*Backfill
	slices   *runSlices
	reporter *progressReporter
}

// set records slice i's checkpoint and reports the progress, with no lock held while Progress runs.
func (w *backfillRun) set(i int, c Checkpoint, events int, page bool) {
	w.reporter.report(w.slices.set(i, c, events, page))
}

// slice works one slice to its end from src, checkpointing after every page and splitting it while the target's
// workers are idle. A page that cannot be read is a *sourceError.
func (w *backfillRun) slice(ctx context.Context, i int, src EventSource, sched *scheduler) error {
	c := w.slices.get(i)
	restarted := false
	for !c.Done {
		if err := ctx.Err(); err != nil {
			return err
		}
		q := LookupQuery{EventName: c.EventName, Start: c.Start, End: c.End}
		page, err := src.LookupPage(ctx, q, c.Next)
		if errors.Is(err, ErrTokenExpired) && c.Next != "" && !restarted {
			w.log.WarnContext(ctx, "lookup token expired; restarting slice", "runId", c.RunID, "target", c.Target().String(), "eventName", c.EventName, "start", c.Start)
			c, restarted = restartSlice(c), true
			continue
		}
		if err != nil {
			return &sourceError{fmt.Errorf("backfill %s %s%s from %s: %w", c.RunID, c.EventName, inTarget(c), c.Start.Format(time.RFC3339), err)}
		}
		st, err := w.ingestPage(ctx, c, page)
		if err != nil {
			return err
		}
		prev := c.End
		if !c.Covered.IsZero() {
			prev = c.Covered
		}
		next := afterPage(c, page, st, w.now())
		if err := w.save(ctx, &next); err != nil {
			return err
		}
		c = next
		w.set(i, c, st.Events, true)
		if !c.Done && sched.starving() && worthSplitting(c, len(page.Records), prev) {
			if c, err = w.split(ctx, i, c, sched); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *Backfill) ingestPage(ctx context.Context, c Checkpoint, page LookupPage) (BackfillStats, error) {
	var st BackfillStats
	for _, rec := range page.Records {
		if slices.Contains(c.Skip, rec.EventID) {
			continue // read and counted by the slice this one was split from
		}
		st.Events++
		switch {
		case rec.Ignored:
			st.Ignored++
		case rec.Err != nil:
			if err := b.ing.Reject(ctx, rec.Source, rec.EventID, rec.Raw, rec.Err); err != nil {
				return st, err
			}
			st.Rejected++
		default:
			r, err := b.ing.Ingest(ctx, rec.Event)
			if err != nil {
				return st, fmt.Errorf("backfill %s: ingest %s: %w", c.RunID, rec.EventID, err)
			}
			switch r.Outcome {
			case lifecycle.Applied:
				st.Applied++
			case lifecycle.Duplicate:
				st.Duplicates++
			default:
				st.Ignored++
			}
		}
	}
	return st, nil
}

// inTarget names a slice's target for messages: " in 111122223333/eu-west-1", nothing for the caller's own.
func inTarget(c Checkpoint) string {
	if c.Target() == (Target{}) {
		return ""
	}
	return " in " + c.Target().String()
}

// split writes the two halves of c (splitSlice), the parent first, and queues the new slice on the target's sched.
func (w *backfillRun) split(ctx context.Context, i int, c Checkpoint, sched *scheduler) (Checkpoint, error) {
	parent, child := splitSlice(c, w.now())
	if err := w.save(ctx, &parent); err != nil {
		return c, err
	}
	if err := w.save(ctx, &child); err != nil {
		return parent, err
	}
	w.set(i, parent, 0, false)
	sched.add(w.slices.add(child))
	return parent, nil
}
