package app_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/internal/fixture"
	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// notices records what a Notifier was given, by notice id; fail makes the next sends fail, die makes the next send
// panic before anything is published (the process dies between the claiming write and the publish).
type notices struct {
	mu   sync.Mutex
	sent []lifecycle.Notice
	fail int
	die  bool
}

func (n *notices) Notify(_ context.Context, x lifecycle.Notice) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.die {
		panic(fixture.Crash{})
	}
	if n.fail > 0 {
		n.fail--
		return errors.New("sns: throttled")
	}
	n.sent = append(n.sent, x)
	return nil
}

func (n *notices) take() []lifecycle.Notice { return fixture.Take(&n.mu, &n.sent) }

func ids(ns []lifecycle.Notice) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.ID())
	}
	slices.Sort(out)
	return out
}

// counting wraps a store and records every SaveKey's Result.
type counting struct {
	app.Store
	mu    sync.Mutex
	saves []lifecycle.Result
}

func (c *counting) SaveKey(ctx context.Context, k lifecycle.Key, r lifecycle.Result) error {
	c.mu.Lock()
	c.saves = append(c.saves, r)
	c.mu.Unlock()
	return c.Store.SaveKey(ctx, k, r)
}

func (c *counting) takeSaves() []lifecycle.Result { return fixture.Take(&c.mu, &c.saves) }

const keyB = "arn:aws:kms:us-east-1:111122223333:key/k2"

