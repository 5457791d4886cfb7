//go:build integration

package store_test

import "testing"

func TestJobStoreTable(t *testing.T) {
	tbl, _ := newTable(t)
	testJobStore(t, tbl)
}
