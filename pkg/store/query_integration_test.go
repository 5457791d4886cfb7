//go:build integration

package store_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/grantwatch/grantwatch/internal/fixture"
	"github.com/grantwatch/grantwatch/internal/testenv"
	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// replayDemo ingests the query set into st.
func replayDemo(t *testing.T, st app.Store) { fixture.ReplayQuerySet(t, st) }

// walk reads every page of q with page size limit and returns the grant ids in order.
func walk(t *testing.T, qs app.QueryStore, q app.GrantQuery, limit int) []string {
	t.Helper()
	q.Limit = limit
	return fixture.Walk(t, 200, "", func(after string) ([]string, string, bool) {
		q.After = after
		p, err := qs.QueryGrants(context.Background(), q)
		if err != nil {
			t.Fatalf("QueryGrants(%+v) error = %v", q, err)
		}
		if len(p.Grants) > limit {
			t.Fatalf("QueryGrants(%+v): %d grants on a page", q, len(p.Grants))
		}
		var ids []string
		for _, g := range p.Grants {
			ids = append(ids, g.ID)
		}
		return ids, p.Next, p.Next != ""
	})
}

// TestReaderMatchesMemory: the DynamoDB read side (indexes written by SaveKey, key conditions, positions) returns
// what the memory store returns, page size whatever.
func TestReaderMatchesMemory(t *testing.T) {
	tbl, client := newTable(t)
	mem := store.NewMemory()
	replayDemo(t, tbl)
	replayDemo(t, mem)
	// A second account with keys in two Regions, beside the demo's one account and Region.
	for _, k := range orgKeys() {
		for _, st := range []app.Store{tbl, mem} {
			if err := saveAll(t.Context(), st, k, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	rd := store.NewReader(client, tableName)

	key := fixture.DemoKey
	active := func(g lifecycle.Grant) bool { return !g.Ended() }
	queries := []app.GrantQuery{
		{KeyARN: key("010000000001")},
		{KeyARN: key("120000000001"), Match: active},
		{KeyARN: key("040000000001")}, // ends arrived before creates
		{KeyARN: key("140000000001")},
		{KeyARN: key("ffffffffffff")}, // nothing recorded
		{Kind: lifecycle.Secondary, Match: active},
		{Kind: lifecycle.OtherBedrock},
		{Kind: lifecycle.DataAutomation, CreatedAtMost: time.Date(2024, 5, 30, 12, 0, 0, 0, time.UTC)}, // bound is inclusive
	}
	for _, k := range app.Kinds {
		queries = append(queries, app.GrantQuery{Kind: k})
	}
	queries = append(queries,
		app.GrantQuery{Account: "111122223333"},
		app.GrantQuery{Account: "111122223333", Match: active},
		app.GrantQuery{Account: "111122223333", CreatedAtMost: time.Date(2024, 5, 30, 12, 0, 0, 0, time.UTC)},
		app.GrantQuery{Account: orgAccount},
		app.GrantQuery{Account: orgAccount, CreatedAtMost: t0},
		app.GrantQuery{Account: "999999999999"},
	)
	for _, q := range queries {
		want := walk(t, mem, q, 100)
		for _, limit := range []int{1, 3, 100} {
			if got := walk(t, rd, q, limit); !slices.Equal(got, want) {
				t.Errorf("Reader %+v limit %d = %v; want %v (memory)", q, limit, got, want)
			}
		}
	}
	if n := len(walk(t, rd, app.GrantQuery{Kind: lifecycle.DataAutomation, CreatedAtMost: time.Date(2024, 5, 30, 12, 0, 0, 0, time.UTC)}, 100)); n != 2 {
		t.Errorf("data-automation created at or before 05-30T12:00 = %d grants; want 2 (one created exactly then)", n)
	}
	// The second account's three grants were all created at t0: in table key order.
	if got, want := walk(t, rd, app.GrantQuery{Account: orgAccount}, 100), []string{"0a0000000001", "0a0000000002", "0e0000000001"}; !slices.Equal(got, want) {
		t.Errorf("Reader account %s = %v; want %v", orgAccount, got, want)
	}
	if n := len(walk(t, rd, app.GrantQuery{Account: "111122223333"}, 100)); n != 22 {
		t.Errorf("Reader account 111122223333 = %d grants; want the demo's 22", n)
	}

	ctx := t.Context()
	// The keys reconcile visits: every account's from GrantsByKind, some accounts' from GrantsByAccount.
	for _, accounts := range [][]string{nil, {orgAccount}, {"111122223333"}, {orgAccount, "111122223333"}, {"999999999999"}} {
		got, err := tbl.ReconcileKeys(ctx, accounts)
		want, _ := mem.ReconcileKeys(ctx, accounts)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ReconcileKeys(%v) = %v, %v; want %v (memory)", accounts, got, err, want)
		}
		if slices.Equal(accounts, []string{orgAccount}) && len(got) != 2 {
			t.Errorf("ReconcileKeys(%v) = %v; want the account's two keys", accounts, got)
		}
	}
	// The last id is a tombstone: recorded, never reported.
	for _, id := range []string{"0101ea759c9b3586fd76bdb2e06bef27b95ea9012b9a5d572deb4bd38ce6ed7f", "04023bd104d5b93c78d6aa9a0738a7937f100d091ba3b54356aa1bba3b5f9980",
		"nope", "060160be4f0b85f04b86b939922d5bd7cdb1a1ff7f17b1c12e78781d43c3c5a7"} {
		gotKeys, err := rd.GrantKeys(ctx, id)
		wantKeys, _ := mem.GrantKeys(ctx, id)
		if err != nil || !slices.Equal(gotKeys, wantKeys) {
			t.Errorf("GrantKeys(%s) = %v, %v; want %v", id, gotKeys, err, wantKeys)
		}
		for _, k := range wantKeys {
			g, err := rd.Grant(ctx, k, id)
			wg, _ := mem.Grant(ctx, k, id)
			g.Version, wg.Version = 0, 0
			if err != nil || !reflect.DeepEqual(g, wg) {
				t.Errorf("Grant(%s) = %+v, %v; want %+v", id, g, err, wg)
			}
			ch, err := rd.Children(ctx, k, id)
			wch, _ := mem.Children(ctx, k, id)
			if err != nil || len(ch) != len(wch) {
				t.Errorf("Children(%s) = %d, %v; want %d", id, len(ch), err, len(wch))
			}
			u, err := rd.Usage(ctx, k)
			wu, _ := mem.Usage(ctx, k)
			u.Version, wu.Version = 0, 0
			if err != nil || !reflect.DeepEqual(u, wu) {
				t.Errorf("Usage(%s) = %+v, %v; want %+v", k, u, err, wu)
			}
		}
	}
	if g, err := rd.Grant(ctx, key("010000000001"), "nope"); err != nil || g.ID != "" {
		t.Errorf("Grant(missing) = %+v, %v; want the zero Grant", g, err)
	}

	// Positions that do not belong to the query are refused before DynamoDB sees them.
	first, err := rd.QueryGrants(ctx, app.GrantQuery{Kind: lifecycle.Secondary, Limit: 1})
	if err != nil || first.Next == "" {
		t.Fatalf("first secondary page: %v, next %q", err, first.Next)
	}
	acct, err := rd.QueryGrants(ctx, app.GrantQuery{Account: "111122223333", Limit: 1})
	if err != nil || acct.Next == "" {
		t.Fatalf("first page of the account's grants: %v, next %q", err, acct.Next)
	}
	for _, q := range []app.GrantQuery{
		{Kind: lifecycle.Primary, After: first.Next, Limit: 1},
		{Account: "111122223333", After: first.Next, Limit: 1},
		{Kind: lifecycle.Secondary, After: acct.Next, Limit: 1},
		{Account: orgAccount, After: acct.Next, Limit: 1},
		{Account: "111122223333", CreatedAtMost: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), After: acct.Next, Limit: 1},
		{Account: orgAccount, After: `{"pk":"KEY#` + key("010000000001") + `","sk":"GRANT#0a0000000002","ac":"` + orgAccount +
			`","gsi2sk":"2025-03-01T00:00:00.000000000Z#0a000000"}`, Limit: 1}, // a key of another account
		{Account: "111122223333", After: `{"pk":"KEY#x"}`, Limit: 1},
		{KeyARN: key("010000000001"), After: first.Next, Limit: 1},
		{Kind: lifecycle.Secondary, After: first.Next, Limit: 1, CreatedAtMost: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)},
		{Kind: lifecycle.Secondary, After: `{"pk":"KEY#x","sk":"GRANT#y","gsi2pk":"KIND#secondary","gsi2sk":"2024#x#y"}`, Limit: 1},
	} {
		for name, qs := range map[string]app.QueryStore{"table": rd, "memory": mem} {
			if _, err := qs.QueryGrants(ctx, q); !errors.Is(err, app.ErrBadCursor) {
				t.Errorf("%s QueryGrants(%+v) error = %v; want ErrBadCursor", name, q, err)
			}
		}
	}
}

