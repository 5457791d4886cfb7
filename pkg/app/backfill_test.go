package app_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/grantwatch/grantwatch/internal/fixture"
	"github.com/grantwatch/grantwatch/internal/lookuptest"
	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/lookup"
	"github.com/grantwatch/grantwatch/pkg/store"
	"github.com/grantwatch/grantwatch/pkg/trail"
)

// backfillNow is the clock of the backfill tests: the window [since, until) lies within the 90-day history.
var backfillNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func lookupOn(srv *lookuptest.Server, o lookup.Options) *lookup.Lookup {
	return lookup.New(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}, o)
}

// historyCount returns how many times each event id is in the store's grant histories.
func historyCount(t *testing.T, m app.Store, evs []lookuptest.Event) map[string]int {
	t.Helper()
	got := map[string]int{}
	keys := map[string]bool{}
	for _, e := range evs {
		rec, err := trail.Decode([]byte(e.Record))
		if err != nil {
			t.Fatal(err)
		}
		ev, err := rec.Event()
		if err != nil {
			t.Fatal(err)
		}
		keys[ev.KeyARN] = true
	}
	for arn := range keys {
		k, err := m.LoadKey(context.Background(), arn, lifecycle.Load{Scope: lifecycle.ScopeAll})
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range k.Grants {
			for _, h := range g.History {
				got[h.EventID]++
			}
		}
	}
	return got
}

func checkExactlyOnce(t *testing.T, m app.Store, evs []lookuptest.Event) {
	t.Helper()
	got := historyCount(t, m, evs)
	for _, e := range evs {
		if got[e.ID] != 1 {
			t.Errorf("event %s (%s) is in the store %d times; want exactly 1", e.ID, e.Name, got[e.ID])
		}
	}
	if len(got) != len(evs) {
		t.Errorf("store holds %d distinct events; want %d", len(got), len(evs))
	}
}

// TestBackfillLookup runs a whole backfill through the real SDK client against the local endpoint, including a
// server slower than the client's limiter, so that throttling happens and the SDK's retries absorb it.
func TestBackfillLookup(t *testing.T) {
	since, until := backfillNow.Add(-48*time.Hour), backfillNow.Add(-time.Hour)
	evs := lookuptest.GrantEvents(400, 80, 16, since, until)
	tests := []struct {
		name          string
		server, limit float64
		burst         int // the server's; at 40 requests/s a connection set-up can delay one request past the next
		wantThrottled bool
	}{
		// Within the rate. The server's burst absorbs the bunching of a stalled process (the race detector on a
		// loaded machine holds requests back, then lets several go at once); the pacing is the client's.
		{name: "within the rate", server: 40, limit: 40, burst: 10},
		{name: "client faster than the server", server: 10, limit: 40, burst: 2, wantThrottled: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := lookuptest.New(lookuptest.Options{Rate: tt.server, Burst: tt.burst, MaxLatency: 5 * time.Millisecond, Seed: 1})
			defer srv.Close()
			srv.Add(evs...)
			mem := store.NewMemory()
			svc := app.New(mem, nil, lifecycle.DefaultConfig(), fixture.Quiet(), func() time.Time { return backfillNow })
			bf := app.NewBackfill(lookupOn(srv, lookup.Options{Rate: tt.limit, Burst: 1}), mem, svc, fixture.Quiet(), func() time.Time { return backfillNow })
			bf.Slices = 4
			rep, err := bf.Run(context.Background(), app.BackfillRequest{Since: since, Until: until})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if !rep.Complete || rep.Progress.Stats.Events != len(evs) || rep.Progress.Stats.Applied != len(evs) {
				t.Errorf("report = complete %v, stats %+v; want complete with %d events all applied", rep.Complete, rep.Progress.Stats, len(evs))
			}
			checkExactlyOnce(t, mem, evs)
			st := srv.Stats()
			if (st.Throttled > 0) != tt.wantThrottled {
				t.Errorf("server throttled %d requests; want throttling %v", st.Throttled, tt.wantThrottled)
			}
		})
	}
}

