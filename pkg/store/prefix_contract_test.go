package store_test

import (
	"slices"
	"testing"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// testGrantIDs saves grants through s and looks them up by id prefix through qs: the same id on two keys comes once,
// archived grants count, hidden tombstones never do, and a prefix shorter than app.GrantIDPrefixLen is refused.
func testGrantIDs(t *testing.T, s app.Store, qs app.QueryStore) {
	t.Helper()
	ctx := t.Context()
	for _, k := range []lifecycle.Key{
		keyWith(keyA, activeGrant(keyA, "abcdef0011aa"), archived(endedGrant(keyA, "abcdef0022bb"))),
		keyWith(keyB, activeGrant(keyB, "abcdef0011aa"), pendingGrant(keyB, "abcdef0033cc")),
		keyWith(keyC, activeGrant(keyC, "12345678"), activeGrant(keyC, "1234567890"), activeGrant(keyC, "abcdef01")),
	} {
		if err := saveAll(ctx, s, k, false); err != nil {
			t.Fatalf("SaveKey(%s) error = %v", k.ARN, err)
		}
	}
	tests := []struct {
		prefix string
		limit  int
		want   []string
	}{
		{"abcdef00", 10, []string{"abcdef0011aa", "abcdef0022bb"}},
		{"abcdef00", 1, []string{"abcdef0011aa"}},
		{"abcdef0011", 10, []string{"abcdef0011aa"}},
		{"abcdef0011aa", 10, []string{"abcdef0011aa"}},
		{"abcdef0022", 10, []string{"abcdef0022bb"}}, // archived
		{"abcdef0033", 10, nil},                      // a tombstone only
		{"abcdef01", 10, []string{"abcdef01"}},
		{"12345678", 10, []string{"12345678", "1234567890"}},
		{"123456789", 10, []string{"1234567890"}},
		{"zzzzzzzz", 10, nil},
	}
	for _, tt := range tests {
		got, err := qs.GrantIDs(ctx, tt.prefix, tt.limit)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("GrantIDs(%q, %d) = %q, %v; want %q", tt.prefix, tt.limit, got, err, tt.want)
		}
	}
	if got, err := qs.GrantIDs(ctx, "abcdef0", 10); err == nil {
		t.Errorf("GrantIDs(7 characters) = %q; want an error", got)
	}
}

func TestMemoryGrantIDs(t *testing.T) {
	m := store.NewMemory()
	testGrantIDs(t, m, m)
}
