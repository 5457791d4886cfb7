package store_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// This file has no build tag: memory_test.go runs the contract against Memory in every build, and
// table_integration_test.go runs it against Table on moto with -tags integration.

const (
	keyA = "arn:aws:kms:us-east-1:111122223333:key/aaaaaaaa-0000-0000-0000-000000000001"
	keyB = "arn:aws:kms:us-east-1:111122223333:key/bbbbbbbb-0000-0000-0000-000000000002"
	keyC = "arn:aws:kms:us-east-1:111122223333:key/cccccccc-0000-0000-0000-000000000003"
	keyD = "arn:aws:kms:us-east-1:111122223333:key/dddddddd-0000-0000-0000-000000000004"
	keyE = "arn:aws:kms:us-east-1:111122223333:key/eeeeeeee-0000-0000-0000-000000000005"
	keyF = "arn:aws:kms:us-east-1:111122223333:key/ffffffff-0000-0000-0000-000000000006"
)

// t0 has second precision: stores keep RFC 3339 times and fixtures should not depend on sub-second handling.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

var bedrockService = lifecycle.Caller{Type: "AWSService", InvokedBy: "bedrock.amazonaws.com"}

// activeGrant is a primary grant that has not ended.
func activeGrant(keyARN, id string) lifecycle.Grant {
	return lifecycle.Grant{
		ID: id, KeyARN: keyARN, Kind: lifecycle.Primary, CreatedAt: t0, CreateEventID: "ev-create-" + id,
		CreatedBy: lifecycle.Caller{Type: "AssumedRole", ARN: "arn:aws:sts::111122223333:assumed-role/ml/alice",
			AccountID: "111122223333", InvokedBy: "bedrock.amazonaws.com"},
		Grantee: "bedrock.amazonaws.com", RetiringPrincipal: "bedrock.amazonaws.com",
		Operations: []string{"CreateGrant", "Decrypt", "DescribeKey", "GenerateDataKey"},
		Name:       "bedrock-model-" + id, ThroughBedrock: true,
		History: []lifecycle.HistoryEntry{{EventID: "ev-create-" + id, Name: lifecycle.CreateGrant, Time: t0,
			Caller: "arn:aws:sts::111122223333:assumed-role/ml/alice", SourceIP: "bedrock.amazonaws.com", RequestID: "req-1"}},
	}
}

// endedGrant is a secondary with every field set: end, parent, constraints and an alert.
func endedGrant(keyARN, id string) lifecycle.Grant {
	g := activeGrant(keyARN, id)
	g.Kind, g.CreatedBy = lifecycle.Secondary, bedrockService
	g.Operations = []string{"Decrypt", "GenerateDataKey"}
	g.ConstraintKeys = []string{"aws:bedrock:job-arn"}
	g.ParentID = "parent-of-" + id
	g.EndedAt, g.EndedBy, g.EndEventID, g.EndedByBedrock = t0.Add(2*time.Hour), lifecycle.RetireGrant, "ev-end-"+id, true
	g.History = append(g.History, lifecycle.HistoryEntry{EventID: "ev-end-" + id, Name: lifecycle.RetireGrant,
		Time: t0.Add(2 * time.Hour), Caller: "AWSService/bedrock.amazonaws.com", SourceIP: "bedrock.amazonaws.com"})
	g.Alerts = []lifecycle.Alert{{Type: lifecycle.LongLivedSecondary, Severity: lifecycle.High, GrantID: id, KeyARN: keyARN,
		Message: "secondary grant " + id + " has been active for 25h0m0s", RaisedAt: t0.Add(25 * time.Hour)}}
	return g
}

