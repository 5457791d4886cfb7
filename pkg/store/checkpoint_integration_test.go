//go:build integration

package store_test

import (
	"testing"

	"github.com/grantwatch/grantwatch/pkg/app"
)

func TestTableCheckpoints(t *testing.T) {
	testCheckpoints(t, func(t *testing.T) app.CheckpointStore {
		tbl, _ := newTable(t)
		return tbl
	})
}
