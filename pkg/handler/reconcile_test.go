package handler

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/emf"
)

type reconcileFunc func(ctx context.Context, keys []string, at time.Time) (app.ReconcileReport, error)

func (f reconcileFunc) Run(ctx context.Context, keys []string, at time.Time) (app.ReconcileReport, error) {
	return f(ctx, keys, at)
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
			h := NewReconcile(reconcileFunc(func(_ context.Context, keys []string, _ time.Time) (app.ReconcileReport, error) {
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
