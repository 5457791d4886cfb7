package store_test

import (
	"time"

	"cmp"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// Function-type fakes of the three API methods; fakeAPI embeds them. A method a test leaves nil panics, which
// fails the test on a call it did not expect.
type putFunc func(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)

func (f putFunc) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return f(ctx, in, optFns...)
}

type transactFunc func(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)

func (f transactFunc) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	return f(ctx, in, optFns...)
}

type queryFunc func(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)

func (f queryFunc) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return f(ctx, in, optFns...)
}

type getFunc func(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)

func (f getFunc) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return f(ctx, in, optFns...)
}

type batchGetFunc func(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)

func (f batchGetFunc) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	return f(ctx, in, optFns...)
}

type scanFunc func(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)

func (f scanFunc) Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	return f(ctx, in, optFns...)
}

type fakeAPI struct {
	putFunc
	getFunc
	batchGetFunc
	transactFunc
	queryFunc
	scanFunc
}

var _ store.API = fakeAPI{}

// writes records the write calls of a fake API that answers them with putErr and txErr.
type writes struct {
	puts      []*dynamodb.PutItemInput
	transacts []*dynamodb.TransactWriteItemsInput
}

func (w *writes) api(putErr, txErr error) fakeAPI {
	return fakeAPI{
		putFunc: func(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
			w.puts = append(w.puts, in)
			return &dynamodb.PutItemOutput{}, putErr
		},
		transactFunc: func(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
			w.transacts = append(w.transacts, in)
			return &dynamodb.TransactWriteItemsOutput{}, txErr
		},
	}
}

func grants(arn string, n int) lifecycle.Key {
	k := lifecycle.NewKey(arn)
	for i := range n {
		id := fmt.Sprintf("g%03d", i)
		k.Grants[id] = activeGrant(arn, id)
	}
	return k
}

func ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("g%03d", i)
	}
	return out
}

func TestSaveKeyWriteCalls(t *testing.T) {
	tests := []struct {
		name      string
		grants    int
		result    lifecycle.Result
		wantPuts  int
		wantItems []int // items per TransactWriteItems call
	}{
		{name: "nothing changed", grants: 1, result: lifecycle.Result{}},
		{name: "one grant", grants: 1, result: lifecycle.Result{Changed: ids(1)}, wantPuts: 1},
		{name: "usage only", grants: 1, result: lifecycle.Result{UsageChanged: true}, wantPuts: 1},
		{name: "same grant twice", grants: 1, result: lifecycle.Result{Changed: []string{"g000", "g000"}}, wantPuts: 1},
		{name: "two grants", grants: 2, result: lifecycle.Result{Changed: ids(2)}, wantItems: []int{2}},
		{name: "grant and usage", grants: 1, result: lifecycle.Result{Changed: ids(1), UsageChanged: true}, wantItems: []int{2}},
		{name: "100 items", grants: 99, result: lifecycle.Result{Changed: ids(99), UsageChanged: true}, wantItems: []int{100}},
		{name: "150 grants", grants: 150, result: lifecycle.Result{Changed: ids(150)}, wantItems: []int{100, 50}},
		{name: "meta only", grants: 1, result: lifecycle.Result{MetaChanged: true}, wantPuts: 1},
		{name: "a move is a delete and a put", grants: 1, result: lifecycle.Result{Changed: ids(1), Moved: ids(1)}, wantItems: []int{2}},
		{name: "moves and meta", grants: 2, result: lifecycle.Result{Changed: ids(2), Moved: ids(2), MetaChanged: true}, wantItems: []int{5}},
		// 50 moves are 100 actions: the meta record goes into a second transaction, no move is split.
		{name: "a move is never split", grants: 51, result: lifecycle.Result{Changed: ids(51), Moved: ids(51)}, wantItems: []int{100, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w writes
			k := grants(keyA, tt.grants)
			for id, g := range k.Grants {
				g.Version = 2 // stored: a move deletes the old item
				if slices.Contains(tt.result.Moved, id) {
					g.Archived = true
				}
				k.Grants[id] = g
			}
			err := store.New(w.api(nil, nil), "t").SaveKey(t.Context(), k, tt.result)
			if err != nil {
				t.Fatalf("SaveKey() error = %v", err)
			}
			var gotItems []int
			for _, in := range w.transacts {
				gotItems = append(gotItems, len(in.TransactItems))
			}
			if len(w.puts) != tt.wantPuts || !slices.Equal(gotItems, tt.wantItems) {
				t.Errorf("SaveKey(%d changed, usage %t): %d PutItem, TransactWriteItems of %v items; want %d, %v",
					len(tt.result.Changed), tt.result.UsageChanged, len(w.puts), gotItems, tt.wantPuts, tt.wantItems)
			}
		})
	}
}

