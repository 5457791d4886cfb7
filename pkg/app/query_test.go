package app_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/internal/fixture"
	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/store"
)

var demoAt, demoKey = fixture.DemoAt, fixture.DemoKey

// demoQuery replays the query set into a Memory store and returns the Query use case on it, at demoAt.
func demoQuery(t *testing.T) (*app.Query, *store.Memory) {
	t.Helper()
	mem := store.NewMemory()
	fixture.ReplayQuerySet(t, mem)
	return app.NewQuery(mem, func() time.Time { return demoAt }), mem
}

// prefixes names grants by the first four digits of their id: scenario and grant (events/README.md).
func prefixes(gs []lifecycle.Grant) []string {
	out := make([]string, 0, len(gs))
	for _, g := range gs {
		out = append(out, g.ID[:4])
	}
	slices.Sort(out)
	return out
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestGrantsFilters(t *testing.T) {
	q, _ := demoQuery(t)
	tests := []struct {
		name string
		f    app.Filter
		want []string
	}{
		// Scenario 01: primary 0101 from 05-30T10:00; secondaries 0102 (10:01, retired 11:00:00) and 0103 (10:02,
		// retired 11:00:30).
		{name: "key 01 while its secondaries worked", f: app.Filter{KeyARN: demoKey("010000000001"), ActiveAt: mustTime("2024-05-30T10:30:00Z")},
			want: []string{"0101", "0102", "0103"}},
		{name: "key 01 at the first retirement: ended at T is not active", f: app.Filter{KeyARN: demoKey("010000000001"), ActiveAt: mustTime("2024-05-30T11:00:00Z")},
			want: []string{"0101", "0103"}},
		{name: "key 01 created at T is active", f: app.Filter{KeyARN: demoKey("010000000001"), ActiveAt: mustTime("2024-05-30T10:01:00Z")},
			want: []string{"0101", "0102"}},
		{name: "key 01 before anything", f: app.Filter{KeyARN: demoKey("010000000001"), ActiveAt: mustTime("2024-05-30T09:59:59Z")}},
		{name: "key 01 now", f: app.Filter{KeyARN: demoKey("010000000001"), State: lifecycle.Active}, want: []string{"0101"}},
		// Scenario 03: primary 0301 05-31T06:00, revoked 18:00; secondary 0302 06:05, still active.
		{name: "key 03 before the revocation", f: app.Filter{KeyARN: demoKey("030000000001"), ActiveAt: mustTime("2024-05-31T17:59:59Z")},
			want: []string{"0301", "0302"}},
		{name: "key 03 after the revocation", f: app.Filter{KeyARN: demoKey("030000000001"), ActiveAt: mustTime("2024-05-31T18:00:01Z")},
			want: []string{"0302"}},
		// Scenario 04 (ends arrived before creates): primary 0401 05-30T08:00, revoked 05-31T12:00; secondary 0402
		// 08:05, retired 09:00.
		{name: "key 04 across a retirement", f: app.Filter{KeyARN: demoKey("040000000001"), ActiveAt: mustTime("2024-05-30T09:30:00Z")},
			want: []string{"0401"}},
		{name: "key 04 at the revocation", f: app.Filter{KeyARN: demoKey("040000000001"), ActiveAt: mustTime("2024-05-31T12:00:00Z")}},
		// Without a key: the kind index, bounded by creation time.
		{name: "all keys at 05-29T12:00", f: app.Filter{ActiveAt: mustTime("2024-05-29T12:00:00Z")}, want: []string{"0701", "0802"}},
		{name: "revoked primaries", f: app.Filter{Kind: lifecycle.Primary, State: lifecycle.Revoked}, want: []string{"0301", "0401"}},
		{name: "older than 48h", f: app.Filter{OlderThan: 48 * time.Hour}, want: []string{"0701", "0802"}},
		{name: "older than 2d, active", f: app.Filter{OlderThan: 48 * time.Hour, State: lifecycle.Active}, want: []string{"0701"}},
		{name: "active secondaries older than 24h", f: app.Filter{Kind: lifecycle.Secondary, State: lifecycle.Active, OlderThan: 24 * time.Hour},
			want: []string{"0202"}}, // 0302 is 17h55m old
		// 1102 was retired at 07:00 exactly, so it is not active then.
		{name: "active at T and older than D", f: app.Filter{ActiveAt: mustTime("2024-05-30T07:00:00Z"), OlderThan: 24 * time.Hour},
			want: []string{"0701", "0802", "1101", "1103"}},
		{name: "older than: exactly D is not older", f: app.Filter{OlderThan: 40 * time.Hour, Kind: lifecycle.Primary, KeyARN: demoKey("020000000001")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := q.AllGrants(context.Background(), tt.f, 1000)
			if err != nil {
				t.Fatalf("AllGrants(%+v) error = %v", tt.f, err)
			}
			if p := prefixes(got); !slices.Equal(p, tt.want) {
				t.Errorf("AllGrants(%+v) = %v; want %v", tt.f, p, tt.want)
			}
		})
	}
}

// TestGrantsPagination: every page size gives the same grants as one big page, in the same order, no page larger
// than asked, and the walk ends.
func TestGrantsPagination(t *testing.T) {
	q, _ := demoQuery(t)
	ctx := context.Background()
	for _, f := range []app.Filter{{}, {KeyARN: demoKey("120000000001")}, {State: lifecycle.Active}, {ActiveAt: mustTime("2024-05-31T10:00:00Z")}} {
		all, err := q.Grants(ctx, f, app.MaxLimit, app.Position{})
		if err != nil || all.Next != nil {
			t.Fatalf("Grants(%+v, 100) = next %v, error %v; want one page", f, all.Next, err)
		}
		for _, limit := range []int{1, 2, 3, 7} {
			got := fixture.Walk(t, 100, app.Position{}, func(from app.Position) ([]lifecycle.Grant, app.Position, bool) {
				l, err := q.Grants(ctx, f, limit, from)
				if err != nil {
					t.Fatalf("%+v limit %d from %+v: %v", f, limit, from, err)
				}
				if len(l.Grants) > limit {
					t.Fatalf("%+v limit %d from %+v: %d grants", f, limit, from, len(l.Grants))
				}
				if l.Next == nil {
					return l.Grants, app.Position{}, false
				}
				return l.Grants, *l.Next, true
			})
			if !slices.EqualFunc(got, all.Grants, func(a, b lifecycle.Grant) bool { return a.ID == b.ID }) {
				t.Errorf("%+v limit %d: pages = %v; want %v", f, limit, prefixes(got), prefixes(all.Grants))
			}
		}
	}
}

// TestPositionRejected: a page position that does not belong to the query is an ErrBadCursor, whoever made it up.
// Page tokens are not signed (pkg/queryapi), so these are exactly what a caller can put in one.
func TestPositionRejected(t *testing.T) {
	q, _ := demoQuery(t)
	ctx := context.Background()
	f := app.Filter{KeyARN: demoKey("010000000001")}
	first, err := q.Grants(ctx, f, 1, app.Position{})
	if err != nil || first.Next == nil {
		t.Fatalf("first page: next %v, err %v", first.Next, err)
	}
	otherKey := `{"pk":"KEY#` + demoKey("020000000001") + `","sk":"GRANT#0201ff9c2a4876207a00728dcfec6c58a7855f88f973772ea28f099a1fc47b19"}`
	tests := []struct {
		name string
		from app.Position
		f    app.Filter
	}{
		{name: "position on another key", from: app.Position{After: otherKey}, f: f},
		{name: "position not JSON", from: app.Position{After: "{"}, f: f},
		{name: "position with extra attributes", from: app.Position{After: `{"pk":"KEY#` + demoKey("010000000001") + `","sk":"GRANT#x","gsi1pk":"ACTIVE"}`}, f: f},
		{name: "another kind's position", from: app.Position{After: otherKey}, f: app.Filter{Kind: lifecycle.Primary}},
		{name: "kind partition out of range", from: app.Position{Part: 9, After: "{}"}, f: app.Filter{}},
		{name: "kind partition with a kind filter", from: app.Position{Part: 1, After: "{}"}, f: app.Filter{Kind: lifecycle.Secondary}},
		{name: "kind partition with a key", from: app.Position{Part: 1, After: first.Next.After}, f: f},
		{name: "negative partition", from: app.Position{Part: -1}, f: app.Filter{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := q.Grants(ctx, tt.f, 1, tt.from)
			if !errors.Is(err, app.ErrBadCursor) || !errors.Is(err, app.ErrInvalid) {
				t.Errorf("Grants from %+v = error %v; want ErrBadCursor", tt.from, err)
			}
		})
	}
	t.Run("the issued one works", func(t *testing.T) {
		if _, err := q.Grants(ctx, f, 1, *first.Next); err != nil {
			t.Errorf("the issued position: %v", err)
		}
	})
}

func TestInputErrors(t *testing.T) {
	q, _ := demoQuery(t)
	for _, limit := range []int{0, 101} {
		_, err := q.Grants(context.Background(), app.Filter{}, limit, app.Position{})
		var ie *app.InputError
		if !errors.Is(err, app.ErrInvalid) || !errors.As(err, &ie) || ie.Field != "limit" {
			t.Errorf("Grants(limit %d) error = %v; want an InputError on limit", limit, err)
		}
	}
	if _, err := q.AllGrants(context.Background(), app.Filter{}, 3); !errors.Is(err, app.ErrInvalid) || !strings.Contains(err.Error(), "narrow the filter") {
		t.Errorf("AllGrants beyond max: error %v; want ErrInvalid asking to narrow the filter", err)
	}
	for _, tt := range []struct {
		err  error
		want string
	}{
		{&app.InputError{Field: "limit", Value: "500", Problem: "is out of range 1..100"}, `limit "500" is out of range 1..100`},
		{&app.InputError{Field: "cursor", Problem: "is empty"}, "cursor is empty"},
		{&app.InputError{Problem: "unknown query parameter(s) x"}, "unknown query parameter(s) x"},
		{fmt.Errorf("%w: no position", app.ErrBadCursor), "invalid cursor: no position"},
	} {
		if got := tt.err.Error(); got != tt.want || !errors.Is(tt.err, app.ErrInvalid) {
			t.Errorf("%#v: %q, ErrInvalid %v; want %q and ErrInvalid", tt.err, got, errors.Is(tt.err, app.ErrInvalid), tt.want)
		}
	}
	if errors.Is(app.ErrInvalid, app.ErrBadCursor) || errors.Is(app.ErrNotFound, app.ErrInvalid) {
		t.Error("the kinds overlap beyond ErrBadCursor ⊂ ErrInvalid")
	}
}

func TestHistory(t *testing.T) {
	q, _ := demoQuery(t)
	ctx := context.Background()
	const primary = "0101ea759c9b3586fd76bdb2e06bef27b95ea9012b9a5d572deb4bd38ce6ed7f"
	const secondary = "0102381c786c9b7dea68c477c3cd775e83df21675a72b533994ad18ad07d7f01"

	h, err := q.History(ctx, primary, "", app.Place{})
	if err != nil {
		t.Fatalf("History(primary) error = %v", err)
	}
	if got := prefixes(h.Children); !slices.Equal(got, []string{"0102", "0103"}) {
		t.Errorf("children = %v; want [0102 0103]", got)
	}
	if h.Created == nil || !strings.Contains(h.Created.By, "assumed-role/RoleForModelCopy/") || h.Created.SourceIP != "bedrock.amazonaws.com" || h.Created.CallerType != "AssumedRole" {
		t.Errorf("created = %+v; want the RoleForModelCopy session through bedrock.amazonaws.com", h.Created)
	}
	if h.Usage.Calls[lifecycle.Decrypt] != 1 || h.Usage.LastUsedAt.IsZero() || h.Ended != nil || h.Grant.State() != lifecycle.Active {
		t.Errorf("usage %+v, ended %+v, state %s; want 1 Decrypt with a last use, not ended, active", h.Usage, h.Ended, h.Grant.State())
	}

	h, err = q.History(ctx, secondary, demoKey("010000000001"), app.Place{})
	if err != nil {
		t.Fatalf("History(secondary) error = %v", err)
	}
	if h.Parent == nil || h.Parent.ID != primary || h.Parent.State() != lifecycle.Active {
		t.Errorf("parent = %+v; want the active primary", h.Parent)
	}
	if h.Ended == nil || h.Ended.How != lifecycle.RetireGrant || !h.Ended.ByBedrock || !h.Ended.At.Equal(mustTime("2024-05-30T11:00:00Z")) {
		t.Errorf("ended = %+v; want RetireGrant by Bedrock at 11:00", h.Ended)
	}
	if len(h.Timeline) != 2 || h.Timeline[0].What != lifecycle.CreateGrant || h.Timeline[1].What != lifecycle.RetireGrant {
		t.Errorf("timeline = %+v; want CreateGrant then RetireGrant", h.Timeline)
	}

	// A long-lived secondary carries its alert in the timeline (scenario 02).
	h, err = q.History(ctx, "0202be99679f2e780907af0d2edb2fa40ec07461e7dc2942ad2d8d6fae882266", "", app.Place{})
	if err != nil {
		t.Fatalf("History(0202) error = %v", err)
	}
	if !slices.ContainsFunc(h.Timeline, func(e app.TimelineEntry) bool { return e.What == "alert:long-lived-secondary" }) {
		t.Errorf("timeline = %+v; want the long-lived-secondary alert", h.Timeline)
	}

	for _, tt := range []struct{ id, key string }{
		{"ffff0000", ""},
		{"060160be4f0b85f04b86b939922d5bd7cdb1a1ff7f17b1c12e78781d43c3c5a7", ""}, // a tombstone: not a Bedrock grant
		{primary, demoKey("020000000001")},                                       // right id, wrong key
	} {
		if _, err := q.History(ctx, tt.id, tt.key, app.Place{}); !errors.Is(err, app.ErrNotFound) {
			t.Errorf("History(%s, %q) error = %v; want ErrNotFound", tt.id, tt.key, err)
		}
	}
}

func TestKeys(t *testing.T) {
	q, _ := demoQuery(t)
	keys, err := q.Keys(context.Background(), app.Place{})
	if err != nil {
		t.Fatalf("Keys() error = %v", err)
	}
	byARN := map[string]app.KeySummary{}
	for _, k := range keys {
		byARN[k.KeyARN] = k
	}
	k12 := byARN[demoKey("120000000001")]
	if k12.Active != 3 || k12.Total != 3 || k12.OldestActiveSecondary == nil || k12.OldestActiveSecondary.ID[:4] != "1202" {
		t.Errorf("key 12 = %+v; want 3 active of 3, oldest active secondary 1202", k12)
	}
	if got := k12.QuotaShare; got != 3.0/lifecycle.GrantsPerKeyQuota {
		t.Errorf("key 12 quota share = %v; want %v", got, 3.0/lifecycle.GrantsPerKeyQuota)
	}
	k01 := byARN[demoKey("010000000001")]
	if k01.Grants[lifecycle.Secondary][lifecycle.Retired] != 2 || k01.Grants[lifecycle.Primary][lifecycle.Active] != 1 || k01.OldestActiveSecondary != nil {
		t.Errorf("key 01 = %+v; want 2 retired secondaries, 1 active primary, no active secondary", k01)
	}
	if !slices.IsSortedFunc(keys, func(a, b app.KeySummary) int { return strings.Compare(a.KeyARN, b.KeyARN) }) || len(keys) != 10 {
		t.Errorf("keys: %d, sorted %v; want 10 sorted", len(keys), slices.IsSortedFunc(keys, func(a, b app.KeySummary) int { return strings.Compare(a.KeyARN, b.KeyARN) }))
	}
}

// TestHistoryShowsResolution: an alert that was resolved (the grant ended) appears twice in the timeline.
func TestHistoryShowsResolution(t *testing.T) {
	mem := store.NewMemory()
	key := demoKey("990000000001")
	created, raised, ended := mustTime("2024-05-30T00:00:00Z"), mustTime("2024-05-31T01:00:00Z"), mustTime("2024-05-31T02:00:00Z")
	g := lifecycle.Grant{ID: "9901", KeyARN: key, Kind: lifecycle.Secondary, CreatedAt: created, CreateEventID: "ev-1",
		CreatedBy: lifecycle.Caller{Type: "AWSService", InvokedBy: "bedrock.amazonaws.com"},
		EndedAt:   ended, EndedBy: lifecycle.RetireGrant, EndEventID: "ev-2", EndedByBedrock: true,
		History: []lifecycle.HistoryEntry{{EventID: "ev-1", Name: lifecycle.CreateGrant, Time: created}, {EventID: "ev-2", Name: lifecycle.RetireGrant, Time: ended}},
		Alerts: []lifecycle.Alert{{Type: lifecycle.LongLivedSecondary, Severity: lifecycle.High, GrantID: "9901", KeyARN: key, Message: "old",
			RaisedAt: raised, ResolvedAt: ended, Resolution: "retired after 26h0m0s"}}}
	k := lifecycle.NewKey(key)
	k.Grants[g.ID] = g
	if err := mem.SaveKey(context.Background(), k, lifecycle.Result{Changed: []string{g.ID}}); err != nil {
		t.Fatal(err)
	}
	h, err := app.NewQuery(mem, func() time.Time { return demoAt }).History(context.Background(), "9901", "", app.Place{})
	if err != nil {
		t.Fatal(err)
	}
	var whats []string
	for _, e := range h.Timeline {
		whats = append(whats, e.What)
	}
	want := []string{"CreateGrant", "alert:long-lived-secondary", "RetireGrant", "resolved:long-lived-secondary"}
	if !slices.Equal(whats, want) || h.Timeline[3].Detail != "retired after 26h0m0s" {
		t.Errorf("timeline = %v (last %q); want %v with the resolution", whats, h.Timeline[len(h.Timeline)-1].Detail, want)
	}
}
