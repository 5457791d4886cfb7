package app_test

import (
	"context"
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
