// Package store holds the app.Store adapters: Table (DynamoDB) and Memory (in memory: the CLI default and the
// reference for the contract test).
//
// Table keeps everything in one DynamoDB table (single-table design). Items (format 2, items.go):
//
//	item         pk                      sk                         notes
//	grant        KEY#<keyArn>            GRANT#<grantId>            in the key's working set; ActiveGrants index entry
//	archived     KEY#<keyArn>            ARCHIVE#<grantId>          left the working set (lifecycle/workingset.go)
//	meta         KEY#<keyArn>            META                       the working set's primaries, the archive summary
//	primaries    KEY#<keyArn>            PRIMARIES                  the archive's primaries (read when an event reaches them)
//	usage        KEY#<keyArn>            USAGE                      Bedrock key use; ActiveGrants entry while due
//	rejection    REJECTED#<yyyy-mm-dd>   <at RFC3339Nano>#<source>  ttl = at + 90 d
//	format       GRANTWATCH              FORMAT                     the table's format version (Open checks it)
//
// Reported grants, in either place, carry gsi2pk/gsi2sk (GrantsByKind) and every grant its grantId (GrantsById): the
// read side, query.go. Backfill runs and the Bedrock job registry have partitions of their own (checkpoint.go,
// jobs.go).
//
// Access patterns, and why:
//   - LoadKey reads what the operation needs (lifecycle.Load), strongly consistent, never more: the usage item
//     alone for a key-use call (GetItem); the meta item and the named grants, from either place, for a grant event
//     (one BatchGetItem); the working set, the sk range [GRANT#, USAGE], for a primary change, the sweep and
//     reconcile (one Query); the whole partition only for an event that reaches into the archive. So the cost of an
//     event depends on what is live, never on how many grants have ended on the key.
//   - SaveKey: one conditional PutItem when one item changed, which is what almost every event does, or one
//     TransactWriteItems when several did (a primary relinking secondaries, a sweep archiving grants: a move is a
//     Delete at the old place and a Put at the new one). Every item carries a version and every write is conditional
//     on the version read (optimistic concurrency): the loser of a race gets app.ErrConflict and the use case retries
//     from a fresh read.
//   - ActiveKeys: Query of the sparse GSI ActiveGrants (gsi1pk = ACTIVE, KEYS_ONLY): grants in a working set and
//     usage with Bedrock service calls the sweep has not checked or a key-level notice not yet confirmed sent, so
//     the sweep visits what is live, about to be archived or still owed a notice, never history. All entries share
//     one index partition: fine while items enter and leave it far below 1,000/s (KMS allows 50 CreateGrant/s per
//     account).
//
// TTL only removes what nobody needs any more: pending tombstones after CloudTrail's 90-day lookup window (a
// backfilled CreateGrant within it still finds the tombstone) and old rejections. DynamoDB deletes expired items
// days late and reads still return them until then, which is what the rules want anyway.
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
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// Names the table's schema and template.yaml share; keep them stable.
const (
	ActiveIndex  = "ActiveGrants" // the sparse GSI of working-set grants and unchecked usage
	TTLAttribute = "ttl"          // epoch seconds; DynamoDB TTL is enabled on it
)

const (
	// retention matches CloudTrail's LookupEvents window, so backfill never outlives a tombstone.
	retention = 90 * 24 * time.Hour
	// maxTransactItems is DynamoDB's limit of actions per TransactWriteItems; maxBatchGet its limit of keys per
	// BatchGetItem.
	maxTransactItems = 100
	maxBatchGet      = 100
)

// API is the part of *dynamodb.Client that Table uses.
type API interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
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
	format   *formatCheck // nil: the caller vouches for the format (New)
}

// New returns a Table on the DynamoDB table named table, without checking its format (Open and Checked do).
func New(api API, table string) *Table { return &Table{api: api, name: table} }

// WithConsumedCapacity returns a copy of t that asks DynamoDB for the consumed capacity (TOTAL) of every call and
// reports it to fn with the operation name (PutItem, TransactWriteItems, Query, GetItem, BatchGetItem). For
// benchmarks and metrics.
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

