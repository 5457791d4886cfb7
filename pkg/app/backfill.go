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

// EventSource reads CloudTrail's event history. It waits on its own rate limiter and retries throttling itself.
type EventSource interface {
	LookupPage(ctx context.Context, q LookupQuery, token string) (LookupPage, error)
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
	Complete bool
	Progress BackfillProgress
}

// Backfill runs backfills.
type Backfill struct {
	src      EventSource
	cps      CheckpointStore
	ing      Ingester
	log      *slog.Logger
	now      func() time.Time
	Workers  int                    // parallel slices; DefaultBackfillWorkers when 0
	Slices   int                    // slices per event name; DefaultSlicesPerName when 0
	Progress func(BackfillProgress) // called after every page, serialised; may be nil
}

// NewBackfill returns the use case. Pass time.Now in production.
func NewBackfill(src EventSource, cps CheckpointStore, ing Ingester, log *slog.Logger, now func() time.Time) *Backfill {
	return &Backfill{src: src, cps: cps, ing: ing, log: log, now: now}
}

// Run backfills req, resuming the run with the same id if one was started. It returns when every slice is done,
// on the first error, or when ctx ends (the report then says Complete false; run it again to continue).
func (b *Backfill) Run(ctx context.Context, req BackfillRequest) (BackfillReport, error) {
	plan, err := Plan(req, b.now(), b.Slices)
	if err != nil {
		return BackfillReport{}, err
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
	workers := b.Workers
	if workers <= 0 {
		workers = DefaultBackfillWorkers
	}
	w := &backfillRun{Backfill: b, slices: newRunSlices(run, resume(run, stored), b.now), reporter: newProgressReporter(b.Progress)}
	w.sched = newScheduler(w.slices.pending())
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(ctx, w.sched.stop)
	defer stop()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i, ok := w.sched.next()
				if !ok {
					return
				}
				err := w.slice(ctx, i)
				w.sched.done()
				if err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	rep := BackfillReport{RunID: run.ID, Since: run.Since, Until: run.Until, Names: run.EventNames, Progress: w.slices.progress()}
	rep.Complete = rep.Progress.SlicesDone == rep.Progress.Slices
	if err := context.Cause(ctx); err != nil && !rep.Complete {
		return rep, err
	}
	return rep, nil
}

// backfillRun is one invocation of Run: the use case, the run's slices, the scheduler that hands them to workers,
// and the reporter of progress.
type backfillRun struct {
	*Backfill
	slices   *runSlices
	sched    *scheduler
	reporter *progressReporter
}

// set records slice i's checkpoint and reports the progress, with no lock held while Progress runs.
func (w *backfillRun) set(i int, c Checkpoint, events int, page bool) {
	w.reporter.report(w.slices.set(i, c, events, page))
}

// slice works one slice to its end, checkpointing after every page and splitting it while workers are idle.
func (w *backfillRun) slice(ctx context.Context, i int) error {
	c := w.slices.get(i)
	restarted := false
	for !c.Done {
		if err := ctx.Err(); err != nil {
			return err
		}
		q := LookupQuery{EventName: c.EventName, Start: c.Start, End: c.End}
		page, err := w.src.LookupPage(ctx, q, c.Next)
		if errors.Is(err, ErrTokenExpired) && c.Next != "" && !restarted {
			w.log.WarnContext(ctx, "lookup token expired; restarting slice", "runId", c.RunID, "eventName", c.EventName, "start", c.Start)
			c, restarted = restartSlice(c), true
			continue
		}
		if err != nil {
			return fmt.Errorf("backfill %s %s from %s: %w", c.RunID, c.EventName, c.Start.Format(time.RFC3339), err)
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
		if !c.Done && w.sched.starving() && worthSplitting(c, len(page.Records), prev) {
			if c, err = w.split(ctx, i, c); err != nil {
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

// split writes the two halves of c (splitSlice), the parent first, and queues the new slice.
func (w *backfillRun) split(ctx context.Context, i int, c Checkpoint) (Checkpoint, error) {
	parent, child := splitSlice(c, w.now())
	if err := w.save(ctx, &parent); err != nil {
		return c, err
	}
	if err := w.save(ctx, &child); err != nil {
		return parent, err
	}
	w.set(i, parent, 0, false)
	w.sched.add(w.slices.add(child))
	return parent, nil
}