func TestSaveKeyItem(t *testing.T) {
	versioned := func(g lifecycle.Grant, v int64) lifecycle.Grant { g.Version = v; return g }
	pending := pendingGrant(keyA, "g1")
	tests := []struct {
		name          string
		grant         lifecycle.Grant
		wantSK        string
		wantCondition string
		wantGiven     string // :v, when the condition has one
		wantVersion   string
		wantActive    bool // in the ActiveGrants index: in the working set
		wantKind      bool // in GrantsByKind: reported
		wantTTL       string
	}{
		{name: "new active grant", grant: activeGrant(keyA, "g1"), wantSK: "GRANT#g1", wantCondition: "attribute_not_exists(pk)",
			wantVersion: "1", wantActive: true, wantKind: true},
		{name: "active grant update", grant: versioned(activeGrant(keyA, "g1"), 3), wantSK: "GRANT#g1", wantCondition: "version = :v",
			wantGiven: "3", wantVersion: "4", wantActive: true, wantKind: true},
		{name: "ended grant stays in the working set", grant: versioned(endedGrant(keyA, "g1"), 1), wantSK: "GRANT#g1",
			wantCondition: "version = :v", wantGiven: "1", wantVersion: "2", wantActive: true, wantKind: true},
		{name: "archived grant", grant: versioned(archived(endedGrant(keyA, "g1")), 1), wantSK: "ARCHIVE#g1",
			wantCondition: "version = :v", wantGiven: "1", wantVersion: "2", wantKind: true},
		{name: "pending tombstone expires 90 days after its end", grant: pending, wantSK: "GRANT#g1", wantCondition: "attribute_not_exists(pk)",
			wantVersion: "1", wantActive: true, wantTTL: strconv.FormatInt(pending.EndedAt.AddDate(0, 0, 90).Unix(), 10)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w writes
			k := keyWith(keyA, tt.grant)
			if err := store.New(w.api(nil, nil), "grants").SaveKey(t.Context(), k, lifecycle.Result{Changed: []string{"g1"}}); err != nil {
				t.Fatalf("SaveKey() error = %v", err)
			}
			if len(w.puts) != 1 {
				t.Fatalf("SaveKey() made %d PutItem calls; want 1", len(w.puts))
			}
			in := w.puts[0]
			item := in.Item
			checks := []struct{ what, got, want string }{
				{"table", aws.ToString(in.TableName), "grants"},
				{"condition", aws.ToString(in.ConditionExpression), tt.wantCondition},
				{":v", attrValue(in.ExpressionAttributeValues[":v"]), tt.wantGiven},
				{"pk", attrValue(item["pk"]), "KEY#" + keyA},
				{"sk", attrValue(item["sk"]), tt.wantSK},
				{"fv", attrValue(item["fv"]), strconv.Itoa(store.FormatVersion)},
				{"grantId", attrValue(item["grantId"]), "g1"},
				{"version", attrValue(item["version"]), tt.wantVersion},
				{"ttl", attrValue(item["ttl"]), tt.wantTTL},
				{"gsi1pk", attrValue(item["gsi1pk"]), map[bool]string{true: "ACTIVE"}[tt.wantActive]},
				{"gsi1sk", attrValue(item["gsi1sk"]), map[bool]string{true: "W"}[tt.wantActive]},
				{"gsi2pk", attrValue(item["gsi2pk"]), map[bool]string{true: "KIND#" + string(tt.grant.Kind)}[tt.wantKind]},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("PutItem %s = %q; want %q", c.what, c.got, c.want)
				}
			}
		})
	}
}