// primaryKey is the DynamoDB primary key of an item (not a KMS key).
func (t *Table) primaryKey(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": str(pk), "sk": str(sk)}
}

// LoadKey reads what l asks for of a key (see the package comment); a key nothing is stored for comes back empty
// with Loaded = l.
func (t *Table) LoadKey(ctx context.Context, keyARN string, l lifecycle.Load) (lifecycle.Key, error) {
	if err := t.checkFormat(ctx); err != nil {
		return lifecycle.Key{}, err
	}
	k := lifecycle.NewKey(keyARN)
	k.Loaded = l
	var err error
	switch l.Scope {
	case lifecycle.ScopeUsage:
		err = t.loadUsage(ctx, &k)
	case lifecycle.ScopeGrants:
		err = t.loadGrants(ctx, &k, l.Grants, true, l.Primaries)
	case lifecycle.ScopeWorking:
		k.Loaded.Primaries = true // PRIMARIES is in the range
		if err = t.loadRange(ctx, &k, grantPrefix, usageSK); err == nil {
			var missing []string
			for _, id := range l.Grants {
				if _, ok := k.Grants[id]; !ok {
					missing = append(missing, id)
				}
			}
			err = t.loadGrants(ctx, &k, missing, false, false)
		}
	case lifecycle.ScopeAll:
		err = t.loadRange(ctx, &k, "", "")
	default:
		err = fmt.Errorf("unknown scope %d", l.Scope)
	}
	if err != nil {
		return lifecycle.Key{}, fmt.Errorf("store: load key %s: %w", keyARN, err)
	}
	return k, nil
}

func (t *Table) loadUsage(ctx context.Context, k *lifecycle.Key) error {
	out, err := t.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:              aws.String(t.name),
		Key:                    t.primaryKey(keyPrefix+k.ARN, usageSK),
		ConsistentRead:         aws.Bool(true), // a write we just lost a race to must be visible to the retry
		ReturnConsumedCapacity: t.returnConsumed(),
	})
	if err != nil {
		return err
	}
	if out.ConsumedCapacity != nil {
		t.report("GetItem", *out.ConsumedCapacity)
	}
	if len(out.Item) == 0 {
		return nil
	}
	return addItem(k, out.Item)
}

// loadGrants reads the named grants from both places and, when asked, the meta item and the archived primaries'
// record, with consistent BatchGetItem calls (unprocessed keys are asked for again).
func (t *Table) loadGrants(ctx context.Context, k *lifecycle.Key, ids []string, withMeta, withPrimaries bool) error {
	var primaryKeys []map[string]types.AttributeValue
	pk := keyPrefix + k.ARN
	if withMeta {
		primaryKeys = append(primaryKeys, t.primaryKey(pk, metaSK))
	}
	if withPrimaries {
		primaryKeys = append(primaryKeys, t.primaryKey(pk, primariesSK))
	}
	if len(primaryKeys) == 0 && len(ids) == 0 {
		return nil
	}
	for _, id := range slices.Compact(slices.Sorted(slices.Values(ids))) {
		primaryKeys = append(primaryKeys, t.primaryKey(pk, grantPrefix+id), t.primaryKey(pk, archivePrefix+id))
	}
	for chunk := range slices.Chunk(primaryKeys, maxBatchGet) {
		pending := map[string]types.KeysAndAttributes{t.name: {Keys: chunk, ConsistentRead: aws.Bool(true)}}
		for attempt := 0; len(pending) > 0; attempt++ {
			if attempt > 0 {
				if err := pause(ctx, attempt); err != nil {
					return err
				}
			}
			out, err := t.api.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending, ReturnConsumedCapacity: t.returnConsumed()})
			if err != nil {
				return err
			}
			t.report("BatchGetItem", out.ConsumedCapacity...)
			for _, item := range out.Responses[t.name] {
				if err := addItem(k, item); err != nil {
					return err
				}
			}
			pending = out.UnprocessedKeys
		}
	}
	return nil
}

// pause waits before asking again for unprocessed keys: DynamoDB returns them when it throttles.
func pause(ctx context.Context, attempt int) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Duration(min(attempt, 6)) * 50 * time.Millisecond):
		return nil
	}
}

