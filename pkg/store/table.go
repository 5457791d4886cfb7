// Package store holds the app.Store adapters: Table (DynamoDB) and Memory (in memory: the CLI default and the
// reference for the contract test).
//
// Table keeps everything in one DynamoDB table (single-table design). Items:
//
//	item       pk                      sk                            attributes
//	grant      KEY#<keyArn>            GRANT#<grantId>               lifecycle.Grant (json names) incl. version;
//	                                                                 gsi1pk=ACTIVE, gsi1sk=<keyArn>#<grantId> while
//	                                                                 not ended; ttl=endedAt+90d if Pending
//	usage      KEY#<keyArn>            USAGE                         lifecycle.Usage (json names) incl. version;
//	                                                                 gsi1pk=ACTIVE, gsi1sk=<keyArn>#USAGE while
//	                                                                 Unchecked
//	rejection  REJECTED#<yyyy-mm-dd>   <at RFC3339Nano>#<source>     app.Rejection (json names); ttl=at+90d
//
// Grant items also carry gsi2pk=KIND#<kind>, gsi2sk=<createdAt fixed width>#<keyArn>#<grantId> unless Pending (index
// GrantsByKind), and every grant item is in GrantsById by its grantId: the read side, query.go.
//
// Access patterns, and why:
//   - LoadKey: one strongly consistent Query on pk. A key's grants and usage form one item collection, so the
//     aggregate the rules work on is one round trip.
//   - SaveKey: one conditional PutItem when one item changed, which is what almost every event does, or one
//     TransactWriteItems when several did (a late primary relinks secondaries; a sweep raises several alerts).
//     One write per event keeps the cost at 1 WRU per KB; a transaction costs 2 per KB and item. Every item
//     carries a version and every write is conditional on the version that was read (optimistic concurrency): the
//     loser of a race gets app.ErrConflict and the use case retries from a fresh read.
//   - ActiveKeys: Query of the sparse GSI ActiveGrants (gsi1pk = ACTIVE, KEYS_ONLY). Only grants that have not
//     ended, and usage whose Bedrock service calls the sweep has not checked yet (Usage.Unchecked: use-after-retire
//     happens on keys whose grants have all ended), carry its key attributes, so the sweep's cost grows with what
//     is active, not with history. Never a Scan. All entries share one index partition: fine while items enter and
//     leave it far below 1,000/s (KMS allows 50 CreateGrant/s per account).
//   - RecordRejection: PutItem.
//
// TTL only removes what nobody needs any more: pending tombstones after CloudTrail's 90-day lookup window (a
// backfilled CreateGrant within it still finds the tombstone) and old rejections. DynamoDB deletes expired items
// days late and reads still return them until then; LoadKey keeps them, which is what the rules want anyway.
package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// Names the table's schema and template.yaml share; keep them stable.
const (
	ActiveIndex  = "ActiveGrants" // the sparse GSI of grants that have not ended (and of unchecked usage)
	TTLAttribute = "ttl"          // epoch seconds; DynamoDB TTL is enabled on it
)

const (
	keyPrefix      = "KEY#"
	grantPrefix    = "GRANT#"
	usageSK        = "USAGE"
	rejectedPrefix = "REJECTED#"
	activeValue    = "ACTIVE"

	// retention matches CloudTrail's LookupEvents window, so backfill never outlives a tombstone.
	retention = 90 * 24 * time.Hour
	// maxTransactItems is DynamoDB's limit of actions per TransactWriteItems.
	maxTransactItems = 100
)

// API is the part of *dynamodb.Client that Table uses.
type API interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	dynamodb.QueryAPIClient
}

var (
	_ API       = (*dynamodb.Client)(nil)
	_ app.Store = (*Table)(nil)
)

// Table is the DynamoDB app.Store. It is safe for concurrent use.
type Table struct {
	api      API
	name     string
	consumed func(op string, units float64)
}

// New returns a Table on the DynamoDB table named table.
func New(api API, table string) *Table { return &Table{api: api, name: table} }

// WithConsumedCapacity returns a copy of t that asks DynamoDB for the consumed capacity (TOTAL) of every call and
// reports it to fn with the operation name (PutItem, TransactWriteItems, Query). For benchmarks and metrics.
func (t *Table) WithConsumedCapacity(fn func(op string, units float64)) *Table {
	c := *t
	c.consumed = fn
	return &c
}