func TestBackfillRejectsBadWindows(t *testing.T) {
	bf := app.NewBackfill(nil, store.NewMemory(), nil, fixture.Quiet(), func() time.Time { return backfillNow })
	tests := []struct {
		name         string
		since, until time.Time
		field        string // the *app.InputError's
	}{
		{name: "since after until", since: backfillNow.Add(-time.Hour), until: backfillNow.Add(-2 * time.Hour), field: "since"},
		{name: "empty window", since: backfillNow.Add(-time.Hour), until: backfillNow.Add(-time.Hour), field: "since"},
		{name: "until in the future", since: backfillNow.Add(-time.Hour), until: backfillNow.Add(time.Hour), field: "until"},
		{name: "window older than 90 days", since: backfillNow.Add(-100 * 24 * time.Hour), until: backfillNow.Add(-95 * 24 * time.Hour), field: "until"},
		{name: "missing since", until: backfillNow, field: "since"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := bf.Run(context.Background(), app.BackfillRequest{Since: tt.since, Until: tt.until})
			var ie *app.InputError
			if !errors.Is(err, app.ErrBadBackfill) || !errors.Is(err, app.ErrInvalid) || !errors.As(err, &ie) || ie.Field != tt.field {
				t.Errorf("Run(%s, %s) error = %v; want an ErrBadBackfill InputError on %s", tt.since, tt.until, err, tt.field)
			}
		})
	}
	// Older than 90 days but ending inside the window: clamped, not refused.
	run, err := app.Plan(app.BackfillRequest{Since: backfillNow.Add(-120 * 24 * time.Hour), Until: backfillNow}, backfillNow, 0)
	if err != nil || run.Since.Before(backfillNow.Add(-app.HistoryWindow)) {
		t.Errorf("Plan(120 days) = since %s, %v; want since clamped to the 90-day window", run.Since, err)
	}
}

// killingStore dies (every later checkpoint write fails) on the killAt-th checkpoint write: the worst moment for a
// crash, after a page's events were ingested and before its checkpoint was written.
type killingStore struct {
	app.CheckpointStore
	killAt int64
	saves  atomic.Int64
	kill   func()
	once   sync.Once
	at     func(app.Checkpoint) bool // when set, die at the first write it matches instead of at killAt
	dead   atomic.Bool
}

var errKilled = errors.New("killed")

func (k *killingStore) SaveCheckpoint(ctx context.Context, c app.Checkpoint) error {
	if k.at != nil {
		if k.dead.Load() || k.at(c) {
			k.dead.Store(true)
			k.once.Do(k.kill)
			return errKilled
		}
		return k.CheckpointStore.SaveCheckpoint(ctx, c)
	}
	if k.saves.Add(1) >= k.killAt {
		k.once.Do(k.kill)
		return errKilled
	}
	return k.CheckpointStore.SaveCheckpoint(ctx, c)
}

// TestBackfillKillAndResume interrupts a backfill midway, restarts it with the same request (hence the same run
// id), and checks that every event is in the store exactly once, the run counts every record once, and the restart
// re-read only the pages that were in flight when it died.
func TestBackfillKillAndResume(t *testing.T) {
	testKillAndResume(t, store.NewMemory(), 1000, 12)
}

// backfillStore is a store for grants and checkpoints: store.Memory or store.Table.
type backfillStore interface {
	app.Store
	app.CheckpointStore
}

func testKillAndResume(t *testing.T, mem backfillStore, grants int, killAt int64) {
	since, until := backfillNow.Add(-48*time.Hour), backfillNow.Add(-time.Hour)
	evs := lookuptest.GrantEvents(grants, 80, 32, since, until)
	srv := lookuptest.New(lookuptest.Options{Rate: 200, Burst: 4, MaxLatency: 3 * time.Millisecond, Seed: 2})
	defer srv.Close()
	srv.Add(evs...)
	svc := app.New(mem, nil, lifecycle.DefaultConfig(), fixture.Quiet(), func() time.Time { return backfillNow })
	req := app.BackfillRequest{Since: since, Until: until}
	const workers = 4

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ks := &killingStore{CheckpointStore: mem, killAt: killAt, kill: cancel}
	first := app.NewBackfill(lookupOn(srv, lookup.Options{Rate: 200, Burst: 1}), ks, svc, fixture.Quiet(), func() time.Time { return backfillNow })
	first.Workers, first.Slices = workers, 4
	rep, err := first.Run(ctx, req)
	if err == nil || rep.Complete {
		t.Fatalf("first run: complete %v, err %v; want it killed midway", rep.Complete, err)
	}
	pagesBefore := srv.Stats().Pages
	second := app.NewBackfill(lookupOn(srv, lookup.Options{Rate: 200, Burst: 1}), mem, svc, fixture.Quiet(), func() time.Time { return backfillNow })
	second.Workers, second.Slices = workers, 4
	rep2, err := second.Run(context.Background(), req)
	if err != nil || !rep2.Complete || rep2.RunID != rep.RunID {
		t.Fatalf("resumed run: complete %v, run %s (first %s), err %v; want the same run completed", rep2.Complete, rep2.RunID, rep.RunID, err)
	}
	checkExactlyOnce(t, mem, evs)
	if rep2.Progress.Stats.Events != len(evs) {
		t.Errorf("run counted %d records; want %d (each once)", rep2.Progress.Stats.Events, len(evs))
	}
	st := srv.Stats()
	reread := 0
	for _, e := range evs {
		switch n := st.Served[e.ID]; {
		case n == 0:
			t.Errorf("event %s never served", e.ID)
		case n > 2:
			t.Errorf("event %s served %d times; want at most twice (once more only if in flight at the kill)", e.ID, n)
		case n == 2:
			reread++
		}
	}
	// Only pages in flight when the run died may be read again: at most one page per worker.
	if reread > workers*lookup.PageSize {
		t.Errorf("%d events were read twice; want at most %d (one page per worker)", reread, workers*lookup.PageSize)
	}
	if pagesBefore == 0 || rep2.Progress.Pages >= st.Pages {
		t.Errorf("pages served: %d before the restart, %d in all, %d by the resumed run; want the restart to skip completed pages", pagesBefore, st.Pages, rep2.Progress.Pages)
	}
}

