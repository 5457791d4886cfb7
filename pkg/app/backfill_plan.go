package app

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// Planning a backfill: which window, which event names, which run id, and the slices the window is cut into.

// ErrBadBackfill is the kind of a backfill request that cannot be run; the error is an *InputError naming the field.
// It is also ErrInvalid.
var ErrBadBackfill error = &subKind{text: "invalid backfill request", parent: ErrInvalid}

// HistoryWindow is how far back CloudTrail's event history goes.
const HistoryWindow = 90 * 24 * time.Hour

// Backfill defaults. 2 requests/s at 1-4 s per call need 5 to 8 calls in flight (performance.md §3), so 8 workers.
// Each event name starts as two slices; slices are then split while a worker is idle (Backfill.split), so the
// number of slices follows the volume and stays near the number of workers: every slice ends with a partial page,
// so more slices than workers would only waste requests.
const (
	DefaultBackfillWorkers = 8
	DefaultSlicesPerName   = 2
)

// GrantEventNames are always backfilled; UseEventNames only on request (their volume is large: every Decrypt in
// the Region, since LookupEvents cannot filter on the caller).
var (
	GrantEventNames = []string{lifecycle.CreateGrant, lifecycle.RetireGrant, lifecycle.RevokeGrant}
	UseEventNames   = []string{lifecycle.Decrypt, lifecycle.GenerateDataKey, lifecycle.GenerateDataKeyWithoutPlaintext, lifecycle.DescribeKey}
)

// BackfillRequest is what to backfill. RunID is derived from the window and event names when empty. Targets are
// the accounts and Regions to read (none: the caller's own); they are not part of the run's identity, so the same
// run can be continued with more targets, and each target's slices are checkpointed apart.
type BackfillRequest struct {
	Since, Until time.Time
	IncludeUse   bool
	RunID        string
	Targets      []Target
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

// Plan validates req at time now and returns the run it describes (not yet stored), with slicesPerName slices per
// event name (DefaultSlicesPerName when not positive). A since older than the history window is clamped to it
// (CloudTrail holds nothing older); an until in the future, or a since not before until, is an error of kind
// ErrBadBackfill.
func Plan(req BackfillRequest, now time.Time, slicesPerName int) (BackfillRun, error) {
	now = now.UTC()
	bad := func(field string, t time.Time, problem string) error {
		return &InputError{Field: field, Value: t.UTC().Format(time.RFC3339), Problem: problem, Kind: ErrBadBackfill}
	}
	earliest := now.Add(-HistoryWindow)
	switch {
	case req.Since.IsZero():
		return BackfillRun{}, &InputError{Field: "since", Problem: "is required (an RFC 3339 time)", Kind: ErrBadBackfill}
	case req.Until.IsZero():
		return BackfillRun{}, &InputError{Field: "until", Problem: "is required (an RFC 3339 time)", Kind: ErrBadBackfill}
	case !req.Since.Before(req.Until):
		return BackfillRun{}, bad("since", req.Since, "is not before until "+req.Until.UTC().Format(time.RFC3339))
	case req.Until.After(now.Add(5 * time.Minute)):
		return BackfillRun{}, bad("until", req.Until, "is in the future")
	case req.Until.Before(earliest):
		return BackfillRun{}, bad("until", req.Until, "is older than CloudTrail's 90-day event history (earliest "+earliest.Format(time.RFC3339)+")")
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
	if since.Before(earliest) {
		since = earliest.Truncate(time.Second).Add(time.Second)
	}
	if slicesPerName <= 0 {
		slicesPerName = DefaultSlicesPerName
	}
	return BackfillRun{ID: id, Requested: requested, Since: since, Until: req.Until.UTC(), EventNames: names, Slices: slicesPerName, CreatedAt: now}, nil
}

// slicesOf splits the run's window into whole-second slices per event name, for target t (CloudTrail event times are
// whole seconds; the source maps [Start, End) to LookupEvents' inclusive bounds).
func slicesOf(run BackfillRun, t Target) []Checkpoint {
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
			out = append(out, Checkpoint{RunID: run.ID, Account: t.Account, Region: t.Region, EventName: name, Start: s, End: e})
		}
	}
	return out
}
