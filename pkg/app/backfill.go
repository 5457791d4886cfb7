package app

// The Backfill use case (issue 5): read CloudTrail's event history (LookupEvents) for a time window and feed every
// record to the same Ingest as live events, so overlap with live delivery is harmless (idempotent by eventID).
// LookupEvents allows 2 requests/s per account and Region, 50 events a page and one lookup attribute per call, so
// the window is split into time slices per event name, worked in parallel under the source's shared rate limiter.
// Each slice's position (the NextToken after its last completed page) is checkpointed with a conditional write after
// the page's events were ingested: a run killed and restarted with the same run id re-reads at most the page it was
// on (whose events then count as duplicates) and counts every record once.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

var (
	// ErrBadBackfill means a backfill request is not acceptable; the message names the input.
	ErrBadBackfill = errors.New("app: invalid backfill request")
	// ErrTokenExpired is returned by an EventSource when a NextToken is no longer accepted: the slice restarts.
	ErrTokenExpired = errors.New("app: lookup token no longer valid")
)

// HistoryWindow is how far back CloudTrail's event history goes.
const HistoryWindow = 90 * 24 * time.Hour

// Backfill defaults. 2 requests/s at 1-4 s per call need 5 to 8 calls in flight (performance.md §3), so 8 workers.
// Each event name starts as two slices; slices are then split while a worker is idle (see split), so the number of
// slices follows the volume and stays near the number of workers: every slice ends with a partial page, so more
// slices than workers would only waste requests.
const (
	DefaultBackfillWorkers = 8
	DefaultSlicesPerName   = 2
	// splitMinEvents: a slice is split only when about this many events are estimated to remain in it.
	splitMinEvents = 100
)

// GrantEventNames are always backfilled; UseEventNames only on request (their volume is large: every Decrypt in
// the Region, since LookupEvents cannot filter on the caller).
var (
	GrantEventNames = []string{lifecycle.CreateGrant, lifecycle.RetireGrant, lifecycle.RevokeGrant}
	UseEventNames   = []string{lifecycle.Decrypt, lifecycle.GenerateDataKey, lifecycle.GenerateDataKeyWithoutPlaintext, lifecycle.DescribeKey}
)

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

// BackfillRun is the plan of a run, stored once so that a restart works the same slices.
type BackfillRun struct {
	ID         string    `json:"runId"`
	Requested  string    `json:"requested"` // the request as given, to refuse the same id for another request
	Since      time.Time `json:"since"`     // effective window (since clamped to the history window)
	Until      time.Time `json:"until"`
	EventNames []string  `json:"eventNames"`
	Slices     int       `json:"slicesPerName"`
	CreatedAt  time.Time `json:"createdAt"`
	Version    int64     `json:"version"`
}

// BackfillStats counts records. Events = Applied + Duplicates + Ignored + Rejected.
type BackfillStats struct {
	Events     int `json:"events"`
	Applied    int `json:"applied"`
	Duplicates int `json:"duplicates"`
	Ignored    int `json:"ignored"`
	Rejected   int `json:"rejected"`
}

func (s *BackfillStats) add(o BackfillStats) {
	s.Events += o.Events
	s.Applied += o.Applied
	s.Duplicates += o.Duplicates
	s.Ignored += o.Ignored
	s.Rejected += o.Rejected
}

// Checkpoint is the position of one slice of a run after its last completed page.
type Checkpoint struct {
	RunID     string        `json:"runId"`
	EventName string        `json:"eventName"`
	Start     time.Time     `json:"start"`
	End       time.Time     `json:"end"`
	Next      string        `json:"nextToken,omitempty"` // where the next page starts; empty before the first page
	Pages     int           `json:"pages"`               // pages completed
	Covered   time.Time     `json:"covered,omitzero"`    // oldest event time read so far (pages are newest first)
	Boundary  []string      `json:"boundary,omitempty"`  // ids read at second Covered
	Skip      []string      `json:"skip,omitempty"`      // ids already read by the slice this one was split from
	Spawn     *Checkpoint   `json:"spawn,omitempty"`     // the slice split off this one; created from here after a crash
	Done      bool          `json:"done"`
	Stats     BackfillStats `json:"stats"`
	UpdatedAt time.Time     `json:"updatedAt"`
	Version   int64         `json:"version"`
}

// CheckpointStore keeps runs and checkpoints. Writes are conditional on the version read (0: must not exist).
type CheckpointStore interface {
	LoadRun(ctx context.Context, runID string) (BackfillRun, error) // zero BackfillRun when none
	SaveRun(ctx context.Context, r BackfillRun) error
	LoadCheckpoints(ctx context.Context, runID string) ([]Checkpoint, error)
	SaveCheckpoint(ctx context.Context, c Checkpoint) error
}