func (t *Table) returnConsumed() types.ReturnConsumedCapacity {
	if t.consumed == nil {
		return "" // not sent
	}
	return types.ReturnConsumedCapacityTotal
}

func (t *Table) report(op string, cc ...types.ConsumedCapacity) {
	if t.consumed == nil {
		return
	}
	var units float64
	for _, c := range cc {
		units += aws.ToFloat64(c.CapacityUnits)
	}
	t.consumed(op, units)
}

// LoadKey reads a key's grants and usage with one Query; lifecycle.NewKey(keyARN) when nothing is stored.
func (t *Table) LoadKey(ctx context.Context, keyARN string) (lifecycle.Key, error) {
	k := lifecycle.NewKey(keyARN)
	pages := dynamodb.NewQueryPaginator(t.api, &dynamodb.QueryInput{
		TableName:                 aws.String(t.name),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(keyPrefix + keyARN)},
		ConsistentRead:            aws.Bool(true), // a write we just lost a race to must be visible to the retry
		ReturnConsumedCapacity:    t.returnConsumed(),
	})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return lifecycle.Key{}, fmt.Errorf("store: load key %s: %w", keyARN, err)
		}
		if out.ConsumedCapacity != nil {
			t.report("Query", *out.ConsumedCapacity)
		}
		for _, item := range out.Items {
			if err := addItem(&k, item); err != nil {
				return lifecycle.Key{}, fmt.Errorf("store: load key %s: %w", keyARN, err)
			}
		}
	}
	return k, nil
}

func addItem(k *lifecycle.Key, item map[string]types.AttributeValue) error {
	sk := stringAttr(item, "sk")
	if sk == usageSK {
		if err := unmarshal(item, &k.Usage); err != nil {
			return fmt.Errorf("decode item %s: %w", sk, err)
		}
		return nil
	}
	id, ok := strings.CutPrefix(sk, grantPrefix)
	if !ok {
		return fmt.Errorf("unknown item with sk %q", sk)
	}
	var g lifecycle.Grant
	if err := unmarshal(item, &g); err != nil {
		return fmt.Errorf("decode item %s: %w", sk, err)
	}
	k.Grants[id] = g
	return nil
}

// write is one conditional Put and the name errors give it.
type write struct {
	name string // "grant <id>" or "usage of key <arn>"
	put  types.Put
}

// SaveKey writes the grants in r.Changed and, if r.UsageChanged, the usage, each conditional on the version k
// holds: one PutItem for one item, else one TransactWriteItems (all or nothing). Above 100 items (DynamoDB's limit
// per transaction) the writes are split into several transactions, and then atomicity holds per transaction only:
// when a later one fails, the earlier ones stay written, so alerts recorded in them are not raised again when the
// caller retries.
func (t *Table) SaveKey(ctx context.Context, k lifecycle.Key, r lifecycle.Result) error {
	grants, err := changedGrants(k, r)
	if err != nil {
		return err
	}
	writes := make([]write, 0, len(grants)+1)
	for _, g := range grants {
		w, err := t.grantWrite(k.ARN, g)
		if err != nil {
			return err
		}
		writes = append(writes, w)
	}
	if r.UsageChanged {
		w, err := t.usageWrite(k.ARN, k.Usage)
		if err != nil {
			return err
		}
		writes = append(writes, w)
	}
	switch len(writes) {
	case 0:
		return nil
	case 1:
		return t.put(ctx, writes[0])
	}
	for chunk := range slices.Chunk(writes, maxTransactItems) {
		if err := t.transact(ctx, k.ARN, chunk); err != nil {
			return err
		}
	}
	return nil
}

func (t *Table) grantWrite(keyARN string, g lifecycle.Grant) (write, error) {
	name := "grant " + g.ID
	given := g.Version
	g.Version++
	item, err := marshal(g)
	if err != nil {
		return write{}, fmt.Errorf("store: save %s: %w", name, err)
	}
	item["pk"] = str(keyPrefix + keyARN)
	item["sk"] = str(grantPrefix + g.ID)
	if !g.Ended() {
		item["gsi1pk"] = str(activeValue)
		item["gsi1sk"] = str(keyARN + "#" + g.ID)
	}
	// Issue 4 (query.go): the GrantsByKind index keys, in the same write. GrantsById uses grantId as it is.
	for name, v := range kindIndexKeys(g) {
		item[name] = str(v)
	}
	if g.Pending && g.Ended() {
		item[TTLAttribute] = epoch(g.EndedAt.Add(retention))
	}
	return t.newWrite(name, item, given), nil
}

