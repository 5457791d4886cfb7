package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/internal/fixture"
	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// The history-cost fixture: one key with one primary and n secondaries, each created, used once by the Bedrock
// service and retired, all long before historyNow, so that they have left the working set, and swept. The events measured
// then come at historyNow: a new secondary's CreateGrant, a Bedrock Decrypt, and its RetireGrant.

const historyKey = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

var (
	historyStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	historyNow   = historyStart.Add(60 * 24 * time.Hour)
	historySvc   = lifecycle.Caller{Type: "AWSService", InvokedBy: "bedrock.amazonaws.com"}
)

func historyEvent(id, name, grant string, at time.Time, caller lifecycle.Caller, ops ...string) lifecycle.Event {
	ev := lifecycle.Event{ID: id, Name: name, Time: at, KeyARN: historyKey, GrantID: grant, Caller: caller,
		SourceIP: "bedrock.amazonaws.com", UserAgent: "bedrock.amazonaws.com", RequestID: id, Operations: ops,
		Region: "us-east-1", Account: "111122223333"}
	if name == lifecycle.CreateGrant {
		ev.Grantee, ev.RetiringPrincipal = "bedrock.amazonaws.com", "bedrock.amazonaws.com"
	}
	return ev
}

// secondaryLife is the create, use and retire of one secondary at at (event ids are UUID-sized, grant ids 64 hex).
func secondaryLife(i int, at time.Time) []lifecycle.Event {
	grant := fmt.Sprintf("%064x", i+1)
	id := func(k int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", k, i) }
	return []lifecycle.Event{
		historyEvent(id(1), lifecycle.CreateGrant, grant, at, historySvc, "Decrypt", "GenerateDataKey", "DescribeKey"),
		historyEvent(id(2), lifecycle.Decrypt, "", at.Add(time.Second), historySvc),
		historyEvent(id(3), lifecycle.RetireGrant, grant, at.Add(time.Minute), historySvc),
	}
}

func quietService(st app.Store, now time.Time) *app.Service {
	return app.New(st, nil, lifecycle.DefaultConfig(), fixture.Quiet(), func() time.Time { return now })
}

// historyFixture returns a Memory holding the key with n ended secondaries, as ingest at historyNow leaves it.
func historyFixture(tb testing.TB, n int) *store.Memory {
	tb.Helper()
	m := store.NewMemory()
	svc := quietService(m, historyNow)
	ctx := context.Background()
	role := lifecycle.Caller{Type: "AssumedRole", ARN: "arn:aws:sts::111122223333:assumed-role/RoleForModelCopy/SampleUser01",
		AccountID: "111122223333", InvokedBy: "bedrock.amazonaws.com"}
	evs := []lifecycle.Event{historyEvent("primary-create", lifecycle.CreateGrant, fmt.Sprintf("%064x", 0), historyStart, role,
		"Decrypt", "CreateGrant", "GenerateDataKey", "DescribeKey")}
	for i := range n {
		evs = append(evs, secondaryLife(i, historyStart.Add(time.Duration(i+1)*2*time.Minute))...)
	}
	for _, ev := range evs {
		if _, err := svc.Ingest(ctx, ev); err != nil {
			tb.Fatalf("fixture Ingest(%s) error = %v", ev.ID, err)
		}
	}
	if _, err := svc.Sweep(ctx, historyNow); err != nil { // as the scheduled sweep would have, every 15 minutes
		tb.Fatal(err)
	}
	if working, archived := m.Sizes(historyKey); archived != n {
		tb.Fatalf("fixture holds %d grants in the working set and %d archived; want the %d ended secondaries archived", working, archived, n)
	}
	return m
}

// historyLevels are the numbers of ended secondaries the history-cost benchmarks measure at (BENCHMARKS.md).
var historyLevels = []int{10, 100, 1000, 10000}

// BenchmarkHistoryCostMemory: time per further event on a key with n ended secondaries, in memory, for each n of
// historyLevels. Every iteration applies the event at every level, one after the other, and times each, so that a
// machine shared with other work slows all levels alike; the x10000/x10 metric is the ratio the goal bounds (at
// most 1.5).
//
//	go test ./pkg/store -run '^$' -bench HistoryCostMemory -count 5
func BenchmarkHistoryCostMemory(b *testing.B) {
	ctx := context.Background()
	svcs := make([]*app.Service, len(historyLevels))
	next := make([]int, len(historyLevels))
	for i, n := range historyLevels {
		svcs[i], next[i] = quietService(historyFixture(b, n), historyNow), n
	}
	for step, name := range []string{"CreateGrant", "Decrypt", "RetireGrant"} {
		b.Run(name, func(b *testing.B) {
			spent := make([]time.Duration, len(historyLevels))
			for i := 0; b.Loop(); i++ {
				for l, svc := range svcs {
					life := secondaryLife(next[l]+i, historyNow.Add(time.Duration(i)*time.Second))
					for _, ev := range life[:step] { // what precedes the measured event, untimed
						if _, err := svc.Ingest(ctx, ev); err != nil {
							b.Fatal(err)
						}
					}
					start := time.Now()
					if _, err := svc.Ingest(ctx, life[step]); err != nil {
						b.Fatal(err)
					}
					spent[l] += time.Since(start)
				}
			}
			for l := range next {
				next[l] += b.N
			}
			for l, n := range historyLevels {
				b.ReportMetric(float64(spent[l].Nanoseconds())/float64(b.N), fmt.Sprintf("ns/event@%d", n))
			}
			b.ReportMetric(float64(spent[len(spent)-1])/float64(spent[0]), "x10000/x10")
		})
	}
}