// Ingester is what Backfill feeds: app.Service.
type Ingester interface {
	Ingest(ctx context.Context, ev lifecycle.Event) (lifecycle.Result, error)
	Reject(ctx context.Context, source, eventID string, raw []byte, cause error) error
}

var _ Ingester = (*Service)(nil)

// BackfillRequest is what to backfill. RunID is derived from the rest when empty.
type BackfillRequest struct {
	Since, Until time.Time
	IncludeUse   bool
	RunID        string
}

// BackfillProgress is reported after every page.
type BackfillProgress struct {
	RunID         string
	Stats         BackfillStats // the whole run, earlier invocations included
	EventsThisRun int
	Pages         int
	Slices        int
	SlicesDone    int
	Fraction      float64 // share of the window's slice-time read so far, 0..1
	Elapsed       time.Duration
	ETA           time.Duration // 0 when unknown
}

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

// Plan validates req and returns the run it describes (not yet stored). Since older than the history window is
// clamped to it (CloudTrail holds nothing older); an until in the future, or since not before until, is an error.
func (b *Backfill) Plan(req BackfillRequest) (BackfillRun, error) {
	now := b.now().UTC()
	switch {
	case req.Since.IsZero() || req.Until.IsZero():
		return BackfillRun{}, fmt.Errorf("%w: since and until are required (RFC 3339 times)", ErrBadBackfill)
	case !req.Since.Before(req.Until):
		return BackfillRun{}, fmt.Errorf("%w: since %s is not before until %s", ErrBadBackfill, req.Since.Format(time.RFC3339), req.Until.Format(time.RFC3339))
	case req.Until.After(now.Add(5 * time.Minute)):
		return BackfillRun{}, fmt.Errorf("%w: until %s is in the future", ErrBadBackfill, req.Until.Format(time.RFC3339))
	case req.Until.Before(now.Add(-HistoryWindow)):
		return BackfillRun{}, fmt.Errorf("%w: until %s is older than CloudTrail's 90-day event history (earliest %s)", ErrBadBackfill,
			req.Until.Format(time.RFC3339), now.Add(-HistoryWindow).Format(time.RFC3339))
	}
	names := slices.Clone(GrantEventNames)
	if req.IncludeUse {
		names = append(names, UseEventNames...)
	}
	requested := fmt.Sprintf("%s|%s|%s", req.Since.UTC().Format(time.RFC3339Nano), req.Until.UTC().Format(time.RFC3339Nano), strings.Join(names, ","))
	id := req.RunID
	if id == "" {
		sum := sha256.Sum256([]byte(requested))
		id = "bf-" + hex.EncodeToString(sum[:8])
	}
	since := req.Since.UTC()
	if earliest := now.Add(-HistoryWindow); since.Before(earliest) {
		since = earliest.Truncate(time.Second).Add(time.Second)
	}
	n := b.Slices
	if n <= 0 {
		n = DefaultSlicesPerName
	}
	return BackfillRun{ID: id, Requested: requested, Since: since, Until: req.Until.UTC(), EventNames: names, Slices: n, CreatedAt: now}, nil
}

// slicesOf splits the run's window into whole-second slices per event name (CloudTrail event times are whole
// seconds; the source maps [Start, End) to LookupEvents' inclusive bounds).
func slicesOf(run BackfillRun) []Checkpoint {
	start, end := run.Since.Truncate(time.Second), run.Until.Truncate(time.Second)
	if end.Before(run.Until) {
		end = end.Add(time.Second)
	}
	secs := int64(end.Sub(start) / time.Second)
	n := int64(run.Slices)
	if secs < n {
		n = max(secs, 1)
	}
	var out []Checkpoint
	for _, name := range run.EventNames {
		for i := range n {
			s := start.Add(time.Duration(secs*i/n) * time.Second)
			e := start.Add(time.Duration(secs*(i+1)/n) * time.Second)
			out = append(out, Checkpoint{RunID: run.ID, EventName: name, Start: s, End: e})
		}
	}
	return out
}

// Run backfills req, resuming the run with the same id if one was started. It returns when every slice is done,
// on the first error, or when ctx ends (the report then says Complete false; run it again to continue).
func (b *Backfill) Run(ctx context.Context, req BackfillRequest) (BackfillReport, error) {
	plan, err := b.Plan(req)
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
			return BackfillReport{}, fmt.Errorf("app: backfill %s: store run: %w", plan.ID, err)
		}
		run = plan
	case run.Requested != plan.Requested:
		return BackfillReport{}, fmt.Errorf("%w: run %s was started for %s, not %s; choose another run id", ErrBadBackfill, run.ID, run.Requested, plan.Requested)
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
	t := newTracker(b, run, resume(run, stored))
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(ctx, t.wake)
	defer stop()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i, ok := t.next(ctx)
				if !ok {
					return
				}
				err := b.slice(ctx, t, i)
				t.finish()
				if err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	rep := BackfillReport{RunID: run.ID, Since: run.Since, Until: run.Until, Names: run.EventNames, Progress: t.progress()}
	rep.Complete = rep.Progress.SlicesDone == rep.Progress.Slices
	if err := context.Cause(ctx); err != nil && !rep.Complete {
		return rep, err
	}
	return rep, nil
}

