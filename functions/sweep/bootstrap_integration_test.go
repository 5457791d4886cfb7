//go:build integration

package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/internal/fixture"
	"github.com/grantwatch/grantwatch/internal/lambdatest"
	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/handler"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// function is the real SweepFunction binary (make build-SweepFunction, for the host) and the emulator that runs it.
var function lambdatest.Function

func TestMain(m *testing.M) { os.Exit(lambdatest.Main(m, "SweepFunction", &function)) }

// TestBootstrapSweeps runs the built SweepFunction the way the schedule invokes it: its environment from the
// template, its clock the wall clock. Scenario 02's secondary is years old by then: one alert, published once.
func TestBootstrapSweeps(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	const table = "grantwatch-sweep-bootstrap"
	m := newMoto(t, ctx, table)
	sub := m.sub
	// Seed through the ingest path without a notifier: the alerts are the function's to send.
	log := fixture.Quiet()
	ingest := handler.NewIngest(app.New(store.New(m.ddb, table), nil, lifecycle.DefaultConfig(), log, time.Now), log, nil)
	feed(t, ctx, ingest, fixture.Path("events", "scenarios", "02-long-lived-secondary", "*.json"))

	rt := lambdatest.OnMoto(t, function, "TABLE_NAME="+table, "ALERT_TOPIC_ARN="+m.topic,
		"SECONDARY_MAX_AGE=24h", "REMIND_INTERVAL=0", "JOB_GRACE=1h")
	scheduled := []byte(`{"version":"0","id":"s-1","detail-type":"Scheduled Event","source":"aws.events","account":"111122223333",` +
		`"time":"2026-11-23T10:00:00Z","region":"us-east-1","resources":["arn:aws:events:us-east-1:111122223333:rule/sweep"],"detail":{}}`)
	for i, want := range []int{1, 0} { // the second run finds the alert claimed
		rt.CallOK(t, scheduled, time.Minute)
		got := sub.take()
		if len(got) != want {
			t.Fatalf("invoke %d: the subscriber got %d messages; want %d", i, len(got), want)
		}
		for _, n := range got {
			var doc struct{ Type, GrantID string }
			if json.Unmarshal([]byte(n.Message), &doc) != nil || doc.Type != "long-lived-secondary" || !strings.HasPrefix(n.Subject, "[HIGH] long-lived-secondary grant 0202be99") {
				t.Errorf("message %q / %.120s; want the long-lived-secondary alert of grant 0202be99…", n.Subject, n.Message)
			}
		}
	}
}
