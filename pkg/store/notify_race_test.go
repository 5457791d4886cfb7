package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/internal/fixture"
	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// countingNotifier counts notices by kind, type and grant.
type countingNotifier struct {
	mu   sync.Mutex
	sent map[string]int
}

func (c *countingNotifier) Notify(_ context.Context, n lifecycle.Notice) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent[fmt.Sprintf("%s %s %s", n.Kind, n.Alert.Type, n.Alert.GrantID)]++
	return nil
}

// testNotifyOnce races n sweeps over the same long-lived secondaries, then retirements against more sweeps, and
// checks every notice was sent exactly once (one alert per grant, then one resolution per grant) and confirmed, so
// that no sweep after the lease sends it again.
func testNotifyOnce(t *testing.T, st app.Store, racers int) {
	t.Helper()
	ctx := context.Background()
	log := fixture.Quiet()
	sent := &countingNotifier{sent: map[string]int{}}
	clock := func() time.Time { return t0.Add(30 * time.Hour) }
	plain := app.New(st, nil, lifecycle.DefaultConfig(), log, clock)
	svc := plain.WithNotifier(sent, 0)

	keys := []string{keyA, keyB}
	var grants []lifecycle.Event
	for _, k := range keys {
		for i := range 3 {
			id := fmt.Sprintf("g%d-%s", i, k[len(k)-4:])
			grants = append(grants, lifecycle.Event{ID: "c-" + id, Name: lifecycle.CreateGrant, Time: t0, KeyARN: k, GrantID: id,
				Caller: bedrockService, Grantee: "bedrock.amazonaws.com", RetiringPrincipal: "bedrock.amazonaws.com",
				Operations: []string{"Decrypt"}})
		}
	}
	for _, ev := range grants {
		if _, err := plain.Ingest(ctx, ev); err != nil {
			t.Fatalf("Ingest(%s) error = %v", ev.ID, err)
		}
	}

	race := func(fns ...func() error) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, len(fns))
		for _, fn := range fns {
			wg.Go(func() { errs <- fn() })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("racer error = %v", err)
			}
		}
	}
	sweep := func(at time.Time) func() error {
		return func() error { _, err := svc.Sweep(ctx, at); return err }
	}
	var fns []func() error
	for range racers {
		fns = append(fns, sweep(t0.Add(25*time.Hour)))
	}
	race(fns...)

	// Retirements race further sweeps: each resolution notice must go out once, from whichever write won.
	fns = nil
	for i, ev := range grants {
		end := lifecycle.Event{ID: "r-" + ev.GrantID, Name: lifecycle.RetireGrant, Time: t0.Add(26 * time.Hour), KeyARN: ev.KeyARN,
			GrantID: ev.GrantID, Caller: bedrockService}
		fns = append(fns, func() error { _, err := svc.Ingest(ctx, end); return err })
		if i%2 == 0 {
			fns = append(fns, sweep(t0.Add(27*time.Hour)))
		}
	}
	race(fns...)
	race(sweep(t0.Add(28*time.Hour)), sweep(t0.Add(28*time.Hour))) // pick up what a lost race left
	// Every send was confirmed despite the races: a sweep after every lease has passed sends nothing again.
	race(sweep(t0.Add(31 * time.Hour)))
	for _, k := range keys {
		key, err := st.LoadKey(ctx, k, lifecycle.Load{Scope: lifecycle.ScopeAll})
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range key.Grants {
			for _, a := range g.Alerts {
				if a.Unconfirmed != "" {
					t.Errorf("grant %s: %s notice of %s still unconfirmed after the races", g.ID, a.Unconfirmed, a.Type)
				}
			}
		}
	}

	want := map[string]int{}
	for _, ev := range grants {
		want[fmt.Sprintf("%s %s %s", lifecycle.NoticeAlert, lifecycle.LongLivedSecondary, ev.GrantID)] = 1
		want[fmt.Sprintf("%s %s %s", lifecycle.NoticeResolved, lifecycle.LongLivedSecondary, ev.GrantID)] = 1
	}
	if len(sent.sent) != len(want) {
		t.Errorf("sent %d distinct notices %v; want %d", len(sent.sent), sent.sent, len(want))
	}
	for k, n := range want {
		if sent.sent[k] != n {
			t.Errorf("notice %q sent %d times; want %d", k, sent.sent[k], n)
		}
	}
}

func TestNotifyOnceMemory(t *testing.T) {
	for range 20 { // races are probabilistic: repeat
		testNotifyOnce(t, store.NewMemory(), 16)
	}
}