func sliceKey(c Checkpoint) string { return c.EventName + "#" + c.Start.UTC().Format(time.RFC3339) }

// resume returns the run's slices: the plan's, replaced by their stored checkpoints, plus slices split off since,
// including one whose creation a crash interrupted (it is recorded as its parent's Spawn).
func resume(run BackfillRun, stored []Checkpoint) []Checkpoint {
	byKey := map[string]bool{}
	var out []Checkpoint
	for _, c := range stored {
		byKey[sliceKey(c)] = true
		out = append(out, c)
	}
	for _, c := range stored {
		if c.Spawn != nil && !byKey[sliceKey(*c.Spawn)] {
			byKey[sliceKey(*c.Spawn)] = true
			out = append(out, *c.Spawn)
		}
	}
	for _, c := range slicesOf(run) {
		if !byKey[sliceKey(c)] {
			out = append(out, c)
		}
	}
	return out
}

// slice works one slice to its end, checkpointing after every page and splitting it while workers are idle.
func (b *Backfill) slice(ctx context.Context, t *tracker, i int) error {
	c := t.get(i)
	restarted := false
	for !c.Done {
		if err := ctx.Err(); err != nil {
			return err
		}
		q := LookupQuery{EventName: c.EventName, Start: c.Start, End: c.End}
		page, err := b.src.LookupPage(ctx, q, c.Next)
		if errors.Is(err, ErrTokenExpired) && c.Next != "" && !restarted {
			// Re-read the slice from its start; ingest is idempotent. Its counts restart with it.
			b.log.WarnContext(ctx, "lookup token expired; restarting slice", "runId", c.RunID, "eventName", c.EventName, "start", c.Start)
			c.Skip = append(c.Skip, c.Boundary...)
			c.Next, c.Pages, c.Stats, c.Covered, c.Boundary, restarted = "", 0, BackfillStats{}, time.Time{}, nil, true
			continue
		}
		if err != nil {
			return fmt.Errorf("app: backfill %s %s from %s: %w", c.RunID, c.EventName, c.Start.Format(time.RFC3339), err)
		}
		st, err := b.ingestPage(ctx, c, page)
		if err != nil {
			return err
		}
		prev := c.End
		if !c.Covered.IsZero() {
			prev = c.Covered
		}
		next := c
		next.Next, next.Pages, next.Done, next.UpdatedAt = page.Next, c.Pages+1, page.Next == "", b.now().UTC()
		next.Stats.add(st)
		if !page.Oldest.IsZero() {
			if !page.Oldest.Equal(c.Covered) {
				next.Boundary = nil
			}
			next.Covered = page.Oldest
			for _, rec := range page.Records {
				if rec.Time.Equal(page.Oldest) {
					next.Boundary = append(slices.Clone(next.Boundary), rec.EventID)
				}
			}
		}
		if next.Done {
			next.Boundary = nil // Spawn stays: it re-creates a split-off slice a crash kept from being written
		}
		if err := b.save(ctx, &next); err != nil {
			return err
		}
		c = next
		t.set(i, c, st.Events, true)
		if !c.Done && t.wantSplit() && worthSplitting(c, len(page.Records), prev) {
			if c, err = b.split(ctx, t, i, c); err != nil {
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
				return st, fmt.Errorf("app: backfill %s: ingest %s: %w", c.RunID, rec.EventID, err)
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

// save writes c conditionally and bumps its version.
func (b *Backfill) save(ctx context.Context, c *Checkpoint) error {
	if err := b.cps.SaveCheckpoint(ctx, *c); err != nil {
		if errors.Is(err, ErrConflict) {
			return fmt.Errorf("app: backfill %s: slice %s from %s is being worked by another process: %w", c.RunID, c.EventName, c.Start.Format(time.RFC3339), err)
		}
		return err
	}
	c.Version++
	return nil
}

// worthSplitting estimates, from the density of the last page (n events between prev and c.Covered), whether
// enough events remain in [c.Start, c.Covered] to pay for a second slice, and whether that range can be halved.
func worthSplitting(c Checkpoint, n int, prev time.Time) bool {
	if c.Covered.IsZero() || c.Covered.Sub(c.Start) < 2*time.Second {
		return false
	}
	span := prev.Sub(c.Covered) + time.Second
	return float64(n)*float64(c.Covered.Sub(c.Start))/float64(span) >= splitMinEvents
}

// split gives up c's NextToken: what remains unread is [c.Start, c.Covered], so c becomes the fresh slice
// [c.Start, mid) and a new slice [mid, c.Covered+1s) skips the ids c already read at second c.Covered. Both are
// decided by one conditional write of c (the new slice is recorded as c.Spawn, so a crash before it is written
// loses nothing), then the new slice is written and queued.
func (b *Backfill) split(ctx context.Context, t *tracker, i int, c Checkpoint) (Checkpoint, error) {
	end := c.Covered.Add(time.Second)
	mid := c.Start.Add((end.Sub(c.Start) / 2).Truncate(time.Second))
	child := Checkpoint{RunID: c.RunID, EventName: c.EventName, Start: mid, End: end, Skip: slices.Clone(c.Boundary), UpdatedAt: b.now().UTC()}
	parent := c
	parent.End, parent.Next, parent.Covered, parent.Boundary, parent.Spawn = mid, "", time.Time{}, nil, &child
	if err := b.save(ctx, &parent); err != nil {
		return c, err
	}
	if err := b.save(ctx, &child); err != nil {
		return parent, err
	}
	t.set(i, parent, 0, false)
	t.add(child)
	return parent, nil
}

// tracker holds the run's slices, hands them to workers and reports progress.
type tracker struct {
	b       *Backfill
	run     BackfillRun
	mu      sync.Mutex
	cond    *sync.Cond
	cps     []Checkpoint
	queue   []int
	active  int
	idle    int
	started time.Time
	f0      float64
	events  int
	pages   int
}

func newTracker(b *Backfill, run BackfillRun, cps []Checkpoint) *tracker {
	t := &tracker{b: b, run: run, cps: cps, started: b.now()}
	t.cond = sync.NewCond(&t.mu)
	for i, c := range cps {
		if !c.Done {
			t.queue = append(t.queue, i)
		}
	}
	t.f0 = t.fractionLocked()
	return t
}

// next hands out a queued slice; it waits while others are being worked (they may split) and reports false when
// nothing is left or ctx ended.
func (t *tracker) next(ctx context.Context) (int, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for {
		switch {
		case ctx.Err() != nil:
			return -1, false
		case len(t.queue) > 0:
			i := t.queue[0]
			t.queue = t.queue[1:]
			t.active++
			return i, true
		case t.active == 0:
			return -1, false
		}
		t.idle++
		t.cond.Wait()
		t.idle--
	}
}

func (t *tracker) finish() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.active--
	t.cond.Broadcast()
}

func (t *tracker) wake() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cond.Broadcast()
}

// wantSplit reports whether a worker is idle with nothing queued.
func (t *tracker) wantSplit() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.idle > 0 && len(t.queue) == 0
}

func (t *tracker) add(c Checkpoint) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cps = append(t.cps, c)
	t.queue = append(t.queue, len(t.cps)-1)
	t.cond.Signal()
}

