//go:build integration

package store_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// BenchmarkWriteUnits measures, per lifecycle event type, what ingesting one event costs in DynamoDB calls and
// write units: LoadKey → lifecycle.Key.Apply → SaveKey against moto, on a key already holding the events that
// precede it in a Bedrock job's life.
//
// moto reports a flat 1 capacity unit per PutItem and none for TransactWriteItems, so the benchmark also
// estimates what DynamoDB would charge (wru-est/op): per item ceil(max(old, new item size)/1 KB), doubled inside a
// transaction, plus the ActiveGrants index writes (1 when a grant enters or leaves it, 0 while its index keys stay
// the same; the index is KEYS_ONLY).
//
//	go test -tags integration ./pkg/store -run '^$' -bench WriteUnits -benchtime 20x
func BenchmarkWriteUnits(b *testing.B) {
	steps := []struct {
		name string
		ev   lifecycle.Event
	}{
		{"CreateGrant-primary", primaryCreate},
		{"CreateGrant-secondary", secondaryCreate},
		{"Decrypt-bedrock-service", serviceDecrypt},
		{"RetireGrant-secondary", secondaryRetire},
		{"RevokeGrant-primary", primaryRevoke},
	}
	for i, st := range steps {
		prior := make([]lifecycle.Event, 0, i)
		for _, p := range steps[:i] {
			prior = append(prior, p.ev)
		}
		b.Run(fmt.Sprintf("%d-%s", i+1, st.name), func(b *testing.B) { benchEvent(b, prior, st.ev) })
	}
	// The rare multi-item case: a primary arriving after its secondary relinks it, so two grants change.
	b.Run("6-CreateGrant-primary-after-secondary", func(b *testing.B) {
		benchEvent(b, []lifecycle.Event{secondaryCreate}, primaryCreate)
	})
}

var (
	customer = lifecycle.Caller{Type: "AssumedRole", ARN: "arn:aws:sts::111122223333:assumed-role/ml-team/alice",
		AccountID: "111122223333", InvokedBy: "bedrock.amazonaws.com"}
	primaryCreate = lifecycle.Event{ID: "4a1b1c2d-0000-4000-8000-000000000001", Name: lifecycle.CreateGrant, Time: t0,
		GrantID: "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0", Region: "us-east-1",
		Account: "111122223333", Caller: customer, SourceIP: "bedrock.amazonaws.com", UserAgent: "bedrock.amazonaws.com",
		RequestID: "9d2f0c6e-1111-4222-8333-444455556666", Grantee: "bedrock.amazonaws.com",
		RetiringPrincipal: "bedrock.amazonaws.com",
		Operations:        []string{"Decrypt", "GenerateDataKey", "DescribeKey", "CreateGrant"},
		ConstraintKeys:    []string{"aws:bedrock:custom-model-arn"}, GrantName: "bedrock-custom-model-customization"}
	secondaryCreate = lifecycle.Event{ID: "4a1b1c2d-0000-4000-8000-000000000002", Name: lifecycle.CreateGrant,
		Time: t0.Add(time.Minute), GrantID: "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809",
		Region: "us-east-1", Account: "111122223333", Caller: bedrockService, SourceIP: "bedrock.amazonaws.com",
		UserAgent: "bedrock.amazonaws.com", RequestID: "9d2f0c6e-1111-4222-8333-444455556667",
		Grantee: "bedrock.amazonaws.com", RetiringPrincipal: "bedrock.amazonaws.com",
		Operations: []string{"Decrypt", "GenerateDataKey"}, ConstraintKeys: []string{"aws:bedrock:job-arn"}}
	serviceDecrypt = lifecycle.Event{ID: "4a1b1c2d-0000-4000-8000-000000000003", Name: lifecycle.Decrypt,
		Time: t0.Add(2 * time.Minute), Region: "us-east-1", Account: "111122223333", Caller: bedrockService,
		SourceIP: "bedrock.amazonaws.com", UserAgent: "bedrock.amazonaws.com", RequestID: "9d2f0c6e-1111-4222-8333-444455556668"}
	secondaryRetire = lifecycle.Event{ID: "4a1b1c2d-0000-4000-8000-000000000004", Name: lifecycle.RetireGrant,
		Time: t0.Add(40 * time.Minute), GrantID: secondaryCreate.GrantID, Region: "us-east-1", Account: "111122223333",
		Caller: bedrockService, SourceIP: "bedrock.amazonaws.com", UserAgent: "bedrock.amazonaws.com",
		RequestID: "9d2f0c6e-1111-4222-8333-444455556669"}
	primaryRevoke = lifecycle.Event{ID: "4a1b1c2d-0000-4000-8000-000000000005", Name: lifecycle.RevokeGrant,
		Time: t0.Add(3 * time.Hour), GrantID: primaryCreate.GrantID, Region: "us-east-1", Account: "111122223333",
		Caller:   lifecycle.Caller{Type: "AssumedRole", ARN: "arn:aws:sts::111122223333:assumed-role/admin/bob", AccountID: "111122223333"},
		SourceIP: "203.0.113.10", UserAgent: "aws-cli/2.17.0", RequestID: "9d2f0c6e-1111-4222-8333-44445555666a"}
)

