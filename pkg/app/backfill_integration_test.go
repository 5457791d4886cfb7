//go:build integration

package app_test

import (
	"context"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/grantwatch/grantwatch/internal/testenv"
	"github.com/grantwatch/grantwatch/pkg/store"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// TestBackfillKillAndResumeTable is the kill-and-resume test with grants and checkpoints in DynamoDB (moto).
func TestBackfillKillAndResumeTable(t *testing.T) {
	testenv.Reset(t)
	client := dynamodb.NewFromConfig(testenv.AWSConfig())
	if err := store.CreateTable(context.Background(), client, "grantwatch-backfill"); err != nil {
		t.Fatal(err)
	}
	testKillAndResume(t, store.New(client, "grantwatch-backfill"), 80, 3)
}
