package app_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/internal/fixture"
	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/store"
)

type listerFunc func(ctx context.Context, keyARN string) ([]lifecycle.ListedGrant, error)

func (f listerFunc) ListGrants(ctx context.Context, keyARN string) ([]lifecycle.ListedGrant, error) {
	return f(ctx, keyARN)
}

// TestReconcileKeysFromConstructor: the keys to visit come from the KeyLister given to NewReconcile; without one,
// only named keys are reconciled and an unnamed run is refused as bad input, never silently empty.
func TestReconcileKeysFromConstructor(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	mem := store.NewMemory()
	svc := app.New(mem, nil, lifecycle.DefaultConfig(), fixture.Quiet(), func() time.Time { return now })
	key := demoKey("990000000001")
	if _, err := svc.Ingest(ctx, lifecycle.Event{ID: "ev-1", Name: lifecycle.CreateGrant, Time: now.Add(-time.Hour), KeyARN: key,
		GrantID: "g-1", Caller: lifecycle.Caller{Type: "AWSService", InvokedBy: "bedrock.amazonaws.com"},
		Grantee: "bedrock.amazonaws.com", RetiringPrincipal: "bedrock.amazonaws.com", Operations: []string{"Decrypt"}}); err != nil {
		t.Fatal(err)
	}
	var listed []string
	lister := listerFunc(func(_ context.Context, arn string) ([]lifecycle.ListedGrant, error) {
		listed = append(listed, arn)
		return nil, nil // KMS lists nothing: the recorded grant has gone
	})

	rep, err := app.NewReconcile(svc, lister, mem).Run(ctx, nil, now)
	if err != nil || len(rep.Keys) != 1 || !slices.Equal(rep.Keys[0].Ended, []string{"g-1"}) || !slices.Equal(listed, []string{key}) {
		t.Errorf("Run(every key) = %+v, %v, listed %v; want %s visited and g-1 ended", rep, err, listed, key)
	}
	if _, err := app.NewReconcile(svc, lister, nil).Run(ctx, nil, now); !errors.Is(err, app.ErrInvalid) {
		t.Errorf("Run(every key) without a KeyLister error = %v; want ErrInvalid", err)
	}
	if rep, err := app.NewReconcile(svc, lister, nil).Run(ctx, []string{key, key}, now); err != nil || len(rep.Keys) != 1 {
		t.Errorf("Run(a named key twice) without a KeyLister = %+v, %v; want the key reconciled once", rep, err)
	}
}
