package app

import (
	"sync"
	"time"
)

// A backfill's progress: the run's slices as its workers move them, the share of the window read, and the ETA
// that share gives.

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

// runSlices holds the checkpoints of a run's slices, of every target, while workers move them, and what this
// invocation read.
type runSlices struct {
	run     BackfillRun
	targets int
	now     func() time.Time
	started time.Time
	f0      float64 // the fraction read when this invocation started: the ETA counts only this invocation's pace

	mu     sync.Mutex
	cps    []Checkpoint
	events int
	pages  int
	seq    uint64 // snapshots taken, so that they are reported in order
}

func newRunSlices(run BackfillRun, targets int, cps []Checkpoint, now func() time.Time) *runSlices {
	return &runSlices{run: run, targets: targets, now: now, started: now(), cps: cps, f0: fractionRead(run, targets, cps)}
}

// pending returns the indexes of the target's slices not done, in order.
func (r *runSlices) pending(t Target) []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int
	for i, c := range r.cps {
		if !c.Done && c.Target() == t {
			out = append(out, i)
		}
	}
	return out
}

// of returns the target's slices as they are now.
func (r *runSlices) of(t Target) []Checkpoint {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Checkpoint
	for _, c := range r.cps {
		if c.Target() == t {
			out = append(out, c)
		}
	}
	return out
}

func (r *runSlices) get(i int) Checkpoint {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cps[i]
}

// add appends a slice and returns its index.
func (r *runSlices) add(c Checkpoint) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cps = append(r.cps, c)
	return len(r.cps) - 1
}

// set records slice i's new checkpoint after a page of events (page true) or a split, and returns the progress
// then with its sequence number, for a progressReporter.
func (r *runSlices) set(i int, c Checkpoint, events int, page bool) (uint64, BackfillProgress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cps[i] = c
	r.events += events
	if page {
		r.pages++
	}
	r.seq++
	return r.seq, r.progressLocked()
}

func (r *runSlices) progress() BackfillProgress {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.progressLocked()
}

func (r *runSlices) progressLocked() BackfillProgress {
	p := BackfillProgress{RunID: r.run.ID, EventsThisRun: r.events, Pages: r.pages, Slices: len(r.cps), Elapsed: r.now().Sub(r.started)}
	for _, c := range r.cps {
		p.Stats.add(c.Stats)
		if c.Done {
			p.SlicesDone++
		}
	}
	p.Fraction = fractionRead(r.run, r.targets, r.cps)
	p.ETA = eta(p.Elapsed, r.f0, p.Fraction)
	return p
}

// fractionRead estimates progress as the share of the window (per event name and target) read: a slice is read from
// its end down to the oldest event seen, so its unread part is [Start, Covered). It assumes evenly spread events.
func fractionRead(run BackfillRun, targets int, cps []Checkpoint) float64 {
	total := float64(run.Until.Sub(run.Since)) * float64(len(run.EventNames)) * float64(max(targets, 1))
	if total <= 0 {
		return 1
	}
	var unread float64
	for _, c := range cps {
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

// eta extrapolates the time left from the pace of this invocation: the share read since it started (from f0 to f)
// took elapsed. Zero when nothing was read yet or everything is.
func eta(elapsed time.Duration, f0, f float64) time.Duration {
	done := f - f0
	if done <= 0 || f >= 1 {
		return 0
	}
	return time.Duration(float64(elapsed) * (1 - f) / done).Round(time.Second)
}

// progressReporter calls fn with snapshots in the order of their sequence numbers, one call at a time, without a
// lock held during the call: the worker holding the next number is the only one that may proceed, so calls are
// serialised by the sequence alone.
type progressReporter struct {
	fn   func(BackfillProgress) // nil: nothing is reported
	mu   sync.Mutex
	cond *sync.Cond
	last uint64 // the sequence number last reported
}

func newProgressReporter(fn func(BackfillProgress)) *progressReporter {
	r := &progressReporter{fn: fn}
	r.cond = sync.NewCond(&r.mu)
	return r
}

// report reports snapshot p, numbered seq, after every snapshot numbered before it. Every number from 1 up must be
// reported, once.
func (r *progressReporter) report(seq uint64, p BackfillProgress) {
	if r.fn == nil {
		return
	}
	r.mu.Lock()
	for r.last+1 != seq {
		r.cond.Wait()
	}
	r.mu.Unlock()
	r.fn(p)
	r.mu.Lock()
	r.last = seq
	r.cond.Broadcast()
	r.mu.Unlock()
}
