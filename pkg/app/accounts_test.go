package app_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/internal/fixture"
	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// Two member accounts beside the demo's 111122223333: the same grant id on a key of each (ids are unique per key
// only), and a key in a second Region.
const (
	member1, member2 = "222222222222", "333333333333"
	sharedID         = "5ad0000000000000000000000000000000000000000000000000000000000001"
)

var (
	m1East = "arn:aws:kms:us-east-1:" + member1 + ":key/5a5a5a5a-0000-0000-0000-000000000001"
	m1West = "arn:aws:kms:eu-west-1:" + member1 + ":key/5a5a5a5a-0000-0000-0000-000000000002"
	m2East = "arn:aws:kms:us-east-1:" + member2 + ":key/5b5b5b5b-0000-0000-0000-000000000001"
)

// orgQuery is demoQuery with the members' grants added: on m1East a primary and the shared id (a secondary),
// on m1West a primary, on m2East the shared id (a secondary, ended).
func orgQuery(t *testing.T) *app.Query {
	t.Helper()
	mem := store.NewMemory()
	fixture.ReplayQuerySet(t, mem)
	at := demoAt.Add(-48 * time.Hour)
	grant := func(key, id string, kind lifecycle.Kind, ended bool) lifecycle.Grant {
		g := lifecycle.Grant{ID: id, KeyARN: key, Kind: kind, CreatedAt: at, CreateEventID: "ev-" + id[:4] + key[len(key)-4:],
			CreatedBy: lifecycle.Caller{Type: "AWSService", InvokedBy: "bedrock.amazonaws.com"}}
		g.History = []lifecycle.HistoryEntry{{EventID: g.CreateEventID, Name: lifecycle.CreateGrant, Time: at}}
		if ended {
			g.EndedAt, g.EndedBy, g.EndEventID = at.Add(time.Hour), lifecycle.RetireGrant, "end-"+g.CreateEventID
		}
		return g
	}
	for key, gs := range map[string][]lifecycle.Grant{
		m1East: {grant(m1East, "5a01000000000000", lifecycle.Primary, false), grant(m1East, sharedID, lifecycle.Secondary, false)},
		m1West: {grant(m1West, "5a02000000000000", lifecycle.Primary, false)},
		m2East: {grant(m2East, sharedID, lifecycle.Secondary, true)},
	} {
		k := lifecycle.NewKey(key)
		var ids []string
		for _, g := range gs {
			k.Grants[g.ID], ids = g, append(ids, g.ID)
		}
		if err := mem.SaveKey(context.Background(), k, lifecycle.Result{Changed: ids}); err != nil {
			t.Fatal(err)
		}
	}
	return app.NewQuery(mem, func() time.Time { return demoAt })
}

func keysOf(gs []lifecycle.Grant) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.KeyARN[len(g.KeyARN)-1:]+":"+g.ID[:4])
	}
	slices.Sort(out)
	return out
}

