package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// testCheckpoints is the checkpoint contract every app.CheckpointStore must meet.
func testCheckpoints(t *testing.T, newStore func(t *testing.T) app.CheckpointStore) {
	ctx := context.Background()
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	t.Run("run is created once", func(t *testing.T) {
		s := newStore(t)
		run := app.BackfillRun{ID: "bf-1", Requested: "a|b|CreateGrant", Since: at.Add(-time.Hour), Until: at, EventNames: []string{"CreateGrant"}, Slices: 2, CreatedAt: at}
		if got, err := s.LoadRun(ctx, "bf-1"); err != nil || got.ID != "" {
			t.Fatalf("LoadRun(absent) = %+v, %v; want the zero run", got, err)
		}
		if err := s.SaveRun(ctx, run); err != nil {
			t.Fatalf("SaveRun: %v", err)
		}
		if err := s.SaveRun(ctx, run); !errors.Is(err, app.ErrConflict) {
			t.Errorf("SaveRun again error = %v; want ErrConflict", err)
		}
		got, err := s.LoadRun(ctx, "bf-1")
		if err != nil || got.Requested != run.Requested || !got.Since.Equal(run.Since) || got.Version != 1 || len(got.EventNames) != 1 {
			t.Errorf("LoadRun = %+v, %v; want the saved run at version 1", got, err)
		}
	})
	t.Run("checkpoints are versioned", func(t *testing.T) {
		s := newStore(t)
		child := app.Checkpoint{RunID: "bf-1", EventName: "CreateGrant", Start: at.Add(-30 * time.Minute), End: at, Skip: []string{"e-9"}}
		c := app.Checkpoint{RunID: "bf-1", EventName: "CreateGrant", Start: at.Add(-time.Hour), End: at.Add(-30 * time.Minute), Next: "t-2", Pages: 1,
			Stats: app.BackfillStats{Events: 50, Applied: 50}, UpdatedAt: at, Spawn: &child}
		if err := s.SaveCheckpoint(ctx, c); err != nil {
			t.Fatalf("SaveCheckpoint(new): %v", err)
		}
		if err := s.SaveCheckpoint(ctx, c); !errors.Is(err, app.ErrConflict) {
			t.Errorf("SaveCheckpoint(new) again error = %v; want ErrConflict", err)
		}
		c.Version, c.Next, c.Pages, c.Done = 1, "", 2, true
		if err := s.SaveCheckpoint(ctx, c); err != nil {
			t.Fatalf("SaveCheckpoint(version 1): %v", err)
		}
		stale := c
		stale.Version = 1
		if err := s.SaveCheckpoint(ctx, stale); !errors.Is(err, app.ErrConflict) {
			t.Errorf("SaveCheckpoint(stale version) error = %v; want ErrConflict", err)
		}
		got, err := s.LoadCheckpoints(ctx, "bf-1")
		if err != nil || len(got) != 1 {
			t.Fatalf("LoadCheckpoints = %v, %v; want one", got, err)
		}
		g := got[0]
		if !g.Done || g.Pages != 2 || g.Version != 2 || g.Stats.Events != 50 || g.Spawn == nil || g.Spawn.Skip[0] != "e-9" || !g.Start.Equal(c.Start) {
			t.Errorf("LoadCheckpoints()[0] = %+v; want the last write (done, 2 pages, version 2, spawn kept)", g)
		}
		if other, err := s.LoadCheckpoints(ctx, "bf-2"); err != nil || len(other) != 0 {
			t.Errorf("LoadCheckpoints(other run) = %v, %v; want none", other, err)
		}
	})
	t.Run("each target has its own slices", func(t *testing.T) {
		s := newStore(t)
		own := app.Checkpoint{RunID: "bf-1", EventName: "CreateGrant", Start: at.Add(-time.Hour), End: at, UpdatedAt: at}
		east, west := own, own
		east.Account, east.Region = "111111111111", "us-east-1"
		west.Account, west.Region = "111111111111", "eu-west-1"
		child := west
		child.Start = at.Add(-time.Minute)
		west.Spawn = &child
		for _, c := range []app.Checkpoint{own, east, west} {
			if err := s.SaveCheckpoint(ctx, c); err != nil {
				t.Fatalf("SaveCheckpoint(%v): %v", c.Target(), err)
			}
		}
		if err := s.SaveCheckpoint(ctx, east); !errors.Is(err, app.ErrConflict) {
			t.Errorf("SaveCheckpoint(east) again error = %v; want ErrConflict", err)
		}
		got, err := s.LoadCheckpoints(ctx, "bf-1")
		if err != nil || len(got) != 3 {
			t.Fatalf("LoadCheckpoints = %+v, %v; want the three targets' slices", got, err)
		}
		seen := map[app.Target]bool{}
		for _, c := range got {
			seen[c.Target()] = true
			if c.Target() == west.Target() && (c.Spawn == nil || c.Spawn.Target() != west.Target()) {
				t.Errorf("west's Spawn = %+v; want its target kept", c.Spawn)
			}
		}
		if len(seen) != 3 || !seen[app.Target{}] || !seen[east.Target()] || !seen[west.Target()] {
			t.Errorf("targets loaded = %v; want the own account and both Regions", seen)
		}
	})
}

func TestMemoryCheckpoints(t *testing.T) {
	testCheckpoints(t, func(*testing.T) app.CheckpointStore { return store.NewMemory() })
}
