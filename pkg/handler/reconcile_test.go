package handler

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/emf"
)

type reconcileFunc func(ctx context.Context, keys []string, scope app.Scope, at time.Time) (app.ReconcileReport, error)

func (f reconcileFunc) Run(ctx context.Context, keys []string, scope app.Scope, at time.Time) (app.ReconcileReport, error) {
	return f(ctx, keys, scope, at)
}

func TestReconcileHandler(t *testing.T) {
	rep := app.ReconcileReport{Keys: []app.KeyReconcile{
		{KeyARN: "k1", Added: []string{"g1"}, Ended: []string{"g2", "g3"}},
		{KeyARN: "k2", CouldNotList: "access denied"},
	}}
	tests := []struct {
		name    string
		err     error
		wantErr bool
		want    []string // in the log
	}{
		{name: "a key not listed is logged and counted, not returned", want: []string{`"msg":"could not list grants; key left unchanged"`,
			`"KeysNotListed":1`, `"GrantsAdded":1`, `"GrantsEnded":2`, `"msg":"reconcile done"`}},
		{name: "a store failure is returned", err: errors.New("store down"), wantErr: true, want: []string{`"KeysNotListed":1`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs, metrics bytes.Buffer
			var gotKeys []string
			h := NewReconcile(reconcileFunc(func(_ context.Context, keys []string, _ app.Scope, _ time.Time) (app.ReconcileReport, error) {
				gotKeys = keys
				return rep, tt.err
			}), slog.New(slog.NewJSONHandler(&logs, nil)), emf.New(&metrics, time.Now, ""), time.Now)
			err := h.Handle(context.Background(), nil)
			if (err != nil) != tt.wantErr || gotKeys != nil {
				t.Errorf("Handle error = %v, keys %v; want error %v and every recorded key (nil)", err, gotKeys, tt.wantErr)
			}
			for _, w := range tt.want {
				if !strings.Contains(logs.String()+metrics.String(), w) {
					t.Errorf("log and metrics lack %s:\n%s\n%s", w, logs.String(), metrics.String())
				}
			}
		})
	}
}

// TestReconcileHandlerScope: the scheduled event reconciles every account; an invocation may name accounts and
// Regions ("all": the configured set); an account whose role could not be assumed is logged once, as an account.
func TestReconcileHandlerScope(t *testing.T) {
	var got app.Scope
	rep := app.ReconcileReport{Keys: []app.KeyReconcile{{KeyARN: "arn:aws:kms:us-east-1:333333333333:key/k1", CouldNotList: "no role"},
		{KeyARN: "arn:aws:kms:us-east-1:333333333333:key/k2", CouldNotList: "no role"}},
		Accounts: []app.AccountReconcile{{Account: "333333333333", Keys: 2, CouldNotList: 2, CouldNotAssume: "no role"}}}
	var logs, metrics bytes.Buffer
	h := NewReconcile(reconcileFunc(func(_ context.Context, _ []string, scope app.Scope, _ time.Time) (app.ReconcileReport, error) {
		got = scope
		return rep, nil
	}), slog.New(slog.NewJSONHandler(&logs, nil)), emf.New(&metrics, time.Now, ""), time.Now).WithMembers(Members{Accounts: []string{"111111111111"},
		Regions: []string{"eu-west-1"}})
	scheduled := []byte(`{"version":"0","id":"r-1","detail-type":"Scheduled Event","source":"aws.events","account":"111122223333","region":"us-east-1","detail":{}}`)
	if err := h.Handle(context.Background(), scheduled); err != nil || got.Accounts != nil || got.Regions != nil {
		t.Errorf("scheduled: scope %+v, %v; want every account and Region", got, err)
	}
	if n := strings.Count(logs.String(), "could not assume the account's member role"); n != 1 || strings.Contains(logs.String(), "key left unchanged") ||
		!strings.Contains(metrics.String(), `"KeysNotListed":2`) {
		t.Errorf("log %s\nmetrics %s; want the account logged once, its keys counted as not listed", logs.String(), metrics.String())
	}
	if err := h.Handle(context.Background(), []byte(`{"accounts":["all"],"regions":["us-east-1"]}`)); err != nil ||
		!slices.Equal(got.Accounts, []string{"111111111111"}) || !slices.Equal(got.Regions, []string{"us-east-1"}) {
		t.Errorf("accounts all: scope %+v, %v; want the configured account in us-east-1", got, err)
	}
	if err := h.Handle(context.Background(), []byte(`{"accounts":["12"]}`)); err == nil || !strings.Contains(err.Error(), `accounts "12" is not an AWS account id`) {
		t.Errorf("bad account: %v", err)
	}
}
