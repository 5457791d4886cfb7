//go:build integration

package store_test

import (
	"context"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/grantwatch/grantwatch/pkg/store"
)

// atomicCalls makes each DynamoDB call atomic at moto, as every call is in DynamoDB. moto_server runs requests in
// threads and checks a TransactWriteItems condition without a lock: with 4 threads racing one conditional write,
// more than one "won" in 4 of 150 rounds (probe with boto3 against moto 5.2.1). DynamoDB guarantees one winner.
// Serialising single calls keeps the race this test is about: every sweep's read, claim and conditional write are
// separate calls that still interleave with the other sweeps'.
type atomicCalls struct {
	store.API
	mu sync.Mutex
}

func (a *atomicCalls) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.API.PutItem(ctx, in, o...)
}

func (a *atomicCalls) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.API.TransactWriteItems(ctx, in, o...)
}

func (a *atomicCalls) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.API.Query(ctx, in, o...)
}

// TestNotifyOnceTable races sweeps and ingests on DynamoDB (moto): the conditional writes decide the claims.
func TestNotifyOnceTable(t *testing.T) {
	for range 2 {
		_, client := newTable(t)
		testNotifyOnce(t, store.New(&atomicCalls{API: client}, tableName), 8)
	}
}
