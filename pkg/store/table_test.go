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

type fakeAPI struct {
	putFunc
	transactFunc
	queryFunc
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w writes
			err := store.New(w.api(nil, nil), "t").SaveKey(t.Context(), grants(keyA, tt.grants), tt.result)
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
		wantCondition string
		wantGiven     string // :v, when the condition has one
		wantVersion   string
		wantActive    bool
		wantTTL       string
	}{
		{name: "new active grant", grant: activeGrant(keyA, "g1"), wantCondition: "attribute_not_exists(pk)",
			wantVersion: "1", wantActive: true},
		{name: "active grant update", grant: versioned(activeGrant(keyA, "g1"), 3), wantCondition: "version = :v",
			wantGiven: "3", wantVersion: "4", wantActive: true},
		{name: "ended grant", grant: versioned(endedGrant(keyA, "g1"), 1), wantCondition: "version = :v",
			wantGiven: "1", wantVersion: "2"},
		{name: "pending tombstone expires 90 days after its end", grant: pending, wantCondition: "attribute_not_exists(pk)",
			wantVersion: "1", wantTTL: strconv.FormatInt(pending.EndedAt.AddDate(0, 0, 90).Unix(), 10)},
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
				{"sk", attrValue(item["sk"]), "GRANT#g1"},
				{"grantId", attrValue(item["grantId"]), "g1"},
				{"version", attrValue(item["version"]), tt.wantVersion},
				{"ttl", attrValue(item["ttl"]), tt.wantTTL},
				{"gsi1pk", attrValue(item["gsi1pk"]), map[bool]string{true: "ACTIVE"}[tt.wantActive]},
				{"gsi1sk", attrValue(item["gsi1sk"]), map[bool]string{true: keyA + "#g1"}[tt.wantActive]},
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
		{name: "unchecked usage is indexed", unchecked: true, wantGSI1PK: "ACTIVE", wantGSI1SK: keyA + "#USAGE"},
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
	got, err := store.New(api, "t").LoadKey(t.Context(), keyA)
	if err != nil {
		t.Fatalf("LoadKey() error = %v", err)
	}
	want := keyWith(keyA, lifecycle.Grant{ID: "g1", KeyARN: keyA}, lifecycle.Grant{ID: "g2", KeyARN: keyA})
	want.Usage.LastUsedBy = "AWSService/bedrock.amazonaws.com"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LoadKey() = %+v; want %+v", got, want)
	}
	if len(inputs) != 2 || !aws.ToBool(inputs[0].ConsistentRead) || inputs[0].IndexName != nil {
		t.Errorf("LoadKey() made %d Query calls (first: ConsistentRead %v, index %v); want 2 strongly consistent table queries",
			len(inputs), inputs[0].ConsistentRead, aws.ToString(inputs[0].IndexName))
	}
}

func TestLoadKeyUnknownItem(t *testing.T) {
	var inputs []*dynamodb.QueryInput
	api := fakeAPI{queryFunc: pagedQuery(&inputs, []map[string]types.AttributeValue{item("pk", "KEY#"+keyA, "sk", "ALIAS#x")})}
	_, err := store.New(api, "t").LoadKey(t.Context(), keyA)
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
