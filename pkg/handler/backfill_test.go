package handler

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

// TestBackfillHandlerTargets: the accounts and Regions of the input become the request's targets ("all" is the
// configured set, a missing Region this function's); a target that could not be read is answered in the output,
// with the others, and is not an invocation error.
func TestBackfillHandlerTargets(t *testing.T) {
	var got []app.Target
	partial := backfillFunc(func(_ context.Context, req app.BackfillRequest) (app.BackfillReport, error) {
		got = req.Targets
		rep := app.BackfillReport{RunID: "bf-1"}
		for i, tg := range req.Targets {
			tr := app.TargetReport{Target: tg, Complete: i > 0, Stats: app.BackfillStats{Events: i}}
			if i == 0 {
				tr.Err = fmt.Errorf("could not assume the role: %w", app.ErrCouldNotAssume)
			}
			rep.Targets = append(rep.Targets, tr)
		}
		return rep, nil
	})
	h := NewBackfill(partial, fixture.Quiet(), time.Second).WithMembers(Members{Accounts: []string{"111111111111", "222222222222"},
		Regions: []string{"us-east-1", "eu-west-1"}, Region: "us-west-2"})
	window := BackfillInput{Since: "2026-11-01T00:00:00Z", Until: "2026-11-02T00:00:00Z"}
	for _, tt := range []struct {
		accounts, regions []string
		want              []app.Target
	}{
		{nil, nil, nil},
		{[]string{"all"}, nil, []app.Target{{Account: "111111111111", Region: "us-west-2"}, {Account: "222222222222", Region: "us-west-2"}}},
		{[]string{"333333333333"}, []string{"all"}, []app.Target{{Account: "333333333333", Region: "us-east-1"}, {Account: "333333333333", Region: "eu-west-1"}}},
		{nil, []string{"eu-west-1"}, []app.Target{{Region: "eu-west-1"}}},
	} {
		in := window
		in.Accounts, in.Regions = tt.accounts, tt.regions
		out, err := h.Handle(context.Background(), in)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("accounts %v regions %v: targets %v, %v; want %v", tt.accounts, tt.regions, got, err, tt.want)
			continue
		}
		if len(tt.want) < 2 {
			continue
		}
		if len(out.Targets) != len(tt.want) || !out.Targets[0].CouldNotAssume || out.Targets[0].Error == "" || out.Targets[1].Error != "" ||
			!strings.Contains(out.Message, "1 of 2 account-Regions could not be read ("+tt.want[0].String()+"; see targets)") {
			t.Errorf("accounts %v: output %+v; want each target, the first one could not assume, named in the message", tt.accounts, out)
		}
	}
	in := window
	in.Accounts, in.Regions = []string{"1111", "all"}, []string{"mars"}
	if _, err := h.Handle(context.Background(), in); err == nil || !strings.Contains(err.Error(), `accounts "1111,all" gives "all" with other values`) ||
		!strings.Contains(err.Error(), `regions "mars" is not an AWS Region name`) {
		t.Errorf("bad accounts and Regions: %v; want both named", err)
	}
	none := NewBackfill(partial, fixture.Quiet(), time.Second)
	in.Accounts, in.Regions = []string{"all"}, nil
	if _, err := none.Handle(context.Background(), in); err == nil || !strings.Contains(err.Error(), "MEMBER_ACCOUNT_IDS, the MemberAccountIds parameter") {
		t.Errorf("all with no members configured: %v; want it to say where they are configured", err)
	}
}