func (t *Table) usageWrite(keyARN string, u lifecycle.Usage) (write, error) {
	name := "usage of key " + keyARN
	given := u.Version
	u.Version++
	item, err := marshal(u)
	if err != nil {
		return write{}, fmt.Errorf("store: save %s: %w", name, err)
	}
	item["pk"] = str(keyPrefix + keyARN)
	item["sk"] = str(usageSK)
	if u.Unchecked() {
		item["gsi1pk"] = str(activeValue)
		item["gsi1sk"] = str(keyARN + "#" + usageSK)
	}
	return t.newWrite(name, item, given), nil
}

// newWrite puts item on the condition that the stored version is given; 0 means the item must not exist yet.
func (t *Table) newWrite(name string, item map[string]types.AttributeValue, given int64) write {
	p := types.Put{TableName: aws.String(t.name), Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")}
	if given != 0 {
		p.ConditionExpression = aws.String("version = :v")
		p.ExpressionAttributeValues = map[string]types.AttributeValue{":v": num(given)}
	}
	return write{name: name, put: p}
}

func (t *Table) put(ctx context.Context, w write) error {
	out, err := t.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 w.put.TableName,
		Item:                      w.put.Item,
		ConditionExpression:       w.put.ConditionExpression,
		ExpressionAttributeValues: w.put.ExpressionAttributeValues,
		ReturnConsumedCapacity:    t.returnConsumed(),
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("store: save %s: %w", w.name, app.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("store: save %s: %w", w.name, err)
	}
	if out.ConsumedCapacity != nil {
		t.report("PutItem", *out.ConsumedCapacity)
	}
	return nil
}

func (t *Table) transact(ctx context.Context, keyARN string, ws []write) error {
	items := make([]types.TransactWriteItem, len(ws))
	for i := range ws {
		items[i] = types.TransactWriteItem{Put: &ws[i].put}
	}
	// The SDK fills ClientRequestToken, so its own retries of this call are idempotent.
	out, err := t.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems:          items,
		ReturnConsumedCapacity: t.returnConsumed(),
	})
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		// Reasons are positional: reason i belongs to item i.
		for i, reason := range tce.CancellationReasons {
			// TransactionConflict: another transaction was writing the same item; re-reading is the cure too.
			if code := aws.ToString(reason.Code); (code == "ConditionalCheckFailed" || code == "TransactionConflict") && i < len(ws) {
				return fmt.Errorf("store: save %s: %w", ws[i].name, app.ErrConflict)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("store: save key %s (%d items): %w", keyARN, len(ws), err)
	}
	t.report("TransactWriteItems", out.ConsumedCapacity...)
	return nil
}

// ActiveKeys queries the ActiveGrants index and returns, sorted, the distinct keys that have a grant that has not
// ended or unchecked Bedrock service use. The index is eventually consistent: a grant that just started or ended
// may show up one sweep late.
func (t *Table) ActiveKeys(ctx context.Context) ([]string, error) {
	pages := dynamodb.NewQueryPaginator(t.api, &dynamodb.QueryInput{
		TableName:                 aws.String(t.name),
		IndexName:                 aws.String(ActiveIndex),
		KeyConditionExpression:    aws.String("gsi1pk = :a"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":a": str(activeValue)},
		ReturnConsumedCapacity:    t.returnConsumed(),
	})
	var keys []string
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("store: active keys: %w", err)
		}
		if out.ConsumedCapacity != nil {
			t.report("Query", *out.ConsumedCapacity)
		}
		for _, item := range out.Items {
			pk := stringAttr(item, "pk")
			arn, ok := strings.CutPrefix(pk, keyPrefix)
			if !ok {
				return nil, fmt.Errorf("store: active keys: index %s holds an item with pk %q", ActiveIndex, pk)
			}
			keys = append(keys, arn)
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys), nil
}