// pendingGrant is a tombstone: only a non-Bedrock end has been seen.
func pendingGrant(keyARN, id string) lifecycle.Grant {
	end := t0.Add(3 * time.Hour)
	return lifecycle.Grant{ID: id, KeyARN: keyARN, Pending: true, EndedAt: end, EndedBy: lifecycle.RevokeGrant,
		EndEventID: "ev-revoke-" + id,
		History:    []lifecycle.HistoryEntry{{EventID: "ev-revoke-" + id, Name: lifecycle.RevokeGrant, Time: end, Caller: "arn:aws:iam::111122223333:user/bob"}}}
}

func fullUsage(keyARN string) lifecycle.Usage {
	return lifecycle.Usage{
		Calls:      map[string]int64{lifecycle.Decrypt: 3, lifecycle.GenerateDataKey: 1},
		LastUsedAt: t0.Add(4 * time.Hour), LastUsedBy: "AWSService/bedrock.amazonaws.com",
		FirstServiceUseAt: t0.Add(time.Hour), LastServiceUseAt: t0.Add(4 * time.Hour),
		RecentEventIDs: []string{"ev-use-1", "ev-use-2"},
		Alerts: []lifecycle.Alert{{Type: lifecycle.UseAfterRetire, Severity: lifecycle.Critical, KeyARN: keyARN,
			Message: "the Bedrock service used key " + keyARN + " after its grants ended", RaisedAt: t0.Add(4 * time.Hour)}},
	}
}

// keyWith returns a new key holding grants (at version 0).
func keyWith(arn string, grants ...lifecycle.Grant) lifecycle.Key {
	k := lifecycle.NewKey(arn)
	for _, g := range grants {
		k.Grants[g.ID] = g
	}
	return k
}

// saveAll saves every grant of k and, if withUsage, its usage.
func saveAll(ctx context.Context, s app.Store, k lifecycle.Key, withUsage bool) error {
	ids := slices.Sorted(maps.Keys(k.Grants))
	return s.SaveKey(ctx, k, lifecycle.Result{Outcome: lifecycle.Applied, Changed: ids, UsageChanged: withUsage})
}

var all = lifecycle.Load{Scope: lifecycle.ScopeAll}

// mustLoad loads everything stored for arn.
func mustLoad(t *testing.T, s app.Store, arn string) lifecycle.Key {
	return mustLoadWith(t, s, arn, all)
}

func mustLoadWith(t *testing.T, s app.Store, arn string, l lifecycle.Load) lifecycle.Key {
	t.Helper()
	k, err := s.LoadKey(t.Context(), arn, l)
	if err != nil {
		t.Fatalf("LoadKey(%s, %+v) error = %v", arn, l, err)
	}
	return k
}

func withUsage(k lifecycle.Key) lifecycle.Key {
	k.Usage = fullUsage(k.ARN)
	return k
}

// archived returns g as it is once moved to the archive.
func archived(g lifecycle.Grant) lifecycle.Grant {
	g.Archived = true
	return g
}

// bumped returns k as a store should hold it after saving it: every version one higher.
func bumped(k lifecycle.Key, withUsage bool) lifecycle.Key {
	want := k.Clone()
	for id, g := range want.Grants {
		g.Version++
		want.Grants[id] = g
	}
	if withUsage {
		want.Usage.Version++
	}
	return want
}

