package store_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/store"
)

func TestMemory(t *testing.T) {
	testStore(t, func(*testing.T) app.Store { return store.NewMemory() })
}

func TestMemoryRejections(t *testing.T) {
	m := store.NewMemory()
	want := []app.Rejection{
		{Source: "events.json#0", Error: "trail: not JSON", At: t0, Raw: "{"},
		{Source: "evb-1", EventID: "ev-1", Error: "trail: no keyArn", At: t0.Add(time.Second)},
	}
	for _, r := range want {
		if err := m.RecordRejection(context.Background(), r); err != nil {
			t.Fatalf("RecordRejection(%s) error = %v", r.Source, err)
		}
	}
	got := m.Rejections()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Rejections() = %+v; want %+v", got, want)
	}
	got[0].Source = "changed by the caller"
	if again := m.Rejections(); again[0].Source != want[0].Source {
		t.Errorf("Rejections() shares its slice with the caller: Source = %q; want %q", again[0].Source, want[0].Source)
	}
}

// TestMemoryCopies checks that neither the saved key nor the loaded one shares memory with the store.
func TestMemoryCopies(t *testing.T) {
	ctx := context.Background()
	m := store.NewMemory()
	k := keyWith(keyA, endedGrant(keyA, "g1"))
	k.Usage = fullUsage(keyA)
	if err := m.SaveKey(ctx, k, lifecycle.Result{Changed: []string{"g1"}, UsageChanged: true}); err != nil {
		t.Fatalf("SaveKey() error = %v", err)
	}
	k.Grants["g1"].History[0].EventID = "mutated after save"
	k.Usage.Calls[lifecycle.Decrypt] = 99

	loaded := mustLoad(t, m, keyA)
	loaded.Grants["g1"].Alerts[0].Message = "mutated after load"
	loaded.Usage.RecentEventIDs[0] = "mutated after load"

	got := mustLoad(t, m, keyA)
	want := bumped(keyWith(keyA, endedGrant(keyA, "g1")), false)
	want.Usage = fullUsage(keyA)
	want.Usage.Version = 1
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LoadKey after mutating saved and loaded copies:\n got  %+v\n want %+v", got, want)
	}
}

func TestMemoryUnknownChangedGrant(t *testing.T) {
	m := store.NewMemory()
	err := m.SaveKey(context.Background(), lifecycle.NewKey(keyA), lifecycle.Result{Changed: []string{"nope"}})
	if err == nil {
		t.Fatalf("SaveKey(changed grant not in key) error = nil; want an error")
	}
}
