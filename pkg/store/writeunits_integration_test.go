//go:build integration

package store_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// BenchmarkWriteUnits measures, per lifecycle event type, what ingesting one event costs in DynamoDB calls and
// write units: app.Service.Ingest against moto, on a key already holding the events that precede it in a Bedrock
// job's life.
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
	b.ReportMetric(float64(total.queries+total.gets)/n, "reads/op")
	b.ReportMetric(float64(total.read)/n, "items-read/op")
	b.ReportMetric(total.wru/n, "wru-est/op")
	b.ReportMetric(total.motoWCU/n, "wcu-moto/op")
	b.ReportMetric(float64(total.maxItem), "max-item-B")
}

// ingest runs one event through app.Service.Ingest on tbl, at the event's own time.
func ingest(ctx context.Context, b *testing.B, tbl *store.Table, arn string, ev lifecycle.Event) {
	ev.KeyARN = arn
	r, err := quietService(tbl, ev.Time).Ingest(ctx, ev)
	if err != nil || r.Outcome != lifecycle.Applied {
		b.Fatalf("Ingest(%s) = %+v, %v; want it applied", ev.Name, r, err)
	}
}

// meter wraps the client: it counts calls, the items they read and write, and estimates the units DynamoDB would
// charge. Reads are strongly consistent: 1 RRU per 4 KB of each item a GetItem or BatchGetItem reads (1 for a key
// it does not find), of the items a Query returns together; writes 1 WRU per KB of the larger of the old and new
// item, twice inside a transaction, plus 1 when an item enters or leaves the ActiveGrants index.
type meter struct {
	store.API
	items map[string]stored // pk + sk → what the table holds, to charge an overwrite by the larger image

	puts, transacts, queries, gets int
	read, written                  int // items read; bytes written
	rru, wru, motoWCU              float64
	maxItem                        int
}

type stored struct {
	size    int
	indexed bool
}

func (m *meter) reset() {
	m.puts, m.transacts, m.queries, m.gets, m.read, m.written, m.rru, m.wru, m.maxItem = 0, 0, 0, 0, 0, 0, 0, 0, 0
}

func (m *meter) add(o *meter) {
	m.puts += o.puts
	m.transacts += o.transacts
	m.queries += o.queries
	m.gets += o.gets
	m.read += o.read
	m.written += o.written
	m.rru += o.rru
	m.wru += o.wru
	m.maxItem = max(m.maxItem, o.maxItem)
}

func readUnits(size int) float64 { return math.Max(1, math.Ceil(float64(size)/4096)) }

func (m *meter) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	out, err := m.API.GetItem(ctx, in, optFns...)
	if err == nil {
		m.gets++
		m.rru += readUnits(itemSize(out.Item))
		if len(out.Item) > 0 {
			m.read++
		}
	}
	return out, err
}

func (m *meter) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	out, err := m.API.BatchGetItem(ctx, in, optFns...)
	if err == nil {
		m.gets++
		found := 0
		for _, items := range out.Responses {
			for _, it := range items {
				m.rru += readUnits(itemSize(it))
				found++
			}
		}
		asked := 0
		for _, ka := range in.RequestItems {
			asked += len(ka.Keys)
		}
		m.read += found
		m.rru += float64(asked - found) // keys not found
	}
	return out, err
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
			if it.Put != nil {
				m.charge(it.Put.Item, 2) // transactional writes cost twice
			}
			if it.Delete != nil {
				m.uncharge(it.Delete.Key)
			}
		}
	}
	return out, err
}

func (m *meter) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	out, err := m.API.Query(ctx, in, optFns...)
	if err == nil {
		m.queries++
		total := 0
		for _, it := range out.Items {
			total += itemSize(it)
		}
		m.read += len(out.Items)
		m.rru += readUnits(total)
	}
	return out, err
}

// charge adds the units of putting item: by the larger of the old and new item, plus index writes.
func (m *meter) charge(item map[string]types.AttributeValue, factor float64) {
	id := attrValue(item["pk"]) + "\x00" + attrValue(item["sk"])
	now := stored{size: itemSize(item), indexed: item["gsi1pk"] != nil}
	was := m.items[id]
	m.items[id] = now
	m.written += now.size
	m.maxItem = max(m.maxItem, now.size)
	m.wru += factor * math.Ceil(float64(max(was.size, now.size))/1024)
	if was.indexed != now.indexed { // entered or left ActiveGrants; its keys never change while in it
		m.wru++
	}
}

// uncharge adds the units of a transactional delete.
func (m *meter) uncharge(key map[string]types.AttributeValue) {
	id := attrValue(key["pk"]) + "\x00" + attrValue(key["sk"])
	was := m.items[id]
	delete(m.items, id)
	m.wru += 2 * math.Max(1, math.Ceil(float64(was.size)/1024))
	if was.indexed {
		m.wru++
	}
}

// exportToTable writes what m holds of arn to the table in the store's item format, in bulk.
func exportToTable(tb testing.TB, m *store.Memory, client *dynamodb.Client, arn string) {
	tb.Helper()
	ctx := context.Background()
	k, err := m.LoadKey(ctx, arn, lifecycle.Load{Scope: lifecycle.ScopeAll})
	if err != nil {
		tb.Fatal(err)
	}
	r := lifecycle.Result{UsageChanged: true, MetaChanged: true}
	for id, g := range k.Grants {
		g.Version = 0
		k.Grants[id] = g
		r.Changed = append(r.Changed, id)
	}
	k.Usage.Version, k.Meta.Version = 0, 0
	bulk := &bulkAPI{API: client, client: client, table: tableName}
	if err := store.New(bulk, tableName).SaveKey(ctx, k, r); err != nil {
		tb.Fatal(err)
	}
	if err := bulk.flush(ctx); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkHistoryCost: what one further event costs on DynamoDB (moto) on a key with n ended secondaries, which
// have left the working set: items read, read units and bytes written, per event. The goal: at 10,000 no more than
// 1.5x the figure at 10, for every column.
//
//	go test -tags integration ./pkg/store -run '^$' -bench HistoryCost -benchtime 5x -timeout 30m
func BenchmarkHistoryCost(b *testing.B) {
	for _, n := range historyLevels {
		_, client := newTable(b)
		exportToTable(b, historyFixture(b, n), client, historyKey)
		m := &meter{API: client, items: map[string]stored{}}
		tbl := store.New(m, tableName)
		ctx := context.Background()
		next := n
		for step, name := range []string{"CreateGrant", "Decrypt", "RetireGrant"} {
			b.Run(fmt.Sprintf("ended=%d/%s", n, name), func(b *testing.B) {
				var total meter
				for i := range b.N {
					life := secondaryLife(next+i, historyNow.Add(time.Duration(i)*time.Second))
					for _, ev := range life[:step] {
						ingest(ctx, b, tbl, historyKey, ev)
					}
					m.reset()
					ingest(ctx, b, tbl, historyKey, life[step])
					total.add(m)
				}
				next += b.N
				per := float64(b.N)
				b.ReportMetric(float64(total.read)/per, "items-read/op")
				b.ReportMetric(total.rru/per, "rru-est/op")
				b.ReportMetric(float64(total.written)/per, "bytes-written/op")
				b.ReportMetric(total.wru/per, "wru-est/op")
				b.ReportMetric(float64(total.gets+total.queries)/per, "reads/op")
			})
		}
	}
}
