package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/internal/fixture"
	"github.com/grantwatch/grantwatch/internal/lookuptest"
	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/lookup"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// BenchmarkBackfillCeiling measures backfill against a local LookupEvents endpoint that behaves like CloudTrail's:
// 2 requests/s (a token bucket, ThrottlingException above it), 1–4 s per answer, 50 events a page. The ceiling is
// 2 × 50 = 100 events/s; the target is at least 0.9 of it with no throttling error reaching the caller. It takes
// one and two minutes: go test ./pkg/app -run '^$' -bench BackfillCeiling -benchtime 1x
//
// A run has a fixed cost the ratio pays in full on a short window: the last answer's latency (1-4 s) and one partial
// last page per slice (about 8 slices), so the ratio rises with the window's size toward 2 requests/s x 50.
func BenchmarkBackfillCeiling(b *testing.B) {
	for _, bc := range []struct {
		name   string
		grants int
	}{{"5520events", 3000}, {"11040events", 6000}} {
		b.Run(bc.name, func(b *testing.B) { benchBackfill(b, bc.grants) })
	}
}

func benchBackfill(b *testing.B, grants int) {
	since, until := backfillNow.Add(-72*time.Hour), backfillNow.Add(-time.Hour)
	evs := lookuptest.GrantEvents(grants, 80, 64, since, until)
	for range b.N {
		srv := lookuptest.New(lookuptest.Options{Rate: lookup.Rate, Burst: 2, MinLatency: time.Second, MaxLatency: 4 * time.Second, Seed: 7})
		srv.Add(evs...)
		mem := store.NewMemory()
		svc := app.New(mem, nil, lifecycle.DefaultConfig(), fixture.Quiet(), time.Now)
		src := lookupOn(srv, lookup.Options{})
		bf := app.NewBackfill(src, mem, svc, fixture.Quiet(), func() time.Time { return backfillNow })
		start := time.Now()
		rep, err := bf.Run(context.Background(), app.BackfillRequest{Since: since, Until: until})
		elapsed := time.Since(start)
		srv.Close()
		if err != nil || !rep.Complete {
			b.Fatalf("backfill: complete %v, err %v; want no error reaching the caller", rep.Complete, err)
		}
		if rep.Progress.Stats.Events != len(evs) {
			b.Fatalf("events = %d; want %d", rep.Progress.Stats.Events, len(evs))
		}
		st := srv.Stats()
		requests, attempts := src.Calls()
		perSec := float64(len(evs)) / elapsed.Seconds()
		b.ReportMetric(perSec, "events/s")
		b.ReportMetric(perSec/(lookup.Rate*lookup.PageSize), "ceiling-ratio")
		b.ReportMetric(float64(st.Requests)/elapsed.Seconds(), "requests/s")
		b.ReportMetric(float64(len(evs))/float64(requests), "events/request")
		b.ReportMetric(float64(st.Throttled), "throttled")
		b.ReportMetric(float64(attempts-requests), "retries")
		b.ReportMetric(elapsed.Seconds(), "s")
		b.ReportMetric(float64(rep.Progress.Slices), "slices")
	}
}

// BenchmarkBackfillAccounts measures backfill across 4 account-Regions against 4 local LookupEvents endpoints that
// behave like CloudTrail's (2 requests/s each, 1–4 s per answer, 50 events a page), each read through its own
// lookup.Lookup and so its own 2 requests/s limiter, as CloudTrail's quota is per account and Region. The same
// history (~1 minute of reading at the ceiling) is read first from one endpoint alone, then from four at once; the
// target is 4 account-Regions at least 3.5 times as fast as one. About two minutes:
// go test ./pkg/app -run '^$' -bench BackfillAccounts -benchtime 1x
func BenchmarkBackfillAccounts(b *testing.B) {
	since, until := backfillNow.Add(-72*time.Hour), backfillNow.Add(-time.Hour)
	targets := []app.Target{{Account: "222222222222", Region: "us-east-1"}, {Account: "222222222222", Region: "eu-west-1"},
		{Account: "333333333333", Region: "us-east-1"}, {Account: "444444444444", Region: "ap-southeast-2"}}
	for range b.N {
		one, oneEvents := benchTargets(b, targets[:1], since, until)
		four, fourEvents := benchTargets(b, targets, since, until)
		single, all := float64(oneEvents)/one.Seconds(), float64(fourEvents)/four.Seconds()
		b.ReportMetric(single, "events/s-1")
		b.ReportMetric(all, "events/s-4")
		b.ReportMetric(all/single, "speedup")
		b.ReportMetric(all/(float64(len(targets))*lookup.Rate*lookup.PageSize), "ceiling-ratio-4")
		b.ReportMetric(one.Seconds(), "s-1")
		b.ReportMetric(four.Seconds(), "s-4")
	}
}

// benchTargets backfills the same synthetic history in each target, each from its own endpoint, and returns how long
// the run took and how many events it read; an error reaching the caller or an event not read fails the benchmark.
func benchTargets(b *testing.B, targets []app.Target, since, until time.Time) (time.Duration, int) {
	b.Helper()
	servers := map[app.Target]*lookuptest.Server{}
	total := 0
	for i, tg := range targets {
		srv := lookuptest.New(lookuptest.Options{Rate: lookup.Rate, Burst: 2, MinLatency: time.Second, MaxLatency: 4 * time.Second, Seed: uint64(7 + i)})
		defer srv.Close()
		evs := lookuptest.GrantEventsIn(tg.Account, tg.Region, fmt.Sprintf("%02d", i+1), 3000, 80, 64, since, until)
		srv.Add(evs...)
		servers[tg], total = srv, total+len(evs)
	}
	mem := store.NewMemory()
	svc := app.New(mem, nil, lifecycle.DefaultConfig(), fixture.Quiet(), time.Now)
	sources := sourcesFunc(func(_ context.Context, tg app.Target) (app.EventSource, error) {
		return lookupOn(servers[tg], lookup.Options{}), nil
	})
	bf := app.NewBackfill(nil, mem, svc, fixture.Quiet(), func() time.Time { return backfillNow }).WithSources(sources)
	start := time.Now()
	rep, err := bf.Run(context.Background(), app.BackfillRequest{Since: since, Until: until, Targets: targets})
	elapsed := time.Since(start)
	if err != nil || !rep.Complete || rep.Progress.Stats.Events != total {
		b.Fatalf("backfill of %d targets: complete %v, %d of %d events, err %v", len(targets), rep.Complete, rep.Progress.Stats.Events, total, err)
	}
	throttled := 0
	for _, srv := range servers {
		throttled += srv.Stats().Throttled
	}
	b.ReportMetric(float64(throttled), fmt.Sprintf("throttled-%d", len(targets)))
	return elapsed, total
}
