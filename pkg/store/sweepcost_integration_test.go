//go:build integration

package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/grantwatch/grantwatch/internal/fixture"
	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// bulkAPI turns the conditional puts Table.SaveKey makes into unconditional BatchWriteItem calls of 25, so a
// benchmark can load 10,000 grants in the store's exact item format in seconds instead of minutes.
type bulkAPI struct {
	store.API
	client  *dynamodb.Client
	table   string
	pending []map[string]types.AttributeValue
}

func (b *bulkAPI) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	b.pending = append(b.pending, in.Item)
	return &dynamodb.PutItemOutput{}, nil
}

func (b *bulkAPI) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	for _, it := range in.TransactItems {
		if it.Put == nil {
			return nil, fmt.Errorf("bulkAPI writes new items only, not %+v", it)
		}
		b.pending = append(b.pending, it.Put.Item)
	}
	return &dynamodb.TransactWriteItemsOutput{}, nil
}

func (b *bulkAPI) flush(ctx context.Context) error {
	for len(b.pending) > 0 {
		n := min(25, len(b.pending))
		reqs := make([]types.WriteRequest, n)
		for i, item := range b.pending[:n] {
			reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: item}}
		}
		out, err := b.client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{b.table: reqs}})
		if err != nil {
			return err
		}
		b.pending = b.pending[n:]
		for _, r := range out.UnprocessedItems[b.table] {
			b.pending = append(b.pending, r.PutRequest.Item)
		}
	}
	return nil
}

// readCounter counts the items every read returns and the capacity DynamoDB reports for them.
type readCounter struct {
	store.API
	mu           sync.Mutex
	queries      int
	items        int
	indexQueries int
	indexItems   int
	rru          float64 // estimated as DynamoDB bills: per query, the items' size in 4 KB units (index: eventually consistent, half)
}

func (c *readCounter) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	out, err := c.API.BatchGetItem(ctx, in, opts...)
	if err == nil {
		c.mu.Lock()
		c.queries++
		for _, items := range out.Responses {
			c.items += len(items)
			for _, it := range items {
				c.rru += readUnits(itemSize(it))
			}
		}
		c.mu.Unlock()
	}
	return out, err
}

func (c *readCounter) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	out, err := c.API.Query(ctx, in, opts...)
	if err == nil {
		size := 0
		for _, it := range out.Items {
			size += itemSize(it)
		}
		c.mu.Lock()
		c.queries++
		c.items += len(out.Items)
		if in.IndexName != nil {
			c.indexQueries++
			c.indexItems += len(out.Items)
			c.rru += readUnits(size) / 2
		} else {
			c.rru += readUnits(size)
		}
		c.mu.Unlock()
	}
	return out, err
}

func costKey(i int) string {
	return fmt.Sprintf("arn:aws:kms:us-east-1:111122223333:key/cost0000-0000-0000-0000-%012d", i)
}

// sweepAt is when the cost sweeps run: weeks after the fixture's grants ended.
var sweepAt = t0.Add(30 * 24 * time.Hour)

// loadCostFixture stores ended grants (endedPerKey on each of endedKeys keys) and active primaries
// (activePerKey on each of activeKeys keys). shared puts the ended grants on the active keys; archived stores them
// in the archive, where a sweep leaves them (ended long before sweepAt), else in the working set, as they are
// before the first sweep after their end.
func loadCostFixture(tb testing.TB, client *dynamodb.Client, ended, endedPerKey, active, activePerKey int, shared, archived bool) {
	tb.Helper()
	ctx := context.Background()
	bulk := &bulkAPI{API: client, client: client, table: tableName}
	tbl := store.New(bulk, tableName)
	at := sweepAt.Add(-time.Hour)
	save := func(arn string, grants []lifecycle.Grant) {
		k := lifecycle.NewKey(arn)
		r := lifecycle.Result{}
		for _, g := range grants {
			k.Grants[g.ID] = g
			r.Changed = append(r.Changed, g.ID)
		}
		if err := tbl.SaveKey(ctx, k, r); err != nil {
			tb.Fatal(err)
		}
	}
	activeKeys := active / activePerKey
	for i := range ended / endedPerKey {
		arn := costKey(activeKeys + i)
		if shared {
			arn = costKey(i % activeKeys)
		}
		var gs []lifecycle.Grant
		for j := range endedPerKey {
			g := endedGrant(arn, fmt.Sprintf("ended-%05d-%03d", i, j))
			// History only: an ended primary with no open alert, so the sweep has nothing to write and the
			// figure is reads alone (an ended secondary would be relinked to the fixture's primaries).
			g.Kind, g.ParentID, g.Alerts, g.Archived = lifecycle.Primary, "", nil, archived
			gs = append(gs, g)
		}
		save(arn, gs)
	}
	for i := range activeKeys {
		arn := costKey(i)
		var gs []lifecycle.Grant
		for j := range activePerKey {
			g := activeGrant(arn, fmt.Sprintf("active-%03d-%03d", i, j))
			g.CreatedAt = at
			gs = append(gs, g)
		}
		save(arn, gs)
	}
	if err := bulk.flush(ctx); err != nil {
		tb.Fatal(err)
	}
}