func TestSaveKeyUsageItem(t *testing.T) {
	tests := []struct {
		name       string
		unchecked  bool
		wantGSI1PK string
		wantGSI1SK string
	}{
		{name: "checked usage is not indexed"},
		{name: "unchecked usage is indexed", unchecked: true, wantGSI1PK: "ACTIVE", wantGSI1SK: "USAGE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w writes
			k := lifecycle.NewKey(keyA)
			k.Usage = fullUsage(keyA)
			k.Usage.Version = 7
			if tt.unchecked {
				k.Usage.UncheckedUses = []time.Time{time.Date(2024, 5, 30, 0, 0, 0, 0, time.UTC)}
			}
			if err := store.New(w.api(nil, nil), "t").SaveKey(t.Context(), k, lifecycle.Result{UsageChanged: true}); err != nil {
				t.Fatalf("SaveKey() error = %v", err)
			}
			if len(w.puts) != 1 {
				t.Fatalf("SaveKey() made %d PutItem calls; want 1", len(w.puts))
			}
			in := w.puts[0]
			checks := []struct{ what, got, want string }{
				{"condition", aws.ToString(in.ConditionExpression), "version = :v"},
				{":v", attrValue(in.ExpressionAttributeValues[":v"]), "7"},
				{"pk", attrValue(in.Item["pk"]), "KEY#" + keyA},
				{"sk", attrValue(in.Item["sk"]), "USAGE"},
				{"version", attrValue(in.Item["version"]), "8"},
				{"gsi1pk", attrValue(in.Item["gsi1pk"]), tt.wantGSI1PK},
				{"gsi1sk", attrValue(in.Item["gsi1sk"]), tt.wantGSI1SK},
				{"ttl", attrValue(in.Item["ttl"]), ""},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("PutItem %s = %q; want %q", c.what, c.got, c.want)
				}
			}
		})
	}
}

// attrValue returns a string or number attribute's value, "" when absent.
func attrValue(av types.AttributeValue) string {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return v.Value
	case *types.AttributeValueMemberN:
		return v.Value
	case nil:
		return ""
	}
	return fmt.Sprintf("%T", av)
}

func TestSaveKeyErrors(t *testing.T) {
	throttled := &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate of requests exceeds the allowed throughput"}
	canceled := func(codes ...string) error {
		e := &types.TransactionCanceledException{Message: aws.String("Transaction cancelled")}
		for _, c := range codes {
			e.CancellationReasons = append(e.CancellationReasons, types.CancellationReason{Code: aws.String(c)})
		}
		return e
	}
	tests := []struct {
		name     string
		changed  int
		putErr   error
		txErr    error
		wantErr  error  // errors.Is target; nil: the AWS error itself, wrapped unchanged so callers can retry
		wantText string // the item the error names
	}{
		{name: "put condition failed", changed: 1, putErr: &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")},
			wantErr: app.ErrConflict, wantText: "grant g000"},
		{name: "put throttled", changed: 1, putErr: throttled, wantText: "grant g000"},
		{name: "put throughput exceeded", changed: 1, putErr: &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")},
			wantText: "grant g000"},
		{name: "transaction condition failed", changed: 2, txErr: canceled("None", "ConditionalCheckFailed"),
			wantErr: app.ErrConflict, wantText: "grant g001"},
		{name: "transaction conflict with another transaction", changed: 2, txErr: canceled("TransactionConflict", "None"),
			wantErr: app.ErrConflict, wantText: "grant g000"},
		{name: "transaction throttled", changed: 2, txErr: canceled("ThrottlingError", "None"), wantText: "key " + keyA},
		{name: "transaction error", changed: 2, txErr: throttled, wantText: "key " + keyA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w writes
			err := store.New(w.api(tt.putErr, tt.txErr), "t").SaveKey(t.Context(), grants(keyA, tt.changed), lifecycle.Result{Changed: ids(tt.changed)})
			if err == nil {
				t.Fatalf("SaveKey() error = nil; want an error")
			}
			want := tt.wantErr
			if want == nil {
				want = cmp.Or(tt.putErr, tt.txErr)
				if errors.Is(err, app.ErrConflict) {
					t.Errorf("SaveKey() error = %v wraps %v; want a retryable error that does not", err, app.ErrConflict)
				}
			}
			if !errors.Is(err, want) {
				t.Errorf("SaveKey() error = %v; want it to wrap %v", err, want)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("SaveKey() error = %q; want it to name %q", err, tt.wantText)
			}
		})
	}
}

