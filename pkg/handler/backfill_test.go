package handler

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/internal/fixture"
	"github.com/grantwatch/grantwatch/pkg/app"
)

// backfillFunc fakes app.Backfill: it runs until ctx ends (a window too long for one invocation) or returns at once.
type backfillFunc func(ctx context.Context, req app.BackfillRequest) (app.BackfillReport, error)

func (f backfillFunc) Run(ctx context.Context, req app.BackfillRequest) (app.BackfillReport, error) {
	return f(ctx, req)
}

func TestBackfillHandler(t *testing.T) {
	long := backfillFunc(func(ctx context.Context, _ app.BackfillRequest) (app.BackfillReport, error) {
		<-ctx.Done()
		return app.BackfillReport{RunID: "bf-1", Progress: app.BackfillProgress{Slices: 4, SlicesDone: 1}}, ctx.Err()
	})
	short := backfillFunc(func(context.Context, app.BackfillRequest) (app.BackfillReport, error) {
		return app.BackfillReport{RunID: "bf-1", Complete: true, Progress: app.BackfillProgress{Slices: 4, SlicesDone: 4}}, nil
	})
	failing := backfillFunc(func(context.Context, app.BackfillRequest) (app.BackfillReport, error) {
		return app.BackfillReport{RunID: "bf-1"}, errors.New("store down")
	})
	good := BackfillInput{Since: "2026-11-01T00:00:00Z", Until: "2026-11-02T00:00:00Z"}
	tests := []struct {
		name         string
		app          backfiller
		in           BackfillInput
		wantComplete bool
		wantErr      string
	}{
		{name: "stops before the deadline, resumable", app: long, in: good},
		{name: "complete", app: short, in: good, wantComplete: true},
		{name: "store failure is returned", app: failing, in: good, wantErr: "store down"},
		{name: "bad since is named", app: short, in: BackfillInput{Since: "last week", Until: good.Until}, wantErr: `since "last week"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			h := NewBackfill(tt.app, fixture.Quiet(), 150*time.Millisecond)
			out, err := h.Handle(ctx, tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Handle error = %v; want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || out.Complete != tt.wantComplete || out.RunID != "bf-1" || ctx.Err() != nil {
				t.Errorf("Handle = %+v, %v (invocation ctx %v); want complete %v, no error, before the invocation's deadline", out, err, ctx.Err(), tt.wantComplete)
			}
		})
	}
}
