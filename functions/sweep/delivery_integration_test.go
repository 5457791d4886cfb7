//go:build integration

package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/internal/fixture"
	"github.com/grantwatch/grantwatch/pkg/alert"
	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/handler"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// dies is a Notifier that kills the sweep between its claiming write and the publish: it panics before anything
// reaches SNS, and nothing after the claim (no release, no confirmation) runs, as when the process dies there.
type dies struct{}

func (dies) Notify(context.Context, lifecycle.Notice) error { panic(fixture.Crash{}) }

// TestDeliveryAfterACrash (moto: DynamoDB, SNS, an HTTP subscriber). The sweep dies after claiming scenario 02's
// alert and before publishing it: nothing is sent, the claim stays unconfirmed in the table, and sweeps within the
// lease leave it alone. The first sweep after the lease delivers it exactly once, under the id it was claimed with;
// later sweeps send nothing. Then publishes fail (scenario 12's two scope escalations, on ingest, to a topic that
// does not exist): their leases are given back and the next sweep delivers each once.
func TestDeliveryAfterACrash(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	m := newMoto(t, ctx, "faults")
	sub := m.sub

	now := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	st := store.New(m.ddb, "faults")
	plain := app.New(st, nil, lifecycle.DefaultConfig(), log, clock)
	sweepWith := func(n app.Notifier) (died bool) {
		t.Helper()
		return fixture.Crashed(func() {
			if err := handler.NewSweep(plain.WithNotifier(n, 0), log, nil, clock).Handle(ctx, nil); err != nil {
				t.Fatalf("sweep at %s: %v", now, err)
			}
		})
	}
	live := alert.NewSNS(m.sns, m.topic)
	ingest := func(svc *app.Service, dir string) {
		t.Helper()
		feed(t, ctx, handler.NewIngest(svc, log, nil), filepath.Join("..", "..", "events", "scenarios", dir, "*.json"))
	}
	ids := func(msgs []snsNotification) []string {
		var out []string
		for _, m := range msgs {
			var doc alert.Document
			if err := json.Unmarshal([]byte(m.Message), &doc); err != nil || !strings.HasSuffix(m.Subject, " #"+doc.NoticeID) {
				t.Fatalf("message %q / %.200s: want the alert document with its notice id in the subject", m.Subject, m.Message)
			}
			out = append(out, doc.NoticeID)
		}
		slices.Sort(out)
		return out
	}

	ingest(plain, "02-long-lived-secondary")
	if !sweepWith(dies{}) {
		t.Fatal("the sweep did not reach the publish")
	}
	if got := sub.take(); len(got) != 0 {
		t.Fatalf("the dying sweep sent %d messages; want none", len(got))
	}
	key := "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-020000000001"
	k, err := st.LoadKey(ctx, key, lifecycle.Load{Scope: lifecycle.ScopeAll})
	if err != nil {
		t.Fatal(err)
	}
	var claimed []lifecycle.Notice
	for _, g := range k.Grants {
		for _, a := range g.Alerts {
			if a.Unconfirmed != "" {
				claimed = append(claimed, lifecycle.Notice{Kind: a.Unconfirmed, Alert: a})
			}
		}
	}
	if len(claimed) != 1 || claimed[0].Kind != lifecycle.NoticeAlert {
		t.Fatalf("after the crash the table holds unconfirmed notices %+v; want the one alert notice", claimed)
	}

	now = now.Add(lifecycle.NoticeLease) // still within the lease
	sweepWith(live)
	if got := sub.take(); len(got) != 0 {
		t.Fatalf("a sweep within the lease sent %d messages; want none", len(got))
	}
	now = now.Add(time.Minute) // the lease has passed
	sweepWith(live)
	if got := ids(sub.take()); !slices.Equal(got, []string{claimed[0].ID()}) {
		t.Fatalf("the sweep after the lease sent %v; want exactly the claimed notice %s", got, claimed[0].ID())
	}
	for range 2 {
		now = now.Add(lifecycle.NoticeLease + time.Minute)
		sweepWith(live)
		if got := sub.take(); len(got) != 0 {
			t.Fatalf("a sweep after the delivery sent %v; want nothing (the notice is confirmed)", ids(got))
		}
	}

	// Publishes that fail on ingest give their leases back; the next sweep sends each once.
	missing := alert.NewSNS(m.sns, "arn:aws:sns:us-east-1:123456789012:no-such-topic")
	ingest(plain.WithNotifier(missing, 0), "12-scope-escalation")
	if got := sub.take(); len(got) != 0 {
		t.Fatalf("publishes to a missing topic reached the subscriber: %v", ids(got))
	}
	sweepWith(live) // at once: the released leases need no waiting
	first := ids(sub.take())
	sweepWith(live)
	if again := sub.take(); len(first) != 2 || len(again) != 0 {
		t.Errorf("after failed publishes the sweeps sent %v then %v; want the two scope escalations once", first, ids(again))
	}
}
