//go:build integration

package store_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/grantwatch/grantwatch/pkg/store"
)

// registryReads records what the sweep's reads of the registry partition return and scan.
type registryReads struct {
	store.API
	mu                sync.Mutex
	returned, scanned int // of the last full read of the partition
}

func (c *registryReads) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	out, err := c.API.Query(ctx, in, o...)
	if err == nil && in.FilterExpression != nil && strings.Contains(aws.ToString(in.KeyConditionExpression), "pk = :pk") {
		c.mu.Lock()
		if in.ExclusiveStartKey == nil {
			c.returned, c.scanned = 0, 0
		}
		c.returned += int(out.Count)
		c.scanned += int(out.ScannedCount)
		c.mu.Unlock()
	}
	return out, err
}

// TestJobRegistryBoundedTable is TestJobRegistryBounded on DynamoDB (moto), smaller: each event is one Query and
// one PutItem of at most one read and one write unit, every item stays far below 4 KB, and every sweep raises
// exactly the alerts the unbounded former registry does.
func TestJobRegistryBoundedTable(t *testing.T) {
	_, client := newTable(t)
	reads := &registryReads{API: client}
	var mu sync.Mutex
	var ru, wu float64
	tbl := store.New(reads, tableName).WithConsumedCapacity(func(op string, u float64) {
		mu.Lock()
		defer mu.Unlock()
		if op == "Query" {
			ru += u
		} else {
			wu += u
		}
	})
	w := simulate(300, 10, 2, 2)
	st := runWorld(t, w, 48*time.Hour, store.NewMemory(), tbl, func() (float64, float64) {
		mu.Lock()
		defer mu.Unlock()
		return ru, wu
	})

	largest, registry := 0, 0
	pages := dynamodb.NewScanPaginator(client, &dynamodb.ScanInput{TableName: aws.String(tableName)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range page.Items {
			if pk, _ := item["pk"].(*types.AttributeValueMemberS); pk == nil || pk.Value != "BEDROCK#JOBS" {
				continue
			}
			registry++
			n, err := store.ItemSize(item)
			if err != nil {
				t.Fatal(err)
			}
			largest = max(largest, n)
		}
	}
	t.Logf("%d job events; %d registry items, largest %d B; per event at most %d Query, %d PutItem, %.1f RCU, %.1f WCU; "+
		"%d expiry writes; last sweep read %d items (%d scanned: moto never deletes expired items); %d job and %d model alerts agreed",
		w.jobEvents, registry, largest, st.maxReads, st.maxWrites, st.maxReadUnits, st.maxWriteUnits, st.expiryWrites,
		reads.returned, reads.scanned, st.jobAlerts, st.modelAlerts)
	if largest > 4096 || registry == 0 {
		t.Errorf("largest of %d registry items is %d B; want at most 4 KB", registry, largest)
	}
	// One read and one write an event. A second read happens only when the SDK resent a write whose first attempt
	// had succeeded unseen (a busy machine's lost response): the resent conditional write conflicts, the use case
	// reads again and finds the event applied. That is idempotency at work, not cost growing.
	if st.maxReads > 2 || st.maxWrites != 1 || st.maxReadUnits > 2 || st.maxWriteUnits > 1 {
		t.Errorf("an event cost up to %d reads (%.1f RCU) and %d writes (%.1f WCU); want one write of one unit, and one read (two after a resent write)",
			st.maxReads, st.maxReadUnits, st.maxWrites, st.maxWriteUnits)
	}
	if st.jobAlerts == 0 || st.modelAlerts == 0 {
		t.Errorf("%d job-based and %d model-based alerts; want some of each", st.jobAlerts, st.modelAlerts)
	}
	if reads.returned != st.lastLive {
		t.Errorf("the last sweep's read returned %d items; want the %d live records", reads.returned, st.lastLive)
	}
}
