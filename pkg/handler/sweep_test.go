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
	"github.com/grantwatch/grantwatch/pkg/emf"
	"github.com/grantwatch/grantwatch/pkg/handler"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

type sweepFunc func(ctx context.Context, at time.Time) (app.SweepReport, error)

func (f sweepFunc) Sweep(ctx context.Context, at time.Time) (app.SweepReport, error) {
	return f(ctx, at)
}

// TestSweepHandler: the sweep runs at the handler's clock; a sweep that could not run is returned (Lambda records
// an error, the alarm fires), keys that failed are counted, not returned; the metrics are EMF documents written
// whatever the log level (here WARN, which drops every Info line), stamped with the injected clock.
func TestSweepHandler(t *testing.T) {
	now := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	rep := app.SweepReport{Keys: 2, ActiveByKind: map[lifecycle.Kind]int{lifecycle.Secondary: 3, lifecycle.Primary: 1},
		Alerts:   []lifecycle.Alert{{Type: lifecycle.LongLivedSecondary}, {Type: lifecycle.LongLivedSecondary}},
		Resolved: []lifecycle.Alert{{Type: lifecycle.OrphanedSecondary}}, BusiestCount: 3,
		Failed: []app.KeyFailure{{KeyARN: "k3", Err: errors.New("throttled")}}, Notices: 4, NoticesFailed: 1, NoticesPastLease: 2}
	tests := []struct {
		name    string
		err     error
		wantErr bool
	}{
		{name: "ok, one key failed"},
		{name: "store down", err: errors.New("ThrottlingException"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs, out bytes.Buffer
			var gotAt time.Time
			clock := func() time.Time { return now }
			h := handler.NewSweep(sweepFunc(func(_ context.Context, at time.Time) (app.SweepReport, error) {
				gotAt = at
				return rep, tt.err
			}), slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})), emf.New(&out, clock, "WARN"), clock)
			err := h.Handle(context.Background(), json.RawMessage(`{"detail-type":"Scheduled Event"}`))
			if (err != nil) != tt.wantErr || !gotAt.Equal(now) {
				t.Fatalf("Handle() error = %v, swept at %v; want error %v at %v", err, gotAt, tt.wantErr, now)
			}
			metrics := map[string]float64{}
			for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
				var m map[string]any
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatalf("metrics line %q is not JSON", line)
				}
				aws, ok := m["_aws"].(map[string]any)
				if !ok || int64(aws["Timestamp"].(float64)) != now.UnixMilli() || m["level"] != "WARN" {
					t.Fatalf("metrics line %q; want an EMF document stamped %d at the configured level", line, now.UnixMilli())
				}
				dims := ""
				for _, d := range []string{"Kind", "Type"} {
					if v, ok := m[d].(string); ok {
						dims = "/" + v
					}
				}
				for name, v := range m {
					if f, ok := v.(float64); ok {
						metrics[name+dims] = f
					}
				}
			}
			for k, want := range map[string]float64{"ActiveGrants/secondary": 3, "ActiveGrants/primary": 1, "ActiveGrants/knowledge-base": 0,
				"AlertsRaised/long-lived-secondary": 2, "AlertsResolved/orphaned-secondary": 1, "MaxActiveGrantsPerKey": 3,
				"KeysSwept": 2, "KeysFailed": 1, "NoticesSent": 4, "NoticesFailed": 1, "NoticesPastLease": 2} {
				if got, ok := metrics[k]; !ok || got != want {
					t.Errorf("metric %s = %v (present %v); want %v", k, got, ok, want)
				}
			}
			if strings.Contains(logs.String(), "_aws") {
				t.Errorf("metrics went to the log: %s", logs.String())
			}
		})
	}
}

// TestIngestBedrockEvents: the Bedrock rule's events reach the job registry; the KMS path never sees them.
func TestIngestBedrockEvents(t *testing.T) {
	for _, name := range []string{"bedrock-CreateModelCustomizationJob.json", "bedrock-ModelCustomizationJobStateChange.json", "bedrock-DeleteCustomModel.json"} {
		t.Run(name, func(t *testing.T) {
			a := &fakeApp{}
			h := handler.NewIngest(a, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)), nil)
			if err := h.Handle(context.Background(), sample(t, name)); err != nil {
				t.Fatalf("Handle() error = %v", err)
			}
			if len(a.jobs) != 1 || len(a.ingested) != 0 || len(a.rejected) != 0 {
				t.Errorf("jobs %d, KMS events %d, rejected %v; want one job event only", len(a.jobs), len(a.ingested), a.rejected)
			}
		})
	}
}