// TestAccountAndRegionFilters: grants, keys and history narrowed by the account and Region their key names, read
// from the account's partition when an account is given, page by page.
func TestAccountAndRegionFilters(t *testing.T) {
	q := orgQuery(t)
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		f    app.Filter
		want []string // last character of the key ARN : first 4 of the grant id
	}{
		{"one account", app.Filter{Account: member1}, []string{"1:5a01", "1:5ad0", "2:5a02"}},
		{"one account, one Region", app.Filter{Account: member1, Region: "eu-west-1"}, []string{"2:5a02"}},
		{"one account, a kind", app.Filter{Account: member1, Kind: lifecycle.Secondary}, []string{"1:5ad0"}},
		{"one account, a state", app.Filter{Account: member2, State: lifecycle.Retired}, []string{"1:5ad0"}},
		{"a Region alone", app.Filter{Region: "eu-west-1"}, []string{"2:5a02"}},
		{"a key outside the account", app.Filter{KeyARN: m2East, Account: member1}, nil},
		{"an account with nothing", app.Filter{Account: "444444444444"}, nil},
		{"created at or before", app.Filter{Account: member1, ActiveAt: demoAt.Add(-49 * time.Hour)}, nil},
	} {
		for _, limit := range []int{1, 100} {
			var got []lifecycle.Grant
			from := app.Position{}
			for pages := 0; ; pages++ {
				page, err := q.Grants(ctx, tt.f, limit, from)
				if err != nil || pages > 20 {
					t.Fatalf("%s: Grants = %v (page %d)", tt.name, err, pages)
				}
				got = append(got, page.Grants...)
				if page.Next == nil {
					break
				}
				from = *page.Next
			}
			if !slices.Equal(keysOf(got), tt.want) {
				t.Errorf("%s, limit %d: %v; want %v", tt.name, limit, keysOf(got), tt.want)
			}
		}
	}
	if _, err := q.Grants(ctx, app.Filter{Account: member1}, 10, app.Position{Part: 1, After: "x"}); !errors.Is(err, app.ErrBadCursor) {
		t.Errorf("an account's listing has one partition; part 1: %v", err)
	}

	keys, err := q.Keys(ctx, app.Place{Account: member1})
	if err != nil || len(keys) != 2 || keys[0].KeyARN != m1West || keys[1].KeyARN != m1East || keys[1].Active != 2 || keys[0].Account != member1 {
		t.Errorf("Keys(member1) = %+v, %v; want its two keys, eu-west-1 first", keys, err)
	}
	all, err := q.Keys(ctx, app.Place{})
	if err != nil {
		t.Fatal(err)
	}
	accounts := app.Accounts(all)
	var names []string
	for _, a := range accounts {
		names = append(names, a.Account+"/"+strings.Join(a.Regions, "+")+"/"+strconv.Itoa(a.Keys))
	}
	if want := []string{"111122223333/us-east-1/10", member1 + "/eu-west-1+us-east-1/2", member2 + "/us-east-1/1"}; !slices.Equal(names, want) {
		t.Errorf("Accounts = %v; want %v", names, want)
	}
	if east, _ := q.Keys(ctx, app.Place{Region: "eu-west-1"}); len(east) != 1 || east[0].KeyARN != m1West {
		t.Errorf("Keys(eu-west-1) = %+v; want m1West alone", east)
	}

	// The same id on two accounts' keys: the account chooses; without one, the key is asked for.
	if _, err := q.History(ctx, sharedID, "", app.Place{}); !errors.Is(err, app.ErrInvalid) || !strings.Contains(err.Error(), "name the key, or the account or Region") {
		t.Errorf("History(shared id) = %v; want an input error asking for the key or account", err)
	}
	h, err := q.History(ctx, sharedID, "", app.Place{Account: member2})
	if err != nil || h.Grant.KeyARN != m2East {
		t.Errorf("History(shared id, member2) = %s, %v; want the grant on %s", h.Grant.KeyARN, err, m2East)
	}
	if _, err := q.History(ctx, sharedID, "", app.Place{Account: member1, Region: "eu-west-1"}); !errors.Is(err, app.ErrNotFound) ||
		!strings.Contains(err.Error(), "in account "+member1+", Region eu-west-1") {
		t.Errorf("History(shared id, member1 eu-west-1) = %v; want not found, naming the place", err)
	}
	if _, err := q.History(ctx, sharedID, m1East, app.Place{Account: member2}); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("History(shared id, key of member1, account member2) = %v; want not found", err)
	}
}

func TestTargetsAndScope(t *testing.T) {
	got := app.Targets([]string{member1, member2}, []string{"us-east-1", "eu-west-1"})
	var names []string
	for _, tg := range got {
		names = append(names, tg.String())
	}
	if want := []string{member1 + "/us-east-1", member1 + "/eu-west-1", member2 + "/us-east-1", member2 + "/eu-west-1"}; !slices.Equal(names, want) {
		t.Errorf("Targets = %v; want %v", names, want)
	}
	if s := (app.Target{}).String(); s != "this account" {
		t.Errorf("zero Target = %q", s)
	}
	if s := (app.Target{Region: "eu-west-1"}).String(); s != "this account/eu-west-1" {
		t.Errorf("this account in another Region = %q", s)
	}
	for _, tt := range []struct {
		scope app.Scope
		key   string
		want  bool
	}{
		{app.Scope{}, m1East, true},
		{app.Scope{Accounts: []string{member1}}, m1West, true},
		{app.Scope{Accounts: []string{member2}}, m1West, false},
		{app.Scope{Regions: []string{"us-east-1"}}, m1West, false},
		{app.Scope{Accounts: []string{member1, member2}, Regions: []string{"us-east-1"}}, m2East, true},
	} {
		if got := tt.scope.Contains(tt.key); got != tt.want {
			t.Errorf("%+v.Contains(%s) = %v; want %v", tt.scope, tt.key, got, tt.want)
		}
	}
}
