//go:build integration

package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/internal/fixture"
	"github.com/grantwatch/grantwatch/pkg/alert"
	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/handler"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// subscriber is a local HTTP endpoint subscribed to the topic: it keeps every SNS Notification it receives.
type subscriber struct {
	mu   sync.Mutex
	msgs []snsNotification
}

type snsNotification struct {
	Type    string `json:"Type"`
	Subject string `json:"Subject"`
	Message string `json:"Message"`
}

func (s *subscriber) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var n snsNotification
	if json.Unmarshal(body, &n) == nil && n.Type == "Notification" {
		s.mu.Lock()
		s.msgs = append(s.msgs, n)
		s.mu.Unlock()
	}
}

func (s *subscriber) take() []snsNotification { return fixture.Take(&s.mu, &s.msgs) }

// TestEndToEnd: sample events → ingest → DynamoDB → sweep → SNS → a local HTTP subscriber receives exactly one
// message per alert; sweeping again sends nothing; replaying the retirement sends one resolution notice.
func TestEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	m := newMoto(t, ctx, "e2e")
	sub := m.sub

	at := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC) // events/README.md: every scenario's sweep time
	clock := func() time.Time { return at }
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	st := store.New(m.ddb, "e2e")
	svc := app.New(st, nil, lifecycle.DefaultConfig(), log, clock).WithNotifier(alert.NewSNS(m.sns, m.topic), 0)
	ingest, sweep := handler.NewIngest(svc, log, nil), handler.NewSweep(svc, log, nil, clock)

	events := filepath.Join("..", "..", "events")
	// 02: a long-lived secondary (raised by the sweep); 12: scope escalations (raised on ingest).
	feed(t, ctx, ingest, filepath.Join(events, "scenarios", "02-long-lived-secondary", "*.json"), filepath.Join(events, "scenarios", "12-scope-escalation", "*.json"))
	onIngest := sub.take()
	if err := sweep.Handle(ctx, nil); err != nil {
		t.Fatalf("sweep: %v", err)
	}
	onSweep := sub.take()

	// Exactly one message per recorded alert.
	keys, err := st.ActiveKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, arn := range keys {
		k, err := st.LoadKey(ctx, arn, lifecycle.Load{Scope: lifecycle.ScopeAll})
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range k.Grants {
			for _, a := range g.Alerts {
				want = append(want, string(a.Type)+" "+a.GrantID)
			}
		}
	}
	var got []string
	for _, n := range append(onIngest, onSweep...) {
		var doc alert.Document
		if err := json.Unmarshal([]byte(n.Message), &doc); err != nil {
			t.Fatalf("http subscriber got %q, not the JSON document: %v", n.Message, err)
		}
		if doc.Notice != "alert" || !strings.Contains(n.Subject, doc.Type) || !strings.Contains(doc.Text, "grantwatch history "+doc.GrantID) {
			t.Errorf("message subject %q notice %q: want an alert whose subject names its type and whose text names the history command", n.Subject, doc.Notice)
		}
		got = append(got, doc.Type+" "+doc.GrantID)
	}
	slices.Sort(got)
	slices.Sort(want)
	if len(want) != 3 || !slices.Equal(got, want) {
		t.Errorf("messages = %v; want one per alert %v (3: two scope escalations on ingest, one long-lived secondary by the sweep)", got, want)
	}
	if len(onIngest) != 2 || len(onSweep) != 1 {
		t.Errorf("%d messages on ingest and %d on the sweep; want 2 and 1", len(onIngest), len(onSweep))
	}

	// A second sweep sends nothing: every alert is claimed.
	if err := sweep.Handle(ctx, nil); err != nil {
		t.Fatalf("sweep: %v", err)
	}
	if again := sub.take(); len(again) != 0 {
		t.Errorf("second sweep sent %d messages (%v); want none", len(again), again)
	}

	// The retirement of the long-lived secondary resolves its alert: one resolution notice, then silence.
	feed(t, ctx, ingest, filepath.Join(events, "demo", "01-retiregrant-02-secondary.json"))
	if err := sweep.Handle(ctx, nil); err != nil {
		t.Fatalf("sweep: %v", err)
	}
	resolved := sub.take()
	if len(resolved) != 1 || !strings.HasPrefix(resolved[0].Subject, "[RESOLVED] long-lived-secondary grant 0202be99") {
		t.Fatalf("after the retirement got %d messages %v; want one [RESOLVED] long-lived-secondary notice", len(resolved), resolved)
	}
	var doc alert.Document
	if err := json.Unmarshal([]byte(resolved[0].Message), &doc); err != nil || doc.Resolution != "retired after 46h0m0s" {
		t.Errorf("resolution = %q (err %v); want retired after 46h0m0s", doc.Resolution, err)
	}
}