func testStore(t *testing.T, newStore func(t *testing.T) app.Store) {
	t.Run("empty key", func(t *testing.T) {
		s := newStore(t)
		got := mustLoad(t, s, keyA)
		if want := lifecycle.NewKey(keyA); !reflect.DeepEqual(got, want) {
			t.Errorf("LoadKey(unknown) = %+v; want %+v", got, want)
		}
		keys, err := s.ActiveKeys(t.Context())
		if err != nil || len(keys) != 0 {
			t.Errorf("ActiveKeys() on an empty store = %v, %v; want none, nil", keys, err)
		}
	})

	t.Run("round trip", func(t *testing.T) {
		tests := []struct {
			name      string
			key       lifecycle.Key
			withUsage bool
		}{
			{name: "one active grant", key: keyWith(keyA, activeGrant(keyA, "g-active"))},
			{name: "one ended grant", key: keyWith(keyA, endedGrant(keyA, "g-ended"))},
			{name: "one pending tombstone", key: keyWith(keyA, pendingGrant(keyA, "g-pending"))},
			{name: "usage only", key: withUsage(lifecycle.NewKey(keyA)), withUsage: true},
			{name: "grants and usage", key: func() lifecycle.Key {
				k := keyWith(keyA, activeGrant(keyA, "g-active"), endedGrant(keyA, "g-ended"), pendingGrant(keyA, "g-pending"))
				k.Usage = fullUsage(keyA)
				k.Usage.UncheckedUses = []time.Time{t0.Add(4 * time.Hour)}
				return k
			}(), withUsage: true},
			// Every delivery field, a claim not yet confirmed included.
			{name: "notices claimed", key: func() lifecycle.Key {
				g := endedGrant(keyA, "g-ended")
				a := &g.Alerts[0]
				a.NotifiedAt, a.RemindedAt, a.ResolvedAt, a.Resolution = t0.Add(25*time.Hour), t0.Add(26*time.Hour), t0.Add(27*time.Hour), "retired after 27h0m0s"
				a.ResolutionNotifiedAt, a.Unconfirmed, a.LeasedAt = t0.Add(28*time.Hour), lifecycle.NoticeResolved, t0.Add(29*time.Hour)
				k := keyWith(keyA, g)
				k.Usage = fullUsage(keyA)
				k.Usage.Alerts[0].NotifiedAt, k.Usage.Alerts[0].Unconfirmed = t0.Add(5*time.Hour), lifecycle.NoticeAlert // released: no lease
				return k
			}(), withUsage: true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := newStore(t)
				if err := saveAll(t.Context(), s, tt.key, tt.withUsage); err != nil {
					t.Fatalf("SaveKey() error = %v", err)
				}
				got := mustLoad(t, s, keyA)
				if want := bumped(tt.key, tt.withUsage); !reflect.DeepEqual(got, want) {
					t.Errorf("LoadKey after SaveKey:\n got  %+v\n want %+v", got, want)
				}
				// Saving what was loaded, unchanged, is a valid update at the loaded version.
				if err := saveAll(t.Context(), s, got, tt.withUsage); err != nil {
					t.Fatalf("second SaveKey() error = %v", err)
				}
				if got2, want := mustLoad(t, s, keyA), bumped(got, tt.withUsage); !reflect.DeepEqual(got2, want) {
					t.Errorf("LoadKey after second SaveKey:\n got  %+v\n want %+v", got2, want)
				}
			})
		}
	})

	t.Run("conditional writes", func(t *testing.T) {
		// Every row starts from a stored key with grants g1, g2 and usage at version 1. interfere, when set, is
		// another writer that saves between our load and our save.
		tests := []struct {
			name      string
			interfere func(k *lifecycle.Key) lifecycle.Result
			edit      func(k *lifecycle.Key) lifecycle.Result
			wantErr   error
		}{
			{
				name:    "update one grant",
				edit:    func(k *lifecycle.Key) lifecycle.Result { return rename(k, "g1") },
				wantErr: nil,
			},
			{
				name: "update several items",
				edit: func(k *lifecycle.Key) lifecycle.Result {
					return together(rename(k, "g1"), rename(k, "g2"), add(k, "g3"), useKey(k))
				},
				wantErr: nil,
			},
			{
				name:      "stale grant",
				interfere: func(k *lifecycle.Key) lifecycle.Result { return rename(k, "g1") },
				edit:      func(k *lifecycle.Key) lifecycle.Result { return rename(k, "g1") },
				wantErr:   app.ErrConflict,
			},
			{
				name:      "stale usage",
				interfere: func(k *lifecycle.Key) lifecycle.Result { return useKey(k) },
				edit:      func(k *lifecycle.Key) lifecycle.Result { return useKey(k) },
				wantErr:   app.ErrConflict,
			},
			{
				name: "create an existing grant",
				edit: func(k *lifecycle.Key) lifecycle.Result {
					g := k.Grants["g1"]
					g.Version = 0
					k.Grants["g1"] = g
					return lifecycle.Result{Changed: []string{"g1"}}
				},
				wantErr: app.ErrConflict,
			},
			{
				name: "create existing usage",
				edit: func(k *lifecycle.Key) lifecycle.Result {
					r := useKey(k)
					k.Usage.Version = 0
					return r
				},
				wantErr: app.ErrConflict,
			},
			{
				name: "update a grant that is not stored",
				edit: func(k *lifecycle.Key) lifecycle.Result {
					r := add(k, "g9")
					g := k.Grants["g9"]
					g.Version = 4
					k.Grants["g9"] = g
					return r
				},
				wantErr: app.ErrConflict,
			},
			{
				name:      "several items, one stale: none written",
				interfere: func(k *lifecycle.Key) lifecycle.Result { return rename(k, "g2") },
				edit: func(k *lifecycle.Key) lifecycle.Result {
					return together(add(k, "g3"), rename(k, "g1"), rename(k, "g2"), useKey(k))
				},
				wantErr: app.ErrConflict,
			},
			{
				name: "new grant with an existing one recreated: none written",
				edit: func(k *lifecycle.Key) lifecycle.Result {
					r := together(add(k, "g3"), rename(k, "g1"))
					g := k.Grants["g1"]
					g.Version = 0
					k.Grants["g1"] = g
					return r
				},
				wantErr: app.ErrConflict,
			},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := t.Context()
				s := newStore(t)
				base := keyWith(keyA, activeGrant(keyA, "g1"), activeGrant(keyA, "g2"))
				base.Usage = fullUsage(keyA)
				if err := saveAll(ctx, s, base, true); err != nil {
					t.Fatalf("setup SaveKey() error = %v", err)
				}
				k := mustLoad(t, s, keyA)
				if tt.interfere != nil {
					other := mustLoad(t, s, keyA)
					if err := s.SaveKey(ctx, other, tt.interfere(&other)); err != nil {
						t.Fatalf("interfering SaveKey() error = %v", err)
					}
				}
				before := mustLoad(t, s, keyA)
				r := tt.edit(&k)
				err := s.SaveKey(ctx, k, r)
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("SaveKey(changed %v, usage %t) error = %v; want %v", r.Changed, r.UsageChanged, err, tt.wantErr)
				}
				got := mustLoad(t, s, keyA)
				want := before // a failed save writes nothing
				if tt.wantErr == nil {
					want = before.Clone()
					for _, id := range r.Changed {
						g := k.Grants[id]
						g.Version++
						want.Grants[id] = g
					}
					if r.UsageChanged {
						want.Usage = k.Usage.Clone()
						want.Usage.Version++
					}
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("LoadKey after SaveKey:\n got  %+v\n want %+v", got, want)
				}
			})
		}
	})

	t.Run("active keys", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t)
		// Saved in an order unrelated to ARN order, to see the result sorted.
		stored := []struct {
			key       lifecycle.Key
			withUsage bool
		}{
			{key: keyWith(keyB, activeGrant(keyB, "b1"))},
			{key: keyWith(keyA, activeGrant(keyA, "a1"), activeGrant(keyA, "a2"), endedGrant(keyA, "a3"))},
			{key: keyWith(keyC, endedGrant(keyC, "c1"))},             // ended, still in the working set
			{key: keyWith(keyD, archived(pendingGrant(keyD, "d1")))}, // in the archive only
			{key: withUsage(lifecycle.NewKey(keyE)), withUsage: true},
			// Bedrock service use the sweep has not checked keeps a key whose grants all left (use-after-retire).
			{key: func() lifecycle.Key {
				k := keyWith(keyF, archived(endedGrant(keyF, "f1")))
				k.Usage = fullUsage(keyF)
				k.Usage.UncheckedUses = []time.Time{t0.Add(4 * time.Hour)}
				return k
			}(), withUsage: true},
		}
		for _, st := range stored {
			if err := saveAll(ctx, s, st.key, st.withUsage); err != nil {
				t.Fatalf("SaveKey(%s) error = %v", st.key.ARN, err)
			}
		}
		assertActive(t, s, []string{keyA, keyB, keyC, keyF})

		f := mustLoad(t, s, keyF)
		f.Usage.UncheckedUses = nil
		f.Usage.Alerts[0].NotifiedAt, f.Usage.Alerts[0].Unconfirmed, f.Usage.Alerts[0].LeasedAt = t0.Add(5*time.Hour), lifecycle.NoticeAlert, t0.Add(5*time.Hour)
		if err := s.SaveKey(ctx, f, lifecycle.Result{UsageChanged: true}); err != nil {
			t.Fatalf("SaveKey(usage checked, key-level notice claimed) error = %v", err)
		}
		assertActive(t, s, []string{keyA, keyB, keyC, keyF}) // the sweep must find the notice again if it is not confirmed

		f = mustLoad(t, s, keyF)
		f.Usage.Alerts[0].Unconfirmed, f.Usage.Alerts[0].LeasedAt = "", time.Time{}
		if err := s.SaveKey(ctx, f, lifecycle.Result{UsageChanged: true}); err != nil {
			t.Fatalf("SaveKey(notice confirmed) error = %v", err)
		}
		assertActive(t, s, []string{keyA, keyB, keyC})

		// A key stays while any grant is in its working set, ended or not; it leaves when the last one is archived.
		b := mustLoad(t, s, keyB)
		if err := s.SaveKey(ctx, b, end(&b, "b1")); err != nil {
			t.Fatalf("SaveKey(end b1) error = %v", err)
		}
		assertActive(t, s, []string{keyA, keyB, keyC})
		b = mustLoad(t, s, keyB)
		if err := s.SaveKey(ctx, b, move(&b, "b1")); err != nil {
			t.Fatalf("SaveKey(archive b1) error = %v", err)
		}
		c := mustLoad(t, s, keyC)
		if err := s.SaveKey(ctx, c, move(&c, "c1")); err != nil {
			t.Fatalf("SaveKey(archive c1) error = %v", err)
		}
		assertActive(t, s, []string{keyA})
	})

	t.Run("loads read what they name", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t)
		k := keyWith(keyA, activeGrant(keyA, "w1"), endedGrant(keyA, "w2"), archived(endedGrant(keyA, "a1")), archived(pendingGrant(keyA, "a2")))
		k.Usage = fullUsage(keyA)
		k.Meta = lifecycle.Meta{Primaries: []lifecycle.PrimaryRef{{ID: "w1", CreatedAt: t0, Operations: []string{"CreateGrant", "Decrypt"}}},
			Archive: lifecycle.ArchiveSummary{Reported: true, LatestEnd: t0.Add(2 * time.Hour), SecondaryLatestCreate: t0}}
		k.ArchivedPrimaries = lifecycle.ArchivedPrimaries{Refs: []lifecycle.PrimaryRef{{ID: "p-old", CreatedAt: t0.Add(-48 * time.Hour),
			EndedAt: t0.Add(-24 * time.Hour), EndedBy: lifecycle.RetireGrant, Operations: []string{"CreateGrant", "Decrypt"}}}}
		ids := slices.Sorted(maps.Keys(k.Grants))
		if err := s.SaveKey(ctx, k, lifecycle.Result{Changed: ids, UsageChanged: true, MetaChanged: true, PrimariesChanged: true}); err != nil {
			t.Fatalf("SaveKey() error = %v", err)
		}
		stored := bumped(k, true)
		stored.Meta.Version++
		stored.ArchivedPrimaries.Version++
		tests := []struct {
			name      string
			load      lifecycle.Load
			grants    []string
			usage     bool
			meta      bool
			primaries bool
		}{
			{name: "usage", load: lifecycle.Load{Scope: lifecycle.ScopeUsage}, usage: true},
			{name: "meta and named grants from both places", load: lifecycle.Load{Scope: lifecycle.ScopeGrants, Grants: []string{"w2", "a1", "nope"}},
				grants: []string{"a1", "w2"}, meta: true},
			{name: "meta alone", load: lifecycle.Load{Scope: lifecycle.ScopeGrants}, meta: true},
			{name: "meta, a grant and the archive's primaries", load: lifecycle.Load{Scope: lifecycle.ScopeGrants, Grants: []string{"w1"}, Primaries: true},
				grants: []string{"w1"}, meta: true, primaries: true},
			{name: "working set and the archive's primaries", load: lifecycle.Load{Scope: lifecycle.ScopeWorking, Primaries: true},
				grants: []string{"w1", "w2"}, usage: true, meta: true, primaries: true},
			// The archive's primaries come with the working set (their record is in its sk range).
			{name: "working set", load: lifecycle.Load{Scope: lifecycle.ScopeWorking}, grants: []string{"w1", "w2"}, usage: true, meta: true, primaries: true},
			{name: "working set and an archived grant", load: lifecycle.Load{Scope: lifecycle.ScopeWorking, Grants: []string{"a2", "w1"}},
				grants: []string{"a2", "w1", "w2"}, usage: true, meta: true, primaries: true},
			{name: "everything", load: all, grants: []string{"a1", "a2", "w1", "w2"}, usage: true, meta: true, primaries: true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got := mustLoadWith(t, s, keyA, tt.load)
				want := lifecycle.NewKey(keyA)
				want.Loaded = tt.load
				if tt.load.Scope == lifecycle.ScopeWorking {
					want.Loaded.Primaries = true
				}
				for _, id := range tt.grants {
					want.Grants[id] = stored.Grants[id]
				}
				if tt.usage {
					want.Usage = stored.Usage
				}
				if tt.meta {
					want.Meta = stored.Meta
				}
				if tt.primaries {
					want.ArchivedPrimaries = stored.ArchivedPrimaries
				}
				if diff := gocmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("LoadKey(%+v) (-want +got):\n%s", tt.load, diff)
				}
			})
		}
	})

	t.Run("moves between working set and archive", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t)
		if err := saveAll(ctx, s, keyWith(keyA, endedGrant(keyA, "g1"), endedGrant(keyA, "g2")), false); err != nil {
			t.Fatalf("setup SaveKey() error = %v", err)
		}
		k := mustLoad(t, s, keyA)
		staleUpdate, staleMove := mustLoad(t, s, keyA), mustLoad(t, s, keyA)
		if err := s.SaveKey(ctx, k, together(move(&k, "g1"), rename(&k, "g2"))); err != nil {
			t.Fatalf("SaveKey(archive g1) error = %v", err)
		}
		got := mustLoad(t, s, keyA)
		if g := got.Grants["g1"]; !g.Archived || g.Version != 1 || g.Name != k.Grants["g1"].Name {
			t.Errorf("after the move g1 = archived %t version %d; want archived, version 1 (a new item)", g.Archived, g.Version)
		}
		if w := mustLoadWith(t, s, keyA, lifecycle.Load{Scope: lifecycle.ScopeWorking}); len(w.Grants) != 1 {
			t.Errorf("working set after the move holds %v; want only g2", slices.Sorted(maps.Keys(w.Grants)))
		}
		// A writer that read g1 before it moved can neither update it nor move it again.
		if err := s.SaveKey(ctx, staleUpdate, rename(&staleUpdate, "g1")); !errors.Is(err, app.ErrConflict) {
			t.Errorf("update of g1 read before its move: SaveKey() error = %v; want %v", err, app.ErrConflict)
		}
		if err := s.SaveKey(ctx, staleMove, move(&staleMove, "g1")); !errors.Is(err, app.ErrConflict) {
			t.Errorf("second move of g1 read before its move: SaveKey() error = %v; want %v", err, app.ErrConflict)
		}
		if diff := gocmp.Diff(got, mustLoad(t, s, keyA)); diff != "" {
			t.Errorf("failed saves changed the store (-before +after):\n%s", diff)
		}
		// And back: a grant that must return to the working set (a reconcile reopened it).
		back := mustLoad(t, s, keyA)
		if err := s.SaveKey(ctx, back, move(&back, "g1")); err != nil {
			t.Fatalf("SaveKey(unarchive g1) error = %v", err)
		}
		if g := mustLoad(t, s, keyA).Grants["g1"]; g.Archived {
			t.Errorf("g1 still archived after moving it back")
		}
		if w := mustLoadWith(t, s, keyA, lifecycle.Load{Scope: lifecycle.ScopeWorking}); len(w.Grants) != 2 {
			t.Errorf("working set after moving back holds %v; want g1 and g2", slices.Sorted(maps.Keys(w.Grants)))
		}
	})

	t.Run("meta is conditional", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t)
		k := lifecycle.NewKey(keyA)
		k.Meta.Archive.Reported = true
		if err := s.SaveKey(ctx, k, lifecycle.Result{MetaChanged: true}); err != nil {
			t.Fatalf("SaveKey(new meta) error = %v", err)
		}
		if err := s.SaveKey(ctx, k, lifecycle.Result{MetaChanged: true}); !errors.Is(err, app.ErrConflict) {
			t.Errorf("second SaveKey of meta at version 0: error = %v; want %v", err, app.ErrConflict)
		}
		if m := mustLoad(t, s, keyA).Meta; m.Version != 1 || !m.Archive.Reported {
			t.Errorf("meta = %+v; want version 1 with the archive summary", m)
		}
	})

	t.Run("an incomplete change is refused", func(t *testing.T) {
		k := keyWith(keyA, activeGrant(keyA, "g1"))
		r := lifecycle.Result{Changed: []string{"g1"}, Need: lifecycle.Load{Scope: lifecycle.ScopeWorking}}
		if err := newStore(t).SaveKey(t.Context(), k, r); err == nil {
			t.Error("SaveKey() of a Result with Need set succeeded; want an error")
		}
	})

	t.Run("record rejection", func(t *testing.T) {
		s := newStore(t)
		for i := range 2 {
			r := app.Rejection{Source: fmt.Sprintf("events.json#%d", i), EventID: "ev-bad", Error: "trail: no keyArn",
				At: t0.Add(time.Duration(i) * time.Second), Raw: `{"eventName":"CreateGrant"}`}
			if err := s.RecordRejection(t.Context(), r); err != nil {
				t.Fatalf("RecordRejection(%s) error = %v", r.Source, err)
			}
		}
	})

	t.Run("concurrent savers: one winner per version", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t)
		if err := saveAll(ctx, s, keyWith(keyA, activeGrant(keyA, "g1")), false); err != nil {
			t.Fatalf("setup SaveKey() error = %v", err)
		}
		const writers, rounds = 8, 3
		for round := range rounds {
			// Everyone reads the same version before anyone writes.
			loaded := make([]lifecycle.Key, writers)
			for i := range loaded {
				loaded[i] = mustLoad(t, s, keyA)
			}
			errs := make([]error, writers)
			var wg sync.WaitGroup
			for i := range writers {
				wg.Go(func() {
					k := loaded[i]
					g := k.Grants["g1"]
					g.Name = fmt.Sprintf("writer-%d-%d", round, i)
					k.Grants["g1"] = g
					errs[i] = s.SaveKey(ctx, k, lifecycle.Result{Changed: []string{"g1"}})
				})
			}
			wg.Wait()
			winner := -1
			for i, err := range errs {
				switch {
				case err == nil && winner >= 0:
					t.Errorf("round %d: writers %d and %d both won", round, winner, i)
				case err == nil:
					winner = i
				case !errors.Is(err, app.ErrConflict):
					t.Errorf("round %d: writer %d error = %v; want nil or %v", round, i, err, app.ErrConflict)
				}
			}
			if winner < 0 {
				t.Fatalf("round %d: no writer won: %v", round, errs)
			}
			g := mustLoad(t, s, keyA).Grants["g1"]
			if wantV, wantName := int64(round+2), fmt.Sprintf("writer-%d-%d", round, winner); g.Version != wantV || g.Name != wantName {
				t.Errorf("round %d: stored version %d, name %q; want %d, %q", round, g.Version, g.Name, wantV, wantName)
			}
		}
	})

	t.Run("concurrent savers that retry lose no update", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t)
		const writers = 6
		var wg sync.WaitGroup
		errs := make([]error, writers)
		for i := range writers {
			wg.Go(func() {
				// The read-modify-write loop of app.Service, bounded so a bug cannot hang the test.
				for range 10 * writers {
					k, err := s.LoadKey(ctx, keyA, lifecycle.Load{Scope: lifecycle.ScopeUsage})
					if err != nil {
						errs[i] = err
						return
					}
					if k.Usage.Calls == nil {
						k.Usage.Calls = map[string]int64{}
					}
					k.Usage.Calls[lifecycle.Decrypt]++
					errs[i] = s.SaveKey(ctx, k, lifecycle.Result{UsageChanged: true})
					if !errors.Is(errs[i], app.ErrConflict) {
						return
					}
				}
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("writer %d error = %v; want nil", i, err)
			}
		}
		u := mustLoad(t, s, keyA).Usage
		if u.Calls[lifecycle.Decrypt] != writers || u.Version != writers {
			t.Errorf("usage after %d writers: calls %d, version %d; want %d, %d", writers, u.Calls[lifecycle.Decrypt], u.Version, writers, writers)
		}
	})
}