func benchEvent(b *testing.B, prior []lifecycle.Event, ev lifecycle.Event) {
	_, client := newTable(b)
	m := &meter{API: client, items: map[string]stored{}}
	var motoWCU float64
	tbl := store.New(m, tableName).WithConsumedCapacity(func(op string, units float64) {
		if op != "Query" {
			motoWCU += units
		}
	})
	ctx := context.Background()
	var total meter
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		arn := fmt.Sprintf("arn:aws:kms:us-east-1:111122223333:key/bench%04d-0000-4000-8000-000000000000", i)
		for _, p := range prior {
			ingest(ctx, b, tbl, arn, p)
		}
		m.reset()
		motoBefore := motoWCU
		b.StartTimer()
		ingest(ctx, b, tbl, arn, ev)
		b.StopTimer()
		total.add(m)
		total.motoWCU += motoWCU - motoBefore
	}
	n := float64(b.N)
	b.ReportMetric(float64(total.puts)/n, "puts/op")
	b.ReportMetric(float64(total.transacts)/n, "transacts/op")
	b.ReportMetric(float64(total.queries)/n, "queries/op")
	b.ReportMetric(total.wru/n, "wru-est/op")
	b.ReportMetric(total.motoWCU/n, "wcu-moto/op")
	b.ReportMetric(float64(total.maxItem), "max-item-B")
}

// ingest is app.Service.Ingest without alerts or retries: a conflict here is a bug in the benchmark.
func ingest(ctx context.Context, b *testing.B, tbl *store.Table, arn string, ev lifecycle.Event) {
	ev.KeyARN = arn
	k, err := tbl.LoadKey(ctx, arn)
	if err != nil {
		b.Fatalf("LoadKey(%s) error = %v", arn, err)
	}
	r, err := k.Apply(ev, lifecycle.DefaultConfig())
	if err != nil || (len(r.Changed) == 0 && !r.UsageChanged) {
		b.Fatalf("Apply(%s) = %+v, %v; want a change", ev.Name, r, err)
	}
	if err := tbl.SaveKey(ctx, k, r); err != nil {
		b.Fatalf("SaveKey(%s) error = %v", ev.Name, err)
	}
}

// meter wraps the client: it counts calls and estimates the write units DynamoDB would charge.
type meter struct {
	store.API
	items map[string]stored // pk + sk → what the table holds, to charge an overwrite by the larger image

	puts, transacts, queries int
	wru, motoWCU             float64
	maxItem                  int
}

type stored struct {
	size    int
	indexed bool
}

func (m *meter) reset() { m.puts, m.transacts, m.queries, m.wru, m.maxItem = 0, 0, 0, 0, 0 }

func (m *meter) add(o *meter) {
	m.puts += o.puts
	m.transacts += o.transacts
	m.queries += o.queries
	m.wru += o.wru
	m.maxItem = max(m.maxItem, o.maxItem)
}

func (m *meter) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	m.puts++
	out, err := m.API.PutItem(ctx, in, optFns...)
	if err == nil {
		m.charge(in.Item, 1)
	}
	return out, err
}

func (m *meter) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	m.transacts++
	out, err := m.API.TransactWriteItems(ctx, in, optFns...)
	if err == nil {
		for _, it := range in.TransactItems {
			m.charge(it.Put.Item, 2) // transactional writes cost twice
		}
	}
	return out, err
}

func (m *meter) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	m.queries++
	return m.API.Query(ctx, in, optFns...)
}

// charge adds the units of putting item: by the larger of the old and new item, plus index writes.
func (m *meter) charge(item map[string]types.AttributeValue, factor float64) {
	id := attrValue(item["pk"]) + "\x00" + attrValue(item["sk"])
	now := stored{size: itemSize(item), indexed: item["gsi1pk"] != nil}
	was := m.items[id]
	m.items[id] = now
	m.maxItem = max(m.maxItem, now.size)
	m.wru += factor * math.Ceil(float64(max(was.size, now.size))/1024)
	if was.indexed != now.indexed { // entered or left ActiveGrants; its keys never change while in it
		m.wru++
	}
}

// itemSize follows DynamoDB's item size rules: attribute names plus values; numbers take about one byte per two
// significant digits plus one; lists and maps 3 bytes plus 1 per element.
func itemSize(item map[string]types.AttributeValue) int {
	n := 0
	for name, v := range item {
		n += len(name) + valueSize(v)
	}
	return n
}

func valueSize(av types.AttributeValue) int {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		digits := strings.Trim(strings.NewReplacer("-", "", ".", "").Replace(v.Value), "0")
		return (len(digits)+1)/2 + 1
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += 1 + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		return 3 + itemSize(v.Value) + len(v.Value)
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range v.Value {
			n += len(s)
		}
		return n
	}
	return 0
}