// pagedQuery answers Query with pages, following ExclusiveStartKey, and records the inputs.
func pagedQuery(inputs *[]*dynamodb.QueryInput, pages ...[]map[string]types.AttributeValue) queryFunc {
	return func(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
		*inputs = append(*inputs, in)
		i := 0
		if in.ExclusiveStartKey != nil {
			i, _ = strconv.Atoi(attrValue(in.ExclusiveStartKey["page"]))
		}
		out := &dynamodb.QueryOutput{Items: pages[i]}
		if i+1 < len(pages) {
			out.LastEvaluatedKey = map[string]types.AttributeValue{"page": &types.AttributeValueMemberN{Value: strconv.Itoa(i + 1)}}
		}
		return out, nil
	}
}

func item(attrs ...string) map[string]types.AttributeValue {
	m := map[string]types.AttributeValue{}
	for i := 0; i+1 < len(attrs); i += 2 {
		m[attrs[i]] = &types.AttributeValueMemberS{Value: attrs[i+1]}
	}
	return m
}

func TestLoadKeyPages(t *testing.T) {
	var inputs []*dynamodb.QueryInput
	api := fakeAPI{queryFunc: pagedQuery(&inputs,
		[]map[string]types.AttributeValue{item("pk", "KEY#"+keyA, "sk", "GRANT#g1", "grantId", "g1", "keyArn", keyA)},
		[]map[string]types.AttributeValue{item("pk", "KEY#"+keyA, "sk", "GRANT#g2", "grantId", "g2", "keyArn", keyA),
			item("pk", "KEY#"+keyA, "sk", "USAGE", "lastUsedBy", "AWSService/bedrock.amazonaws.com")},
	)}
	working := lifecycle.Load{Scope: lifecycle.ScopeWorking}
	got, err := store.New(api, "t").LoadKey(t.Context(), keyA, working)
	if err != nil {
		t.Fatalf("LoadKey() error = %v", err)
	}
	// These items have no fv: format 1, still decoded.
	want := keyWith(keyA, lifecycle.Grant{ID: "g1", KeyARN: keyA}, lifecycle.Grant{ID: "g2", KeyARN: keyA})
	want.Usage.LastUsedBy = "AWSService/bedrock.amazonaws.com"
	want.Loaded = working
	want.Loaded.Primaries = true // the archive's primaries' record is in the working set's range
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LoadKey() = %+v; want %+v", got, want)
	}
	if len(inputs) != 2 || !aws.ToBool(inputs[0].ConsistentRead) || inputs[0].IndexName != nil {
		t.Errorf("LoadKey() made %d Query calls (first: ConsistentRead %v, index %v); want 2 strongly consistent table queries",
			len(inputs), inputs[0].ConsistentRead, aws.ToString(inputs[0].IndexName))
	}
	// The working set is a range of the partition: the archive (ARCHIVE#...) is never read.
	if c, vals := aws.ToString(inputs[0].KeyConditionExpression), inputs[0].ExpressionAttributeValues; c != "pk = :pk AND sk BETWEEN :from AND :to" ||
		attrValue(vals[":from"]) != "GRANT#" || attrValue(vals[":to"]) != "USAGE" {
		t.Errorf("LoadKey(working set) key condition %q with %v; want the sk range [GRANT#, USAGE]", c, vals)
	}
}