// sweepCost runs one sweep and returns what it read.
func sweepCost(tb testing.TB, client *dynamodb.Client) (*readCounter, float64, app.SweepReport) {
	tb.Helper()
	counter := &readCounter{API: client}
	var mu sync.Mutex
	var units float64
	tbl := store.New(counter, tableName).WithConsumedCapacity(func(op string, u float64) {
		mu.Lock()
		units += u
		mu.Unlock()
	})
	svc := app.New(tbl, nil, lifecycle.DefaultConfig(), fixture.Quiet(), func() time.Time { return sweepAt })
	rep, err := svc.Sweep(context.Background(), sweepAt)
	if err != nil {
		tb.Fatal(err)
	}
	return counter, units, rep
}

// TestSweepReadsOnlyActive is the fast form of BenchmarkSweepCost (run by make test): 500 ended and 10 active
// grants. Wherever the ended grants are, once they are archived the sweep reads the 10 active grants and their 10
// index entries, none of the 500. Ended grants still in the working set are read once, by the sweep that archives
// them.
func TestSweepReadsOnlyActive(t *testing.T) {
	tests := []struct {
		name                 string
		ended                int
		shared, archived     bool
		wantIndex, wantFirst int // index entries and items the first sweep reads
		wantAfter            int // items the next sweep reads
	}{
		{name: "ended grants on other keys", ended: 500, archived: true, wantIndex: 10, wantFirst: 20, wantAfter: 22},
		{name: "ended grants archived on the active keys", ended: 500, shared: true, archived: true, wantIndex: 10, wantFirst: 20, wantAfter: 22},
		// In the working set (and its index) until a sweep archives them: read once, by that sweep, which records
		// them (they are primaries) in each key's PRIMARIES item, read from then on with the working set.
		{name: "ended grants not yet archived on the active keys", ended: 100, shared: true, wantIndex: 110, wantFirst: 220, wantAfter: 24},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, client := newTable(t)
			loadCostFixture(t, client, tt.ended, 50, 10, 5, tt.shared, tt.archived)
			c, units, rep := sweepCost(t, client)
			t.Logf("first sweep over %d ended + 10 active grants: %d queries, %d items read (%d from the index), %.1f RCU, %d keys", tt.ended, c.queries, c.items, c.indexItems, units, rep.Keys)
			if rep.Keys != 2 || c.indexItems != tt.wantIndex || c.items != tt.wantFirst {
				t.Errorf("first sweep visited %d keys and read %d items (%d from the index); want 2 keys, %d index entries, %d items",
					rep.Keys, c.items, c.indexItems, tt.wantIndex, tt.wantFirst)
			}
			// The first sweep wrote each key's meta record (its primaries); the next reads it with the grants.
			c, _, rep = sweepCost(t, client)
			if rep.Keys != 2 || c.items != tt.wantAfter {
				t.Errorf("next sweep visited %d keys and read %d items; want 2 keys, %d items (10 index entries, 10 grants, 2 meta records and any archived primaries' records)", rep.Keys, c.items, tt.wantAfter)
			}
		})
	}
}

// BenchmarkSweepCost measures one sweep over 10,000 ended and 50 active grants on moto (BENCHMARKS.md):
//
//	go test -tags integration ./pkg/store -run '^$' -bench SweepCost -benchtime 3x
//
// "separate": the ended grants are on 100 other keys. "shared": on the same 10 keys as the active ones. Both
// archived, as the sweep leaves grants that ended more than a day before (lifecycle/workingset.go).
func BenchmarkSweepCost(b *testing.B) {
	for _, shared := range []bool{false, true} {
		name := map[bool]string{false: "separate", true: "shared"}[shared]
		b.Run(name, func(b *testing.B) {
			_, client := newTable(b)
			start := time.Now()
			loadCostFixture(b, client, 10000, 100, 50, 5, shared, true)
			b.Logf("loaded 10,000 ended + 50 active grants in %s", time.Since(start).Round(time.Millisecond))
			b.ResetTimer()
			var c *readCounter
			var units float64
			var rep app.SweepReport
			for b.Loop() {
				c, units, rep = sweepCost(b, client)
			}
			b.ReportMetric(float64(c.items), "items/sweep")
			b.ReportMetric(c.rru, "rru-est/sweep")
			b.ReportMetric(float64(c.queries), "queries/sweep")
			b.Logf("%s: %d keys swept, %d queries, %d items read (%d index entries), %.1f RRU estimated, %.1f reported by moto", name, rep.Keys, c.queries, c.items, c.indexItems, c.rru, units)
		})
	}
}
