//go:build integration

package app_test

import (
	"os"
	"testing"

	"github.com/grantwatch/grantwatch/internal/testenv"
	"github.com/grantwatch/grantwatch/pkg/store"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// TestBackfillKillAndResumeTable is the kill-and-resume test with grants and checkpoints in DynamoDB (moto).
func TestBackfillKillAndResumeTable(t *testing.T) {
	testKillAndResume(t, store.New(testenv.Table(t, "grantwatch-backfill"), "grantwatch-backfill"), 80, 3)
}