// TestLoadKeyNarrowLoads: a key-use call reads one item, a grant event one BatchGetItem of the meta record and both
// places of its grant, strongly consistent, asking again for what DynamoDB left unprocessed.
func TestLoadKeyNarrowLoads(t *testing.T) {
	var gets []*dynamodb.GetItemInput
	var batches []*dynamodb.BatchGetItemInput
	archivedItem := item("pk", "KEY#"+keyA, "sk", "ARCHIVE#g1", "grantId", "g1")
	archivedItem["fv"] = &types.AttributeValueMemberN{Value: "2"}
	api := fakeAPI{
		getFunc: func(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
			gets = append(gets, in)
			return &dynamodb.GetItemOutput{}, nil
		},
		batchGetFunc: func(_ context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
			batches = append(batches, in)
			if len(batches) == 1 { // DynamoDB throttled part of the first call
				req := in.RequestItems["t"]
				return &dynamodb.BatchGetItemOutput{Responses: map[string][]map[string]types.AttributeValue{"t": nil},
					UnprocessedKeys: map[string]types.KeysAndAttributes{"t": {Keys: req.Keys[1:], ConsistentRead: req.ConsistentRead}}}, nil
			}
			return &dynamodb.BatchGetItemOutput{Responses: map[string][]map[string]types.AttributeValue{"t": {archivedItem}}}, nil
		},
	}
	tbl := store.New(api, "t")
	if _, err := tbl.LoadKey(t.Context(), keyA, lifecycle.Load{Scope: lifecycle.ScopeUsage}); err != nil {
		t.Fatalf("LoadKey(usage) error = %v", err)
	}
	if len(gets) != 1 || attrValue(gets[0].Key["sk"]) != "USAGE" || !aws.ToBool(gets[0].ConsistentRead) || len(batches) != 0 {
		t.Errorf("LoadKey(usage): %d GetItem, %d BatchGetItem; want one consistent GetItem of USAGE", len(gets), len(batches))
	}
	k, err := tbl.LoadKey(t.Context(), keyA, lifecycle.Load{Scope: lifecycle.ScopeGrants, Grants: []string{"g1"}})
	if err != nil {
		t.Fatalf("LoadKey(grant) error = %v", err)
	}
	if len(batches) != 2 {
		t.Fatalf("LoadKey(grant) made %d BatchGetItem calls; want 2 (one retry of unprocessed keys)", len(batches))
	}
	var sks []string
	for _, key := range batches[0].RequestItems["t"].Keys {
		sks = append(sks, attrValue(key["sk"]))
	}
	if want := []string{"META", "GRANT#g1", "ARCHIVE#g1"}; !slices.Equal(sks, want) || !aws.ToBool(batches[0].RequestItems["t"].ConsistentRead) {
		t.Errorf("BatchGetItem keys %v (consistent %v); want %v, consistent", sks, batches[0].RequestItems["t"].ConsistentRead, want)
	}
	if g, ok := k.Grants["g1"]; !ok || !g.Archived {
		t.Errorf("LoadKey(grant) = %+v; want g1, from the archive", k.Grants)
	}
}

// TestGrantItemsUnderOneKB: a typical grant, with its history, costs one write unit (items are billed per KB).
func TestGrantItemsUnderOneKB(t *testing.T) {
	key := "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	id := func(n int) string { return fmt.Sprintf("%064x", n) }
	primary := activeGrant(key, id(1))
	primary.Name = ""
	// CloudTrail event and request ids are UUIDs.
	primary.History[0].EventID, primary.History[0].RequestID = "0f6b1e43-7a27-4a5d-9b8e-5f9c1b8d2e01", "6a4f1e7b-2c3d-4e5f-8a9b-0c1d2e3f4a5b"
	primary.CreateEventID = primary.History[0].EventID
	secondary := endedGrant(key, id(2))
	secondary.Name, secondary.ConstraintKeys, secondary.Alerts = "", nil, nil
	secondary.ParentID = id(1)
	for i := range secondary.History {
		secondary.History[i].EventID, secondary.History[i].RequestID = fmt.Sprintf("0f6b1e43-7a27-4a5d-9b8e-5f9c1b8d2e%02d", i), "6a4f1e7b-2c3d-4e5f-8a9b-0c1d2e3f4a5b"
	}
	secondary.CreateEventID, secondary.EndEventID = secondary.History[0].EventID, secondary.History[1].EventID
	secondary.History[0].Caller = secondary.CreatedBy.Name()
	for _, g := range []lifecycle.Grant{primary, secondary} {
		var w writes
		if err := store.New(w.api(nil, nil), "t").SaveKey(t.Context(), keyWith(key, g), lifecycle.Result{Changed: []string{g.ID}}); err != nil {
			t.Fatal(err)
		}
		if n := itemSize(w.puts[0].Item); n >= 1024 {
			var parts []string
			for name, v := range w.puts[0].Item {
				parts = append(parts, fmt.Sprintf("%s=%d", name, len(name)+valueSize(v)))
			}
			slices.Sort(parts)
			t.Errorf("%s grant item is %d bytes (%v); want under 1 KB", g.Kind, n, parts)
		}
	}
}