// loadRange reads the key's items with from <= sk <= to (both empty: the whole partition) with a consistent Query.
func (t *Table) loadRange(ctx context.Context, k *lifecycle.Key, from, to string) error {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(t.name),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(keyPrefix + k.ARN)},
		ConsistentRead:            aws.Bool(true),
		ReturnConsumedCapacity:    t.returnConsumed(),
	}
	if from != "" {
		in.KeyConditionExpression = aws.String("pk = :pk AND sk BETWEEN :from AND :to")
		in.ExpressionAttributeValues[":from"], in.ExpressionAttributeValues[":to"] = str(from), str(to)
	}
	return eachItem(ctx, t.api, in, t.report, func(item map[string]types.AttributeValue) error { return addItem(k, item) })
}

// addItem puts one item of a key's partition into k. A grant stored in both places (which no write makes) is taken
// from the working set.
func addItem(k *lifecycle.Key, item map[string]types.AttributeValue) error {
	sk := stringAttr(item, "sk")
	switch sk {
	case usageSK:
		u, err := decodeUsage(item)
		if err != nil {
			return err
		}
		k.Usage = u
		return nil
	case metaSK:
		m, err := decodeMeta(item)
		if err != nil {
			return err
		}
		k.Meta = m
		return nil
	case primariesSK:
		a, err := decodePrimaries(item)
		if err != nil {
			return err
		}
		k.ArchivedPrimaries = a
		return nil
	}
	id, archived, ok := grantIDOf(sk)
	if !ok {
		return fmt.Errorf("unknown item with sk %q", sk)
	}
	g, err := decodeGrant(item)
	if err != nil {
		return err
	}
	if prev, seen := k.Grants[id]; seen && !prev.Archived && archived {
		return nil
	}
	k.Grants[id] = g
	return nil
}

// write is one conditional action and the name errors give it.
type write struct {
	name   string // "grant <id>", "usage of key <arn>", ...
	put    *types.Put
	delete *types.Delete
}

// SaveKey writes what r changed, each item conditional on the version k holds: the grants in r.Changed (at the place
// g.Archived says; for those in r.Moved, deleted at the other place in the same transaction), the usage if
// r.UsageChanged, the meta record if r.MetaChanged, the archived primaries' record if r.PrimariesChanged. One PutItem for one item, else TransactWriteItems (all or
// nothing). Above 100 actions (DynamoDB's limit per transaction) the writes are split into several transactions,
// never splitting a move, and then atomicity holds per transaction only: when a later one fails, the earlier ones
// stay written, and the caller's retry starts from what they wrote.
func (t *Table) SaveKey(ctx context.Context, k lifecycle.Key, r lifecycle.Result) error {
	if !r.Need.Zero() {
		return fmt.Errorf("store: save key %s: the change is incomplete (it needs more loaded)", k.ARN)
	}
	if err := t.checkFormat(ctx); err != nil {
		return err
	}
	grants, err := changedGrants(k, r)
	if err != nil {
		return err
	}
	var groups [][]write // each group goes into one transaction
	for _, g := range grants {
		ws, err := t.grantWrites(k.ARN, g, slices.Contains(r.Moved, g.ID))
		if err != nil {
			return err
		}
		groups = append(groups, ws)
	}
	// The key's own records, each written when the change touched it.
	for _, rec := range []struct {
		changed bool
		name    string
		item    func() any
		version int64
	}{
		{r.UsageChanged, "usage", func() any { return toUsageItem(k.ARN, k.Usage) }, k.Usage.Version},
		{r.MetaChanged, "meta", func() any { return toMetaItem(k.ARN, k.Meta) }, k.Meta.Version},
		{r.PrimariesChanged, "archived primaries", func() any { return toPrimariesItem(k.ARN, k.ArchivedPrimaries) }, k.ArchivedPrimaries.Version},
	} {
		if !rec.changed {
			continue
		}
		w, err := t.newPut(rec.name+" of key "+k.ARN, rec.item(), rec.version)
		if err != nil {
			return err
		}
		groups = append(groups, []write{w})
	}
	switch n := len(groups); {
	case n == 0:
		return nil
	case n == 1 && len(groups[0]) == 1:
		return t.put(ctx, groups[0][0])
	}
	var tx []write
	for _, g := range groups {
		if len(tx)+len(g) > maxTransactItems {
			if err := t.transact(ctx, k.ARN, tx); err != nil {
				return err
			}
			tx = nil
		}
		tx = append(tx, g...)
	}
	return t.transact(ctx, k.ARN, tx)
}

