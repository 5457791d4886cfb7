package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// The checkpoint protocol of a backfill. Each slice's position (the NextToken after its last completed page) is
// written with a conditional write after the page's events were ingested, so a run killed and restarted with the
// same run id re-reads at most the page each slice was on (its events then count as duplicates) and counts every
// record once:
//   - after a page, afterPage: the next token, the oldest event time read (pages are newest first) and the ids
//     read at that second, so that a slice split there skips them;
//   - when a token expires, restartSlice: the slice is read again from its start;
//   - a split, splitSlice: two writes, the shrunk parent first with the new slice recorded as its Spawn, so that a
//     crash between them loses nothing (resume creates the Spawn);
//   - at start, resume: the plan's slices, replaced by their stored checkpoints, plus the slices split off since.
//
// A slice belongs to one target (account and Region): each target's slices are resumed, split and finished on
// their own, so a run over many accounts continues each where it stopped, and adding a target to a run that has
// read others reads only the new one.

// Checkpoint is the position of one slice of a run after its last completed page.
type Checkpoint struct {
	RunID     string        `json:"runId"`
	Account   string        `json:"account,omitempty"` // the target's; both empty for the caller's own account and Region
	Region    string        `json:"region,omitempty"`
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

// CheckpointStore keeps runs and checkpoints. Writes are conditional on the version read (0: must not exist).
type CheckpointStore interface {
	LoadRun(ctx context.Context, runID string) (BackfillRun, error) // zero BackfillRun when none
	SaveRun(ctx context.Context, r BackfillRun) error
	LoadCheckpoints(ctx context.Context, runID string) ([]Checkpoint, error)
	SaveCheckpoint(ctx context.Context, c Checkpoint) error
}

// afterPage returns c advanced past page, whose records counted st: its next token, one more page, done on the
// last page, and the oldest second read with the ids read in it.
func afterPage(c Checkpoint, page LookupPage, st BackfillStats, now time.Time) Checkpoint {
	next := c
	next.Next, next.Pages, next.Done, next.UpdatedAt = page.Next, c.Pages+1, page.Next == "", now.UTC()
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
	return next
}

// restartSlice returns c ready to be read again from its start, after its NextToken was refused: its counts
// restart with it (ingest is idempotent), and the ids at its boundary join what it skips.
func restartSlice(c Checkpoint) Checkpoint {
	c.Skip = append(c.Skip, c.Boundary...)
	c.Next, c.Pages, c.Stats, c.Covered, c.Boundary = "", 0, BackfillStats{}, time.Time{}, nil
	return c
}

// splitMinEvents: a slice is split only when about this many events are estimated to remain in it.
const splitMinEvents = 100

// worthSplitting estimates, from the density of the last page (n events between prev and c.Covered), whether
// enough events remain in [c.Start, c.Covered] to pay for a second slice, and whether that range can be halved.
func worthSplitting(c Checkpoint, n int, prev time.Time) bool {
	if c.Covered.IsZero() || c.Covered.Sub(c.Start) < 2*time.Second {
		return false
	}
	span := prev.Sub(c.Covered) + time.Second
	return float64(n)*float64(c.Covered.Sub(c.Start))/float64(span) >= splitMinEvents
}

// splitSlice gives up c's NextToken: what remains unread is [c.Start, c.Covered], so the parent becomes the fresh
// slice [c.Start, mid) and the child [mid, c.Covered+1s) skips the ids c already read at second c.Covered. The
// parent records the child as its Spawn, so that writing the parent first decides both.
func splitSlice(c Checkpoint, now time.Time) (parent, child Checkpoint) {
	end := c.Covered.Add(time.Second)
	mid := c.Start.Add((end.Sub(c.Start) / 2).Truncate(time.Second))
	child = Checkpoint{RunID: c.RunID, Account: c.Account, Region: c.Region, EventName: c.EventName, Start: mid, End: end,
		Skip: slices.Clone(c.Boundary), UpdatedAt: now.UTC()}
	parent = c
	parent.End, parent.Next, parent.Covered, parent.Boundary, parent.Spawn = mid, "", time.Time{}, nil, &child
	return parent, child
}

// Target is the account and Region the slice reads.
func (c Checkpoint) Target() Target { return Target{Account: c.Account, Region: c.Region} }

// sliceID identifies a slice within its run: its target, event name and start.
func sliceID(c Checkpoint) string {
	return c.Account + "#" + c.Region + "#" + c.EventName + "#" + c.Start.UTC().Format(time.RFC3339)
}

// resume returns the target's slices of the run: the plan's, replaced by their stored checkpoints, plus slices split
// off since, including one whose creation a crash interrupted (it is recorded as its parent's Spawn). Stored
// checkpoints of other targets are left out.
func resume(run BackfillRun, t Target, stored []Checkpoint) []Checkpoint {
	seen := map[string]bool{}
	var out []Checkpoint
	stored = slices.DeleteFunc(slices.Clone(stored), func(c Checkpoint) bool { return c.Target() != t })
	for _, c := range stored {
		seen[sliceID(c)] = true
		out = append(out, c)
	}
	for _, c := range stored {
		if c.Spawn != nil && !seen[sliceID(*c.Spawn)] {
			seen[sliceID(*c.Spawn)] = true
			out = append(out, *c.Spawn)
		}
	}
	for _, c := range slicesOf(run, t) {
		if !seen[sliceID(c)] {
			out = append(out, c)
		}
	}
	return out
}

// save writes c conditionally and bumps its version. Losing the condition means another process works the slice.
func (b *Backfill) save(ctx context.Context, c *Checkpoint) error {
	if err := b.cps.SaveCheckpoint(ctx, *c); err != nil {
		if errors.Is(err, ErrConflict) {
			return fmt.Errorf("backfill %s: slice %s from %s is being worked by another process: %w", c.RunID, c.EventName, c.Start.Format(time.RFC3339), err)
		}
		return err
	}
	c.Version++
	return nil
}