// itemSize is an item's size as DynamoDB bills it: attribute names and values; numbers about one byte per two
// significant digits plus one; lists and maps 3 bytes plus 1 per element.
func itemSize(item map[string]types.AttributeValue) int {
	n := 0
	for name, v := range item {
		n += len(name) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return (len(strings.TrimLeft(v.Value, "-0"))+1)/2 + 1
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range v.Value {
			n += len(s)
		}
		return n
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += 1 + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		return 3 + itemSize(v.Value) + len(v.Value) // 1 byte per element
	}
	return 0
}

// TestOpenChecksTheFormat: Open refuses a table of another format with a message that says what to run, and
// stamps an empty one.
func TestOpenChecksTheFormat(t *testing.T) {
	stamp := func(fv string) map[string]types.AttributeValue {
		m := item("pk", "GRANTWATCH", "sk", "FORMAT")
		m["fv"] = &types.AttributeValueMemberN{Value: fv}
		return m
	}
	tests := []struct {
		name      string
		stamp     map[string]types.AttributeValue
		items     int
		wantErr   string
		wantStamp bool
	}{
		{name: "stamped with this format", stamp: stamp(strconv.Itoa(store.FormatVersion))},
		{name: "empty and unstamped: a new table", wantStamp: true},
		{name: "unstamped with data: format 1", items: 1, wantErr: "run `grantwatch table migrate --table grants`"},
		{name: "a newer format", stamp: stamp("9"), wantErr: "upgrade grantwatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w writes
			api := w.api(nil, nil)
			api.getFunc = func(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
				return &dynamodb.GetItemOutput{Item: tt.stamp}, nil
			}
			api.scanFunc = func(_ context.Context, in *dynamodb.ScanInput, _ ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
				if aws.ToInt32(in.Limit) != 1 {
					t.Errorf("Scan limit %d; want 1: one item tells", aws.ToInt32(in.Limit))
				}
				out := &dynamodb.ScanOutput{}
				for range tt.items {
					out.Items = append(out.Items, item("pk", "KEY#"+keyA))
				}
				return out, nil
			}
			_, err := store.Open(t.Context(), api, "grants")
			var fe *store.FormatError
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Open() error = %v", err)
			case tt.wantErr != "" && (!errors.As(err, &fe) || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Open() error = %v; want a *FormatError saying %q", err, tt.wantErr)
			}
			if stamped := len(w.puts) == 1 && attrValue(w.puts[0].Item["sk"]) == "FORMAT"; stamped != tt.wantStamp {
				t.Errorf("Open() stamped the table: %t; want %t", stamped, tt.wantStamp)
			}
		})
	}
}

func TestLoadKeyUnknownItem(t *testing.T) {
	var inputs []*dynamodb.QueryInput
	api := fakeAPI{queryFunc: pagedQuery(&inputs, []map[string]types.AttributeValue{item("pk", "KEY#"+keyA, "sk", "ALIAS#x")})}
	_, err := store.New(api, "t").LoadKey(t.Context(), keyA, lifecycle.Load{Scope: lifecycle.ScopeAll})
	if err == nil || !strings.Contains(err.Error(), "ALIAS#x") || !strings.Contains(err.Error(), keyA) {
		t.Errorf("LoadKey() error = %v; want one naming the key and the item ALIAS#x", err)
	}
}