func assertActive(t *testing.T, s app.Store, want []string) {
	t.Helper()
	got, err := s.ActiveKeys(t.Context())
	if err != nil {
		t.Fatalf("ActiveKeys() error = %v", err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("ActiveKeys() = %v; want %v", got, want)
	}
}

// The edits below change k the way lifecycle.Key.Apply would and return the matching Result.

func rename(k *lifecycle.Key, id string) lifecycle.Result {
	g := k.Grants[id]
	g.Name += "-renamed"
	k.Grants[id] = g
	return lifecycle.Result{Changed: []string{id}}
}

func add(k *lifecycle.Key, id string) lifecycle.Result {
	k.Grants[id] = activeGrant(k.ARN, id)
	return lifecycle.Result{Changed: []string{id}}
}

func end(k *lifecycle.Key, id string) lifecycle.Result {
	g := k.Grants[id]
	g.EndedAt, g.EndedBy, g.EndEventID = t0.Add(5*time.Hour), lifecycle.RevokeGrant, "ev-revoke-"+id
	k.Grants[id] = g
	return lifecycle.Result{Changed: []string{id}}
}

// move flips where grant id is stored, as lifecycle.Key.Settle does.
func move(k *lifecycle.Key, id string) lifecycle.Result {
	g := k.Grants[id]
	g.Archived = !g.Archived
	k.Grants[id] = g
	return lifecycle.Result{Changed: []string{id}, Moved: []string{id}}
}

func useKey(k *lifecycle.Key) lifecycle.Result {
	k.Usage.Calls[lifecycle.Decrypt]++
	k.Usage.RecentEventIDs = append(k.Usage.RecentEventIDs, fmt.Sprintf("ev-use-%d", k.Usage.Calls[lifecycle.Decrypt]))
	return lifecycle.Result{UsageChanged: true}
}

func together(rs ...lifecycle.Result) lifecycle.Result {
	var out lifecycle.Result
	for _, r := range rs {
		out = lifecycle.MergeResult(out, r)
	}
	return out
}
