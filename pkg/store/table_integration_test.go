//go:build integration

package store_test

import (
	"os"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/grantwatch/grantwatch/internal/testenv"
	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/store"
)

const tableName = "grantwatch-test"

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// newTable wipes moto and creates a fresh table, so every test starts empty.
func newTable(tb testing.TB) (*store.Table, *dynamodb.Client) {
	tb.Helper()
	client := testenv.Table(tb, tableName)
	return store.New(client, tableName), client
}

func TestTable(t *testing.T) {
	testStore(t, func(t *testing.T) app.Store {
		_, client := newTable(t)
		// Each call is made atomic at moto as it is in DynamoDB (see atomicCalls); the concurrent-saver cases still
		// race read, apply and conditional write as separate calls.
		return store.New(&atomicCalls{API: client}, tableName)
	})
}

func TestTableRejectionReadable(t *testing.T) {
	tbl, client := newTable(t)
	want := app.Rejection{Source: "evb-1", EventID: "ev-1", Error: "trail: no keyArn", At: t0, Raw: `{"eventName":"CreateGrant"}`}
	if err := tbl.RecordRejection(t.Context(), want); err != nil {
		t.Fatalf("RecordRejection() error = %v", err)
	}
	out, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{
		TableName: aws.String(tableName),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "REJECTED#2025-03-01"},
			"sk": &types.AttributeValueMemberS{Value: "2025-03-01T12:00:00Z#evb-1"},
		},
	})
	if err != nil {
		t.Fatalf("GetItem() error = %v", err)
	}
	var got app.Rejection
	if err := attributevalue.UnmarshalMapWithOptions(out.Item, &got, func(o *attributevalue.DecoderOptions) { o.TagKey = "json" }); err != nil {
		t.Fatalf("decode rejection item %v: %v", out.Item, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stored rejection = %+v; want %+v", got, want)
	}
	if attrValue(out.Item["ttl"]) == "" {
		t.Errorf("stored rejection has no ttl attribute: %v", out.Item)
	}
}

func TestCreateTable(t *testing.T) {
	_, client := newTable(t)
	ctx := t.Context()
	// A second call finds the table and is not an error.
	if err := store.CreateTable(ctx, client, tableName); err != nil {
		t.Fatalf("CreateTable() on an existing table error = %v; want nil", err)
	}
	ttl, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(tableName)})
	if err != nil {
		t.Fatalf("DescribeTimeToLive() error = %v", err)
	}
	if d := ttl.TimeToLiveDescription; d.TimeToLiveStatus != types.TimeToLiveStatusEnabled || aws.ToString(d.AttributeName) != store.TTLAttribute {
		t.Errorf("TTL = %s on %q; want %s on %q", d.TimeToLiveStatus, aws.ToString(d.AttributeName), types.TimeToLiveStatusEnabled, store.TTLAttribute)
	}
	desc, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tableName)})
	if err != nil {
		t.Fatalf("DescribeTable() error = %v", err)
	}
	// The read side has the indexes GrantsByKind and GrantsByAccount (INCLUDE), GrantsById and GrantsByIdPrefix
	// (KEYS_ONLY).
	got := map[string]types.ProjectionType{}
	for _, g := range desc.Table.GlobalSecondaryIndexes {
		got[aws.ToString(g.IndexName)] = g.Projection.ProjectionType
	}
	want := map[string]types.ProjectionType{store.ActiveIndex: types.ProjectionTypeKeysOnly,
		store.KindIndex: types.ProjectionTypeInclude, store.IDIndex: types.ProjectionTypeKeysOnly, store.PrefixIndex: types.ProjectionTypeKeysOnly,
		store.AccountIndex: types.ProjectionTypeInclude}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("table indexes = %v; want %v", got, want)
	}
}