// orgAccount is a second account, with keys in two Regions (orgKeys).
const orgAccount = "444455556666"

// orgKeys: a primary and a secondary on a key in us-east-1, and a primary in eu-west-1.
func orgKeys() []lifecycle.Key {
	east, west := "arn:aws:kms:us-east-1:"+orgAccount+":key/0a0a0a0a-0000-0000-0000-000000000001",
		"arn:aws:kms:eu-west-1:"+orgAccount+":key/0e0e0e0e-0000-0000-0000-000000000001"
	k1, k2 := lifecycle.NewKey(east), lifecycle.NewKey(west)
	k1.Grants["0a0000000001"], k1.Grants["0a0000000002"] = activeGrant(east, "0a0000000001"), endedGrant(east, "0a0000000002")
	k2.Grants["0e0000000001"] = activeGrant(west, "0e0000000001")
	return []lifecycle.Key{k1, k2}
}

// TestReaderIssuesNoScan counts the DynamoDB operations of every read method through a proxy.
func TestReaderIssuesNoScan(t *testing.T) {
	tbl, _ := newTable(t)
	replayDemo(t, tbl)
	proxyURL, calls := testenv.CountingProxy(t)
	cfg := testenv.AWSConfig()
	cfg.BaseEndpoint = &proxyURL
	rd := store.NewReader(dynamodb.NewFromConfig(cfg), tableName)
	q := app.NewQuery(rd, func() time.Time { return fixture.DemoAt })
	ctx := t.Context()
	if ids, err := rd.GrantIDs(ctx, "0101ea75", 10); err != nil || len(ids) != 1 {
		t.Fatalf("GrantIDs(0101ea75) = %q, %v; want one grant", ids, err)
	}
	if _, err := q.AllGrants(ctx, app.Filter{ActiveAt: fixture.DemoAt.Add(-30 * time.Hour)}, 1000); err != nil {
		t.Fatal(err)
	}
	if _, err := q.History(ctx, "0101ea759c9b3586fd76bdb2e06bef27b95ea9012b9a5d572deb4bd38ce6ed7f", "", app.Place{}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Keys(ctx, app.Place{}); err != nil {
		t.Fatal(err)
	}
	got := calls.Counts()
	if got["Scan"] != 0 || got["Query"] == 0 || got["GetItem"] == 0 {
		t.Errorf("DynamoDB calls = %v; want Query and GetItem, no Scan", got)
	}
	for op := range got {
		if op != "Query" && op != "GetItem" {
			t.Errorf("read path called %s", op)
		}
	}
}

// TestReaderGrantIDs: prefixes are a key condition on GrantsByIdPrefix, answered as the memory store answers them.
func TestReaderGrantIDs(t *testing.T) {
	tbl, client := newTable(t)
	testGrantIDs(t, tbl, store.NewReader(client, tableName))
}