// TestBackfillSplitsCountOnce: with one slice per event name and idle workers, slices are split; several events
// share each second, so a split's new slice starts inside a second partly read and must skip what was read.
func TestBackfillSplitsCountOnce(t *testing.T) {
	since, until := backfillNow.Add(-2*time.Hour), backfillNow.Add(-time.Hour-50*time.Minute)
	evs := lookuptest.GrantEvents(2400, 80, 16, since, until) // 4 grants a second
	srv := lookuptest.New(lookuptest.Options{Rate: 100, Burst: 4, MaxLatency: 5 * time.Millisecond, Seed: 3})
	defer srv.Close()
	srv.Add(evs...)
	mem := store.NewMemory()
	svc := app.New(mem, nil, lifecycle.DefaultConfig(), fixture.Quiet(), func() time.Time { return backfillNow })
	bf := app.NewBackfill(lookupOn(srv, lookup.Options{Rate: 100, Burst: 1}), mem, svc, fixture.Quiet(), func() time.Time { return backfillNow })
	bf.Slices = 1
	rep, err := bf.Run(context.Background(), app.BackfillRequest{Since: since, Until: until})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rep.Progress.Slices <= 3 {
		t.Errorf("slices = %d; want the 3 initial slices split", rep.Progress.Slices)
	}
	if s := rep.Progress.Stats; s.Events != len(evs) || s.Applied != len(evs) || s.Duplicates != 0 {
		t.Errorf("stats = %+v; want %d events, each applied once", s, len(evs))
	}
	checkExactlyOnce(t, mem, evs)
}

// TestBackfillKillDuringSplit dies between the two writes of a split: the shrunk slice is stored with its Spawn,
// the split-off slice is not. The restart must re-create it from the Spawn, or its events would be lost.
func TestBackfillKillDuringSplit(t *testing.T) {
	since, until := backfillNow.Add(-2*time.Hour), backfillNow.Add(-time.Hour-50*time.Minute)
	evs := lookuptest.GrantEvents(2400, 80, 16, since, until)
	srv := lookuptest.New(lookuptest.Options{Rate: 100, Burst: 4, MaxLatency: 5 * time.Millisecond, Seed: 4})
	defer srv.Close()
	srv.Add(evs...)
	mem := store.NewMemory()
	svc := app.New(mem, nil, lifecycle.DefaultConfig(), fixture.Quiet(), func() time.Time { return backfillNow })
	req := app.BackfillRequest{Since: since, Until: until}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A split-off slice's first write: version 0, no page read, and it skips what its parent read.
	ks := &killingStore{CheckpointStore: mem, kill: cancel, at: func(c app.Checkpoint) bool { return c.Version == 0 && c.Pages == 0 && c.Skip != nil }}
	first := app.NewBackfill(lookupOn(srv, lookup.Options{Rate: 100, Burst: 1}), ks, svc, fixture.Quiet(), func() time.Time { return backfillNow })
	first.Slices = 1
	if rep, err := first.Run(ctx, req); err == nil || rep.Complete || !ks.dead.Load() {
		t.Fatalf("first run: complete %v, err %v, killed %v; want it killed during a split", rep.Complete, err, ks.dead.Load())
	}
	second := app.NewBackfill(lookupOn(srv, lookup.Options{Rate: 100, Burst: 1}), mem, svc, fixture.Quiet(), func() time.Time { return backfillNow })
	second.Slices = 1
	rep, err := second.Run(context.Background(), req)
	if err != nil || !rep.Complete {
		t.Fatalf("resumed run: complete %v, err %v", rep.Complete, err)
	}
	if s := rep.Progress.Stats; s.Events != len(evs) {
		t.Errorf("stats = %+v; want %d events counted once", s, len(evs))
	}
	checkExactlyOnce(t, mem, evs)
}
