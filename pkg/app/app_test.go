package app_test

import (
	"bytes"
	"context"
	"errors"
	"go/build"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

const keyARN = "arn:aws:kms:us-east-1:111122223333:key/k1"

var t0 = time.Date(2024, 5, 30, 12, 0, 0, 0, time.UTC)

// fakeStore keeps one key; conflicts makes the next N saves fail with ErrConflict, failWith fails every call.
type fakeStore struct {
	key       lifecycle.Key
	saves     int
	conflicts int
	failWith  error
	rejected  []app.Rejection
}

// LoadKey returns everything it keeps, whatever was asked: ScopeAll covers every load.
func (f *fakeStore) LoadKey(_ context.Context, arn string, _ lifecycle.Load) (lifecycle.Key, error) {
	if f.failWith != nil {
		return lifecycle.Key{}, f.failWith
	}
	if f.key.ARN != arn {
		return lifecycle.NewKey(arn), nil
	}
	k := f.key.Clone()
	k.Loaded = lifecycle.Load{Scope: lifecycle.ScopeAll}
	return k, nil
}

func (f *fakeStore) SaveKey(_ context.Context, k lifecycle.Key, _ lifecycle.Result) error {
	f.saves++
	if f.conflicts > 0 {
		f.conflicts--
		return app.ErrConflict
	}
	f.key = k.Clone()
	return nil
}

func (f *fakeStore) ActiveKeys(context.Context) ([]string, error) { return []string{f.key.ARN}, nil }

func (f *fakeStore) RecordRejection(_ context.Context, r app.Rejection) error {
	f.rejected = append(f.rejected, r)
	return nil
}

type sendFunc func(ctx context.Context, alerts []lifecycle.Alert) error

func (f sendFunc) Send(ctx context.Context, alerts []lifecycle.Alert) error { return f(ctx, alerts) }

func secondary(id string) lifecycle.Event {
	return lifecycle.Event{ID: id, Name: lifecycle.CreateGrant, Time: t0, KeyARN: keyARN, GrantID: "s-" + id,
		Caller:  lifecycle.Caller{Type: "AWSService", InvokedBy: "bedrock.amazonaws.com"},
		Grantee: "bedrock.amazonaws.com", RetiringPrincipal: "bedrock.amazonaws.com",
		Operations: []string{"Decrypt", "CreateGrant"}} // CreateGrant: raises scope-escalation on ingest
}

func newService(st app.Store, alerts app.Alerter, logs *bytes.Buffer) *app.Service {
	log := slog.New(slog.NewJSONHandler(logs, nil))
	return app.New(st, alerts, lifecycle.DefaultConfig(), log, func() time.Time { return t0 })
}

func TestIngestRetriesLostRaces(t *testing.T) {
	st := &fakeStore{conflicts: 2}
	var sent []lifecycle.Alert
	svc := newService(st, sendFunc(func(_ context.Context, a []lifecycle.Alert) error { sent = append(sent, a...); return nil }), &bytes.Buffer{})
	r, err := svc.Ingest(context.Background(), secondary("e1"))
	if err != nil {
		t.Fatalf("Ingest() error = %v", err)
	}
	if r.Outcome != lifecycle.Applied || st.saves != 3 || len(sent) != 1 {
		t.Fatalf("Ingest() = %s after %d saves, %d alerts sent; want applied after 3 saves, 1 alert", r.Outcome, st.saves, len(sent))
	}
}

func TestIngestGivesUpOnEndlessConflicts(t *testing.T) {
	st := &fakeStore{conflicts: 100}
	_, err := newService(st, nil, &bytes.Buffer{}).Ingest(context.Background(), secondary("e1"))
	if !errors.Is(err, app.ErrConflict) || !strings.Contains(err.Error(), "e1") {
		t.Fatalf("Ingest() error = %v; want ErrConflict naming the event", err)
	}
}

func TestIngestReturnsStoreErrors(t *testing.T) {
	boom := errors.New("throttled")
	_, err := newService(&fakeStore{failWith: boom}, nil, &bytes.Buffer{}).Ingest(context.Background(), secondary("e1"))
	if !errors.Is(err, boom) {
		t.Fatalf("Ingest() error = %v; want the store error so Lambda retries", err)
	}
}

func TestIngestDuplicateWritesNothing(t *testing.T) {
	st := &fakeStore{}
	svc := newService(st, nil, &bytes.Buffer{})
	for range 2 {
		if _, err := svc.Ingest(context.Background(), secondary("e1")); err != nil {
			t.Fatal(err)
		}
	}
	if st.saves != 1 {
		t.Fatalf("saves = %d; want 1 (the duplicate changes nothing)", st.saves)
	}
}

func TestAlertDeliveryFailureIsLoggedNotReturned(t *testing.T) {
	var logs bytes.Buffer
	svc := newService(&fakeStore{}, sendFunc(func(context.Context, []lifecycle.Alert) error { return errors.New("sns down") }), &logs)
	if _, err := svc.Ingest(context.Background(), secondary("e1")); err != nil {
		t.Fatalf("Ingest() error = %v; want nil (the alert is recorded)", err)
	}
	if !strings.Contains(logs.String(), "sns down") {
		t.Fatalf("logs = %s; want the delivery failure", logs.String())
	}
}

func TestSweepRaisesTimeBasedAlerts(t *testing.T) {
	st := &fakeStore{}
	svc := newService(st, nil, &bytes.Buffer{})
	ev := secondary("e1")
	ev.Operations = []string{"Decrypt"}
	if _, err := svc.Ingest(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	rep, err := svc.Sweep(context.Background(), t0.Add(25*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Keys != 1 || len(rep.Alerts) != 1 || rep.Alerts[0].Type != lifecycle.LongLivedSecondary {
		t.Fatalf("Sweep() = %+v; want one key, one long-lived-secondary", rep)
	}
}

func TestRejectTruncatesRawInput(t *testing.T) {
	st := &fakeStore{}
	raw := bytes.Repeat([]byte("x"), app.MaxRawRejection+10)
	if err := newService(st, nil, &bytes.Buffer{}).Reject(context.Background(), "eventbridge:1", "e1", raw, errors.New("bad")); err != nil {
		t.Fatal(err)
	}
	if len(st.rejected) != 1 || len(st.rejected[0].Raw) != app.MaxRawRejection || !st.rejected[0].At.Equal(t0) {
		t.Fatalf("rejections = %d, raw %d bytes; want 1 with %d bytes at %s", len(st.rejected), len(st.rejected[0].Raw), app.MaxRawRejection, t0)
	}
}

// TestDependencies: the use cases know only the domain, the retry helper and the standard library (style.md §2).
func TestDependencies(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		first, _, _ := strings.Cut(imp, "/")
		if strings.Contains(first, ".") && imp != "github.com/grantwatch/grantwatch/pkg/lifecycle" && imp != "github.com/grantwatch/grantwatch/pkg/retry" {
			t.Errorf("app imports %q; it may import only pkg/lifecycle, pkg/retry and the standard library", imp)
		}
	}
}