func TestActiveKeysQueriesIndex(t *testing.T) {
	var inputs []*dynamodb.QueryInput
	entry := func(arn, id string) map[string]types.AttributeValue {
		return item("pk", "KEY#"+arn, "sk", "GRANT#"+id, "gsi1pk", "ACTIVE", "gsi1sk", arn+"#"+id)
	}
	api := fakeAPI{queryFunc: pagedQuery(&inputs,
		[]map[string]types.AttributeValue{entry(keyA, "a1"), entry(keyA, "a2")},
		[]map[string]types.AttributeValue{entry(keyA, "a3"), entry(keyC, "c1")},
		[]map[string]types.AttributeValue{entry(keyB, "b1")},
	)}
	got, err := store.New(api, "t").ActiveKeys(t.Context())
	if err != nil {
		t.Fatalf("ActiveKeys() error = %v", err)
	}
	if want := []string{keyA, keyB, keyC}; !slices.Equal(got, want) {
		t.Errorf("ActiveKeys() = %v; want %v", got, want)
	}
	if len(inputs) != 3 || aws.ToString(inputs[0].IndexName) != store.ActiveIndex {
		t.Errorf("ActiveKeys() made %d Query calls on index %q; want 3 on %q", len(inputs), aws.ToString(inputs[0].IndexName), store.ActiveIndex)
	}
}

func TestRecordRejectionItem(t *testing.T) {
	var w writes
	r := app.Rejection{Source: "evb-1", EventID: "ev-1", Error: "trail: no keyArn", At: t0, Raw: "{}"}
	if err := store.New(w.api(nil, nil), "t").RecordRejection(t.Context(), r); err != nil {
		t.Fatalf("RecordRejection() error = %v", err)
	}
	if len(w.puts) != 1 {
		t.Fatalf("RecordRejection() made %d PutItem calls; want 1", len(w.puts))
	}
	got := w.puts[0].Item
	for name, want := range map[string]string{
		"pk": "REJECTED#2025-03-01", "sk": "2025-03-01T12:00:00Z#evb-1", "source": "evb-1", "eventId": "ev-1",
		"error": "trail: no keyArn", "raw": "{}", "ttl": strconv.FormatInt(t0.AddDate(0, 0, 90).Unix(), 10),
	} {
		if attrValue(got[name]) != want {
			t.Errorf("rejection item %s = %q; want %q", name, attrValue(got[name]), want)
		}
	}
}

func TestWithConsumedCapacity(t *testing.T) {
	var in *dynamodb.PutItemInput
	api := fakeAPI{putFunc: func(_ context.Context, got *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
		in = got
		return &dynamodb.PutItemOutput{ConsumedCapacity: &types.ConsumedCapacity{CapacityUnits: aws.Float64(2)}}, nil
	}}
	var ops []string
	var units float64
	tbl := store.New(api, "t")
	measured := tbl.WithConsumedCapacity(func(op string, u float64) { ops, units = append(ops, op), units+u })

	if err := tbl.SaveKey(t.Context(), grants(keyA, 1), lifecycle.Result{Changed: ids(1)}); err != nil {
		t.Fatalf("SaveKey() error = %v", err)
	}
	if in.ReturnConsumedCapacity != "" || len(ops) != 0 {
		t.Errorf("without the hook: ReturnConsumedCapacity %q, %d reports; want none", in.ReturnConsumedCapacity, len(ops))
	}
	if err := measured.SaveKey(t.Context(), grants(keyA, 1), lifecycle.Result{Changed: ids(1)}); err != nil {
		t.Fatalf("SaveKey() error = %v", err)
	}
	if in.ReturnConsumedCapacity != types.ReturnConsumedCapacityTotal || !slices.Equal(ops, []string{"PutItem"}) || units != 2 {
		t.Errorf("with the hook: ReturnConsumedCapacity %q, reports %v totalling %v; want TOTAL, [PutItem], 2", in.ReturnConsumedCapacity, ops, units)
	}
}
