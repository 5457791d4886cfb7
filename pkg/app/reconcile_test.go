package app_test

import (
	"context"
	"errors"
	"slices"
	"strings"
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

	rep, err := app.NewReconcile(svc, lister, mem).Run(ctx, nil, app.Scope{}, now)
	if err != nil || len(rep.Keys) != 1 || !slices.Equal(rep.Keys[0].Ended, []string{"g-1"}) || !slices.Equal(listed, []string{key}) {
		t.Errorf("Run(every key) = %+v, %v, listed %v; want %s visited and g-1 ended", rep, err, listed, key)
	}
	if _, err := app.NewReconcile(svc, lister, nil).Run(ctx, nil, app.Scope{}, now); !errors.Is(err, app.ErrInvalid) {
		t.Errorf("Run(every key) without a KeyLister error = %v; want ErrInvalid", err)
	}
	if rep, err := app.NewReconcile(svc, lister, nil).Run(ctx, []string{key, key}, app.Scope{}, now); err != nil || len(rep.Keys) != 1 {
		t.Errorf("Run(a named key twice) without a KeyLister = %+v, %v; want the key reconciled once", rep, err)
	}
}

// TestReconcileAccounts: each key is listed where its account is; an account whose member role cannot be assumed is
// reported for each of its keys and as an account ("could not check", never "no grants": its grants stay as
// recorded), asked only once, and the other accounts are reconciled. The scope narrows the keys, by account from
// the account index and by Region after.
func TestReconcileAccounts(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	mem := store.NewMemory()
	svc := app.New(mem, nil, lifecycle.DefaultConfig(), fixture.Quiet(), func() time.Time { return now })
	ok1, ok2 := "arn:aws:kms:us-east-1:222222222222:key/aaaa0001", "arn:aws:kms:eu-west-1:222222222222:key/aaaa0002"
	gone1, gone2 := "arn:aws:kms:us-east-1:333333333333:key/bbbb0001", "arn:aws:kms:eu-west-1:333333333333:key/bbbb0002"
	for i, key := range []string{ok1, ok2, gone1, gone2} {
		if _, err := svc.Ingest(ctx, lifecycle.Event{ID: "ev-" + key, Name: lifecycle.CreateGrant, Time: now.Add(-time.Hour), KeyARN: key,
			GrantID: "g-" + string(rune('a'+i)), Caller: lifecycle.Caller{Type: "AWSService", InvokedBy: "bedrock.amazonaws.com"},
			Grantee: "bedrock.amazonaws.com", RetiringPrincipal: "bedrock.amazonaws.com", Operations: []string{"Decrypt"}}); err != nil {
			t.Fatal(err)
		}
	}
	var listed []string
	lister := listerFunc(func(_ context.Context, arn string) ([]lifecycle.ListedGrant, error) {
		listed = append(listed, arn)
		if _, _, account := lifecycle.KeyPlace(arn); account == "333333333333" {
			return nil, errors.Join(app.ErrCouldNotList, app.ErrCouldNotAssume, errors.New("could not assume the member role of 333333333333"))
		}
		return nil, nil // KMS lists nothing: the recorded grant has gone
	})
	rep, err := app.NewReconcile(svc, lister, mem).Run(ctx, nil, app.Scope{}, now)
	if err != nil || len(rep.Keys) != 4 {
		t.Fatalf("Run = %+v, %v; want the four keys", rep, err)
	}
	if len(listed) != 3 {
		t.Errorf("listed %v; want both keys of 222222222222 and one of 333333333333 (its role is not asked for again)", listed)
	}
	for _, k := range rep.Keys {
		_, _, account := lifecycle.KeyPlace(k.KeyARN)
		switch {
		case account == "333333333333" && (!strings.Contains(k.CouldNotList, "could not assume") || len(k.Ended) != 0):
			t.Errorf("%s: %+v; want could not list, because of the role, and nothing ended", k.KeyARN, k)
		case account == "222222222222" && (k.CouldNotList != "" || len(k.Ended) != 1):
			t.Errorf("%s: %+v; want its grant ended", k.KeyARN, k)
		}
	}
	reason := ""
	for _, k := range rep.Keys {
		if k.KeyARN == gone1 {
			reason = k.CouldNotList
		}
	}
	want := []app.AccountReconcile{{Account: "222222222222", Keys: 2}, {Account: "333333333333", Keys: 2, CouldNotList: 2, CouldNotAssume: reason}}
	if !slices.Equal(rep.Accounts, want) {
		t.Errorf("Accounts = %+v; want %+v", rep.Accounts, want)
	}
	if h, err := app.NewQuery(mem, func() time.Time { return now }).History(ctx, "g-c", gone1, app.Place{}); err != nil || h.Grant.State() != lifecycle.Active {
		t.Errorf("the grant of the account not checked = %v, %v; want it active as recorded", h.Grant.State(), err)
	}

	listed = nil
	rep, err = app.NewReconcile(svc, lister, mem).Run(ctx, nil, app.Scope{Accounts: []string{"333333333333"}, Regions: []string{"eu-west-1"}}, now)
	if err != nil || len(rep.Keys) != 1 || rep.Keys[0].KeyARN != gone2 || !slices.Equal(listed, []string{gone2}) {
		t.Errorf("Run(333333333333 in eu-west-1) = %+v, %v, listed %v; want %s alone", rep, err, listed, gone2)
	}
}