func (t *tracker) get(i int) Checkpoint {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cps[i]
}

// set records slice i's new checkpoint; page says whether a page was read (else it was split).
func (t *tracker) set(i int, c Checkpoint, events int, page bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cps[i] = c
	t.events += events
	if page {
		t.pages++
	}
	if t.b.Progress != nil {
		t.b.Progress(t.progressLocked())
	}
}

func (t *tracker) progress() BackfillProgress {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.progressLocked()
}

func (t *tracker) progressLocked() BackfillProgress {
	p := BackfillProgress{RunID: t.run.ID, EventsThisRun: t.events, Pages: t.pages, Slices: len(t.cps), Elapsed: t.b.now().Sub(t.started)}
	for _, c := range t.cps {
		p.Stats.add(c.Stats)
		if c.Done {
			p.SlicesDone++
		}
	}
	p.Fraction = t.fractionLocked()
	if done := p.Fraction - t.f0; done > 0 && p.Fraction < 1 {
		p.ETA = time.Duration(float64(p.Elapsed) * (1 - p.Fraction) / done).Round(time.Second)
	}
	return p
}

// fractionLocked estimates progress as the share of the window (per event name) read: a slice is read from its
// end down to the oldest event seen, so its unread part is [Start, Covered). It assumes evenly spread events.
func (t *tracker) fractionLocked() float64 {
	total := float64(t.run.Until.Sub(t.run.Since)) * float64(len(t.run.EventNames))
	if total <= 0 {
		return 1
	}
	var unread float64
	for _, c := range t.cps {
		switch {
		case c.Done:
		case !c.Covered.IsZero():
			unread += max(0, float64(c.Covered.Sub(c.Start)))
		default:
			unread += float64(c.End.Sub(c.Start))
		}
	}
	return max(0, min(1, 1-unread/total))
}