// longLived ingests, on key, a secondary created at t0 that is long-lived from t0+24h.
func longLived(t *testing.T, svc *app.Service, key, id string) {
	t.Helper()
	ev := lifecycle.Event{ID: "c-" + id, Name: lifecycle.CreateGrant, Time: t0, KeyARN: key, GrantID: id,
		Caller:  lifecycle.Caller{Type: "AWSService", InvokedBy: "bedrock.amazonaws.com"},
		Grantee: "bedrock.amazonaws.com", RetiringPrincipal: "bedrock.amazonaws.com", Operations: []string{"Decrypt"}}
	if _, err := svc.Ingest(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
}

func sweepOrDie(t *testing.T, svc *app.Service, at time.Time) (rep app.SweepReport, diedThere bool) {
	t.Helper()
	diedThere = fixture.Crashed(func() {
		var err error
		if rep, err = svc.Sweep(context.Background(), at); err != nil {
			t.Fatalf("Sweep(%s) error = %v", at, err)
		}
	})
	return rep, diedThere
}

// TestNoticeSurvivesACrash: the process dies after the claiming write and before the publish. Sweeps within the
// lease leave the notice to its (dead) sender; the first sweep after it sends the notice once, under the id it was
// claimed with, and confirms it; later sweeps send nothing.
func TestNoticeSurvivesACrash(t *testing.T) {
	st := &counting{Store: store.NewMemory()}
	out := &notices{}
	svc := app.New(st, nil, lifecycle.DefaultConfig(), fixture.Quiet(), func() time.Time { return t0 }).WithNotifier(out, 0)
	longLived(t, svc, keyARN, "g1")
	at := t0.Add(25 * time.Hour)

	out.die = true
	if _, died := sweepOrDie(t, svc, at); !died {
		t.Fatal("the sweep did not reach the publish")
	}
	out.die = false
	k, _ := svc.Key(context.Background(), keyARN)
	claimed := k.Grants["g1"].Alerts[0]
	if claimed.Unconfirmed != lifecycle.NoticeAlert || !claimed.NotifiedAt.Equal(at) {
		t.Fatalf("after the crash the alert is %+v; want its notice claimed at %s and unconfirmed", claimed, at)
	}
	want := lifecycle.Notice{Kind: lifecycle.NoticeAlert, Alert: claimed}.ID()

	if rep, _ := sweepOrDie(t, svc, at.Add(lifecycle.NoticeLease)); rep.Notices != 0 || len(out.take()) != 0 {
		t.Fatalf("a sweep within the lease sent %d notices; want none (the claim still holds)", rep.Notices)
	}
	st.takeSaves()
	rep, _ := sweepOrDie(t, svc, at.Add(lifecycle.NoticeLease+time.Minute))
	got := out.take()
	if rep.Notices != 1 || rep.NoticesPastLease != 1 || len(got) != 1 || got[0].ID() != want || !got[0].Resend {
		t.Fatalf("the sweep after the lease sent %v (report %+v); want the one notice %s, marked as a resend", ids(got), rep, want)
	}
	// The re-claim is one write; the confirmation a second one, of the grant item alone.
	saves := st.takeSaves()
	if len(saves) != 2 || !slices.Equal(saves[1].Changed, []string{"g1"}) || saves[1].UsageChanged || saves[1].MetaChanged || len(saves[1].Moved) > 0 {
		t.Errorf("writes after the lease = %+v; want the claim, then a confirmation that writes grant g1 only", saves)
	}
	for _, later := range []time.Duration{time.Hour, 30 * time.Hour} {
		if rep, _ := sweepOrDie(t, svc, at.Add(later)); rep.Notices != 0 {
			t.Errorf("sweep at +%s sent %d notices after the confirmation; want none", later, rep.Notices)
		}
	}
}

// TestFailedPublishIsSentAgain: a publish that fails gives its lease back, so the very next sweep sends it again,
// under the same id, and nothing is lost or doubled.
func TestFailedPublishIsSentAgain(t *testing.T) {
	out := &notices{fail: 1}
	var logs bytes.Buffer
	svc := app.New(store.NewMemory(), nil, lifecycle.DefaultConfig(), slog.New(slog.NewJSONHandler(&logs, nil)),
		func() time.Time { return t0 }).WithNotifier(out, 0)
	longLived(t, svc, keyARN, "g1")
	at := t0.Add(25 * time.Hour)
	rep, _ := sweepOrDie(t, svc, at)
	if rep.Notices != 0 || rep.NoticesFailed != 1 || !strings.Contains(logs.String(), "sns: throttled") {
		t.Fatalf("first sweep report %+v; want the one notice failed and logged", rep)
	}
	rep, _ = sweepOrDie(t, svc, at.Add(time.Minute)) // within the lease: the release made it due at once
	got := out.take()
	if rep.Notices != 1 || len(got) != 1 || got[0].Kind != lifecycle.NoticeAlert {
		t.Fatalf("second sweep sent %v (report %+v); want the alert notice", ids(got), rep)
	}
	if rep, _ := sweepOrDie(t, svc, at.Add(time.Hour)); rep.Notices != 0 {
		t.Errorf("third sweep sent %d notices; want none", rep.Notices)
	}
}

// failingKey fails every load of one key, as a key whose items cannot be read does.
type failingKey struct {
	app.Store
	key string
}

func (f failingKey) LoadKey(ctx context.Context, arn string, l lifecycle.Load) (lifecycle.Key, error) {
	if arn == f.key {
		return lifecycle.Key{}, fmt.Errorf("store: load key %s: ProvisionedThroughputExceededException", arn)
	}
	return f.Store.LoadKey(ctx, arn, l)
}

// TestSweepGoesOnPastAFailingKey: one key's reads fail; every other key is still swept and alerted, and the failure
// is reported (and logged with the key) for the caller to count; a sweep once the fault has cleared catches up.
func TestSweepGoesOnPastAFailingKey(t *testing.T) {
	mem := store.NewMemory()
	out := &notices{}
	clock := func() time.Time { return t0 }
	plain := app.New(mem, nil, lifecycle.DefaultConfig(), fixture.Quiet(), clock)
	keys := []string{keyARN + "-a", keyARN + "-b", keyARN + "-c"}
	for i, k := range keys {
		longLived(t, plain, k, fmt.Sprintf("g%d", i))
	}
	var logs bytes.Buffer
	broken := app.New(failingKey{Store: mem, key: keys[1]}, nil, lifecycle.DefaultConfig(), slog.New(slog.NewJSONHandler(&logs, nil)), clock).
		WithNotifier(out, 0)
	rep, err := broken.Sweep(context.Background(), t0.Add(25*time.Hour))
	if err != nil {
		t.Fatalf("Sweep() error = %v; want the failure reported per key", err)
	}
	got := out.take()
	if rep.Keys != 2 || len(rep.Alerts) != 2 || len(got) != 2 || got[0].Alert.KeyARN != keys[0] || got[1].Alert.KeyARN != keys[2] {
		t.Errorf("swept %d keys, %d alerts, sent %v; want keys a and c swept and notified", rep.Keys, len(rep.Alerts), ids(got))
	}
	if len(rep.Failed) != 1 || rep.Failed[0].KeyARN != keys[1] || !strings.Contains(rep.Failed[0].Err.Error(), "ProvisionedThroughput") {
		t.Errorf("Failed = %+v; want key b with its error", rep.Failed)
	}
	if !strings.Contains(logs.String(), `"keyArn":"`+keys[1]+`"`) {
		t.Errorf("logs lack a line naming the failed key:\n%s", logs.String())
	}
	healed := app.New(mem, nil, lifecycle.DefaultConfig(), fixture.Quiet(), clock).WithNotifier(out, 0)
	if rep, err := healed.Sweep(context.Background(), t0.Add(26*time.Hour)); err != nil || len(rep.Failed) != 0 || rep.Notices != 1 {
		t.Errorf("sweep after the fault = %+v, %v; want key b's one notice", rep, err)
	}
}

// TestDryRunClaimsNothing: a dry-run sweep shows the notices that are due and writes nothing; a delivering sweep
// afterwards sends exactly those, under the same ids.
func TestDryRunClaimsNothing(t *testing.T) {
	st := &counting{Store: store.NewMemory()}
	clock := func() time.Time { return t0 }
	plain := app.New(st, nil, lifecycle.DefaultConfig(), fixture.Quiet(), clock)
	longLived(t, plain, keyARN, "g1")
	longLived(t, plain, keyB, "g2")
	st.takeSaves()
	shown, sent := &notices{}, &notices{}
	at := t0.Add(25 * time.Hour)
	for range 2 {
		rep, err := plain.WithNotifier(shown, 0).DryRun().Sweep(context.Background(), at)
		if err != nil || rep.Notices != 2 || len(rep.Alerts) != 2 {
			t.Fatalf("dry run = %+v, %v; want 2 alerts and 2 notices shown", rep, err)
		}
	}
	if saves := st.takeSaves(); len(saves) != 0 {
		t.Fatalf("the dry runs wrote %d times; want nothing written", len(saves))
	}
	rep, err := plain.WithNotifier(sent, 0).Sweep(context.Background(), at)
	if err != nil || rep.Notices != 2 {
		t.Fatalf("delivering sweep = %+v, %v; want 2 notices", rep, err)
	}
	dry := ids(shown.take())
	if got := ids(sent.take()); len(dry) != 4 || !slices.Equal(slices.Compact(dry), got) {
		t.Errorf("sent %v; want the ids both dry runs showed %v", got, dry)
	}
}
