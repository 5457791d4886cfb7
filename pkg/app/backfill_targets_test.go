package app_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/internal/fixture"
	"github.com/grantwatch/grantwatch/internal/lookuptest"
	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/lookup"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// sourcesFunc is an app.EventSources made of a function.
type sourcesFunc func(ctx context.Context, t app.Target) (app.EventSource, error)

func (f sourcesFunc) Open(ctx context.Context, t app.Target) (app.EventSource, error) {
	return f(ctx, t)
}

// orgTargets are four account-Regions, each with its own LookupEvents endpoint holding its own history.
type orgTargets struct {
	targets []app.Target
	servers map[app.Target]*lookuptest.Server
	events  map[app.Target][]lookuptest.Event
}

func newOrgTargets(t *testing.T, grants int, opts lookuptest.Options, since, until time.Time) orgTargets {
	t.Helper()
	o := orgTargets{servers: map[app.Target]*lookuptest.Server{}, events: map[app.Target][]lookuptest.Event{}}
	for i, tg := range []app.Target{{Account: "222222222222", Region: "us-east-1"}, {Account: "222222222222", Region: "eu-west-1"},
		{Account: "333333333333", Region: "us-east-1"}, {Account: "444444444444", Region: "us-east-1"}} {
		srv := lookuptest.New(opts)
		t.Cleanup(srv.Close)
		o.events[tg] = lookuptest.GrantEventsIn(tg.Account, tg.Region, fmt.Sprintf("%02d", i+1), grants, 80, 8, since, until)
		srv.Add(o.events[tg]...)
		o.targets, o.servers[tg] = append(o.targets, tg), srv
	}
	return o
}

// TestBackfillTargets: four account-Regions read at once, each from its own endpoint: one whose role cannot be
// assumed and one whose event history refuses the role are reported as such ("could not check" is not "nothing
// found"), the other two complete with every event once; running the same request again, with the role in place,
// reads only the target that was not read.
func TestBackfillTargets(t *testing.T) {
	since, until := backfillNow.Add(-24*time.Hour), backfillNow.Add(-time.Hour)
	o := newOrgTargets(t, 300, lookuptest.Options{Rate: 50, Burst: 2, MaxLatency: 3 * time.Millisecond, Seed: 5}, since, until)
	noRole, denied := o.targets[2], o.targets[3]
	o.servers[denied].Deny()
	mem := store.NewMemory()
	svc := app.New(mem, nil, lifecycle.DefaultConfig(), fixture.Quiet(), func() time.Time { return backfillNow })
	var mu sync.Mutex
	roleMissing := true
	sources := sourcesFunc(func(_ context.Context, tg app.Target) (app.EventSource, error) {
		mu.Lock()
		defer mu.Unlock()
		if tg == noRole && roleMissing {
			return nil, fmt.Errorf("could not assume the member role of %s: %w", tg.Account, app.ErrCouldNotAssume)
		}
		return lookupOn(o.servers[tg], lookup.Options{Rate: 50, Burst: 1}), nil
	})
	bf := app.NewBackfill(nil, mem, svc, fixture.Quiet(), func() time.Time { return backfillNow }).WithSources(sources)
	bf.Workers = 3
	req := app.BackfillRequest{Since: since, Until: until, Targets: o.targets}
	rep, err := bf.Run(context.Background(), req)
	if err != nil || rep.Complete || len(rep.Targets) != 4 {
		t.Fatalf("Run = complete %v, %d targets, err %v; want an incomplete report of 4 targets and no error", rep.Complete, len(rep.Targets), err)
	}
	for _, tr := range rep.Targets {
		switch tg := tr.Target; {
		case tg == noRole:
			if !errors.Is(tr.Err, app.ErrCouldNotAssume) || tr.Complete || tr.Stats.Events != 0 {
				t.Errorf("%s: %+v; want could not assume, nothing read", tg, tr)
			}
		case tg == denied:
			if tr.Err == nil || errors.Is(tr.Err, app.ErrCouldNotAssume) || !strings.Contains(tr.Err.Error(), "AccessDenied") || tr.Complete {
				t.Errorf("%s: %+v; want the event history's AccessDenied", tg, tr)
			}
		default:
			if tr.Err != nil || !tr.Complete || tr.Stats.Events != len(o.events[tg]) || tr.Stats.Applied != len(o.events[tg]) {
				t.Errorf("%s: %+v; want complete, each of its %d events applied", tg, tr, len(o.events[tg]))
			}
			checkExactlyOnce(t, mem, o.events[tg])
		}
	}
	if len(rep.Failed()) != 2 {
		t.Errorf("Failed() = %v; want the two", rep.Failed())
	}
	read := map[app.Target]int{}
	for tg, srv := range o.servers {
		read[tg] = srv.Stats().Requests
	}

	// The role is deployed; the target whose history refuses it is left out this time.
	mu.Lock()
	roleMissing = false
	mu.Unlock()
	req.Targets = o.targets[:3]
	rep, err = bf.Run(context.Background(), req)
	if err != nil || !rep.Complete {
		t.Fatalf("second Run = complete %v, err %v; want it complete", rep.Complete, err)
	}
	checkExactlyOnce(t, mem, o.events[noRole])
	for _, tg := range o.targets[:2] {
		if n := o.servers[tg].Stats().Requests; n != read[tg] {
			t.Errorf("%s, complete before, was read again: %d requests, %d before", tg, n, read[tg])
		}
	}
	if tr := rep.Targets[2]; tr.Stats.Events != len(o.events[noRole]) || tr.Err != nil {
		t.Errorf("%s on the second run: %+v; want its %d events", noRole, tr, len(o.events[noRole]))
	}

	// Nothing readable at all: the run fails as a whole, with the target's reason.
	if _, err := bf.Run(context.Background(), app.BackfillRequest{Since: since, Until: until, Targets: []app.Target{denied}}); err == nil ||
		!strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("Run of the denied target alone: %v; want its error", err)
	}
	// Without sources, only the caller's own account and Region can be read.
	own := app.NewBackfill(lookupOn(o.servers[o.targets[0]], lookup.Options{}), mem, svc, fixture.Quiet(), func() time.Time { return backfillNow })
	if _, err := own.Run(context.Background(), app.BackfillRequest{Since: since, Until: until, Targets: o.targets[:1]}); !errors.Is(err, app.ErrBadBackfill) {
		t.Errorf("a target without sources: %v; want a bad backfill request", err)
	}
}