// grantWrites returns the conditional writes that store g: a Put at its place and, when it moved, a Delete of the
// version it was read with at the other place.
func (t *Table) grantWrites(keyARN string, g lifecycle.Grant, moved bool) ([]write, error) {
	name := "grant " + g.ID
	if !moved {
		w, err := t.newPut(name, toGrantItem(keyARN, g), g.Version)
		return []write{w}, err
	}
	// The item at the new place starts a new life: it must not exist yet.
	w, err := t.newPut(name, toGrantItem(keyARN, g), 0)
	if err != nil || g.Version == 0 {
		return []write{w}, err // never stored before: nothing to delete
	}
	from := grantPrefix + g.ID
	if !g.Archived {
		from = archivePrefix + g.ID
	}
	del := write{name: name, delete: &types.Delete{TableName: aws.String(t.name), Key: t.primaryKey(keyPrefix+keyARN, from),
		ConditionExpression:       aws.String("version = :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": num(g.Version)}}}
	return []write{del, w}, nil
}

// newPut puts item (a store item struct whose Version is the version read) with version+1, on the condition that
// the stored version is the one read; 0 means the item must not exist yet.
func (t *Table) newPut(name string, item any, given int64) (write, error) {
	av, err := marshalItem(item)
	if err != nil {
		return write{}, fmt.Errorf("store: save %s: %w", name, err)
	}
	av["version"] = num(given + 1)
	return t.newWrite(name, av, given), nil
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
	for i, w := range ws {
		items[i] = types.TransactWriteItem{Put: w.put, Delete: w.delete}
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

// ActiveKeys queries the ActiveGrants index and returns, sorted, the distinct keys that have a grant in their
// working set or usage that is due (lifecycle.Usage.Due). The index is eventually consistent: a grant that just
// started may show up one sweep late.
func (t *Table) ActiveKeys(ctx context.Context) ([]string, error) {
	if err := t.checkFormat(ctx); err != nil {
		return nil, err
	}
	var keys []string
	if err := eachItem(ctx, t.api, &dynamodb.QueryInput{
		TableName:                 aws.String(t.name),
		IndexName:                 aws.String(ActiveIndex),
		KeyConditionExpression:    aws.String("gsi1pk = :a"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":a": str(activeValue)},
		ReturnConsumedCapacity:    t.returnConsumed(),
	}, t.report, func(item map[string]types.AttributeValue) error {
		pk := stringAttr(item, "pk")
		arn, ok := strings.CutPrefix(pk, keyPrefix)
		if !ok {
			return fmt.Errorf("index %s holds an item with pk %q", ActiveIndex, pk)
		}
		keys = append(keys, arn)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("store: active keys: %w", err)
	}
	slices.Sort(keys)
	return slices.Compact(keys), nil
}

// RecordRejection puts r under its day, so a person can list a day's rejections with one Query.
func (t *Table) RecordRejection(ctx context.Context, r app.Rejection) error {
	item, err := marshalItem(toRejectionItem(r))
	if err != nil {
		return fmt.Errorf("store: record rejection %s: %w", r.Source, err)
	}
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

// newWrite puts an item already marshalled with its new version, on the condition that the stored version is
// given; 0 means the item must not exist yet.
func (t *Table) newWrite(name string, item map[string]types.AttributeValue, given int64) write {
	p := &types.Put{TableName: aws.String(t.name), Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")}
	if given != 0 {
		p.ConditionExpression = aws.String("version = :v")
		p.ExpressionAttributeValues = map[string]types.AttributeValue{":v": num(given)}
	}
	return write{name: name, put: p}
}