// RecordRejection puts r under its day, so a person can list a day's rejections with one Query.
func (t *Table) RecordRejection(ctx context.Context, r app.Rejection) error {
	item, err := marshal(r)
	if err != nil {
		return fmt.Errorf("store: record rejection %s: %w", r.Source, err)
	}
	at := r.At.UTC()
	item["pk"] = str(rejectedPrefix + at.Format(time.DateOnly))
	item["sk"] = str(at.Format(time.RFC3339Nano) + "#" + r.Source)
	item[TTLAttribute] = epoch(at.Add(retention))
	out, err := t.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:              aws.String(t.name),
		Item:                   item,
		ReturnConsumedCapacity: t.returnConsumed(),
	})
	if err != nil {
		return fmt.Errorf("store: record rejection %s: %w", r.Source, err)
	}
	if out.ConsumedCapacity != nil {
		t.report("PutItem", *out.ConsumedCapacity)
	}
	return nil
}

// TableSchema returns the table Table expects: on-demand, pk/sk strings, the sparse KEYS_ONLY index
// ActiveGrants on gsi1pk/gsi1sk, and the read-side indexes GrantsByKind and GrantsById (query.go). template.yaml
// must declare the same.
func TableSchema(name string) *dynamodb.CreateTableInput {
	attr := func(n string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: types.ScalarAttributeTypeS}
	}
	key := func(n string, t types.KeyType) types.KeySchemaElement {
		return types.KeySchemaElement{AttributeName: aws.String(n), KeyType: t}
	}
	return &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{attr("pk"), attr("sk"), attr("gsi1pk"), attr("gsi1sk"),
			attr("gsi2pk"), attr("gsi2sk"), attr("grantId")},
		KeySchema: []types.KeySchemaElement{key("pk", types.KeyTypeHash), key("sk", types.KeyTypeRange)},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName:  aws.String(ActiveIndex),
			KeySchema:  []types.KeySchemaElement{key("gsi1pk", types.KeyTypeHash), key("gsi1sk", types.KeyTypeRange)},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
		}, {
			// Issue 4: inventory by kind and creation time (query.go).
			IndexName:  aws.String(KindIndex),
			KeySchema:  []types.KeySchemaElement{key("gsi2pk", types.KeyTypeHash), key("gsi2sk", types.KeyTypeRange)},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeInclude, NonKeyAttributes: KindIndexAttributes},
		}, {
			// Issue 4: a grant by id alone (query.go).
			IndexName:  aws.String(IDIndex),
			KeySchema:  []types.KeySchemaElement{key("grantId", types.KeyTypeHash)},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
		}},
	}
}

// AdminAPI is the part of *dynamodb.Client that CreateTable uses.
type AdminAPI interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
	dynamodb.DescribeTableAPIClient
}

var _ AdminAPI = (*dynamodb.Client)(nil)

// CreateTable creates the table of TableSchema, waits (at most 2 minutes) until it is active and enables TTL on
// ttl. A table that already exists is not an error: CreateTable waits for it and leaves its settings to whoever
// created it (usually CloudFormation, from template.yaml). For the CLI, demos and integration tests.
func CreateTable(ctx context.Context, api AdminAPI, name string) error {
	_, err := api.CreateTable(ctx, TableSchema(name))
	var inUse *types.ResourceInUseException
	exists := errors.As(err, &inUse)
	if err != nil && !exists {
		return fmt.Errorf("store: create table %s: %w", name, err)
	}
	waiter := dynamodb.NewTableExistsWaiter(api, func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay = time.Second })
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 2*time.Minute); err != nil {
		return fmt.Errorf("store: wait for table %s: %w", name, err)
	}
	if exists {
		return nil
	}
	_, err = api.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(TTLAttribute), Enabled: aws.Bool(true)},
	})
	if err != nil {
		return fmt.Errorf("store: enable TTL on table %s: %w", name, err)
	}
	return nil
}

// marshal and unmarshal use the json tags, so the domain types need no DynamoDB tags of their own.
func marshal(v any) (map[string]types.AttributeValue, error) {
	return attributevalue.MarshalMapWithOptions(v, func(o *attributevalue.EncoderOptions) { o.TagKey = "json" })
}

func unmarshal(item map[string]types.AttributeValue, v any) error {
	return attributevalue.UnmarshalMapWithOptions(item, v, func(o *attributevalue.DecoderOptions) { o.TagKey = "json" })
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func epoch(t time.Time) types.AttributeValue { return num(t.Unix()) }

func stringAttr(item map[string]types.AttributeValue, name string) string {
	if s, ok := item[name].(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}
