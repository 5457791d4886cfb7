package handler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/handler"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

type sweepFunc func(ctx context.Context, at time.Time) (app.SweepReport, error)

func (f sweepFunc) Sweep(ctx context.Context, at time.Time) (app.SweepReport, error) {
	return f(ctx, at)
}

// TestSweepHandler: the sweep runs at the handler's clock, failures are returned (Lambda records an error, the
// alarm fires), and the metrics are embedded-metric-format lines.
func TestSweepHandler(t *testing.T) {
	now := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	rep := app.SweepReport{Keys: 2, ActiveByKind: map[lifecycle.Kind]int{lifecycle.Secondary: 3, lifecycle.Primary: 1},
		Alerts:   []lifecycle.Alert{{Type: lifecycle.LongLivedSecondary}, {Type: lifecycle.LongLivedSecondary}},
		Resolved: []lifecycle.Alert{{Type: lifecycle.OrphanedSecondary}}, BusiestCount: 3}
	tests := []struct {
		name    string
		err     error
		wantErr bool
	}{
		{name: "ok"},
		{name: "store down", err: errors.New("ThrottlingException"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			var gotAt time.Time
			h := handler.NewSweep(sweepFunc(func(_ context.Context, at time.Time) (app.SweepReport, error) {
				gotAt = at
				return rep, tt.err
			}), slog.New(slog.NewJSONHandler(&logs, nil)), func() time.Time { return now })
			err := h.Handle(context.Background(), json.RawMessage(`{"detail-type":"Scheduled Event"}`))
			if (err != nil) != tt.wantErr || !gotAt.Equal(now) {
				t.Fatalf("Handle() error = %v, swept at %v; want error %v at %v", err, gotAt, tt.wantErr, now)
			}
			metrics := map[string]float64{}
			for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				var m map[string]any
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatalf("log line %q is not JSON", line)
				}
				if _, ok := m["_aws"]; !ok {
					continue
				}
				dims := ""
				for _, d := range []string{"Kind", "Type"} {
					if v, ok := m[d].(string); ok {
						dims = "/" + v
					}
				}
				for _, name := range []string{"ActiveGrants", "AlertsRaised", "AlertsResolved", "MaxActiveGrantsPerKey"} {
					if v, ok := m[name].(float64); ok {
						metrics[name+dims] = v
					}
				}
			}
			for k, want := range map[string]float64{"ActiveGrants/secondary": 3, "ActiveGrants/primary": 1, "ActiveGrants/knowledge-base": 0,
				"AlertsRaised/long-lived-secondary": 2, "AlertsResolved/orphaned-secondary": 1, "MaxActiveGrantsPerKey": 3} {
				if got, ok := metrics[k]; !ok || got != want {
					t.Errorf("metric %s = %v (present %v); want %v", k, got, ok, want)
				}
			}
		})
	}
}

type jobApp struct {
	fakeApp
	jobs []lifecycle.JobEvent
}

func (f *jobApp) IngestJob(_ context.Context, ev lifecycle.JobEvent) (lifecycle.Outcome, error) {
	f.jobs = append(f.jobs, ev)
	return lifecycle.Applied, nil
}

// TestIngestBedrockEvents: the Bedrock rule's events reach the job registry; the KMS path never sees them.
func TestIngestBedrockEvents(t *testing.T) {
	for _, name := range []string{"bedrock-CreateModelCustomizationJob.json", "bedrock-ModelCustomizationJobStateChange.json", "bedrock-DeleteCustomModel.json"} {
		t.Run(name, func(t *testing.T) {
			a := &jobApp{}
			h := handler.NewIngest(a, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)))
			if err := h.Handle(context.Background(), sample(t, name)); err != nil {
				t.Fatalf("Handle() error = %v", err)
			}
			if len(a.jobs) != 1 || len(a.ingested) != 0 || len(a.rejected) != 0 {
				t.Errorf("jobs %d, KMS events %d, rejected %v; want one job event only", len(a.jobs), len(a.ingested), a.rejected)
			}
		})
	}
}
