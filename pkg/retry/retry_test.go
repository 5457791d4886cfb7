package retry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/retry"
)

var errLost = errors.New("lost the race")

func isLost(err error) bool { return errors.Is(err, errLost) }

// recorder is a Policy whose waits are recorded instead of slept.
func recorder(p retry.Policy, waits *[]time.Duration) retry.Policy {
	p.Wait = func(_ context.Context, d time.Duration) error {
		*waits = append(*waits, d)
		return nil
	}
	return p
}

func TestDo(t *testing.T) {
	boom := errors.New("access denied")
	tests := []struct {
		name      string
		fails     int   // attempts that fail before one succeeds
		failWith  error // what they fail with
		wantCalls int
		wantWaits int
		wantErr   error
		exhausted bool
	}{
		{name: "first attempt succeeds", wantCalls: 1},
		{name: "succeeds on the third", fails: 2, failWith: errLost, wantCalls: 3, wantWaits: 2},
		{name: "a failure that will not pass is returned at once", fails: 3, failWith: boom, wantCalls: 1, wantErr: boom},
		{name: "attempts run out", fails: 10, failWith: errLost, wantCalls: 4, wantWaits: 3, wantErr: errLost, exhausted: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var waits []time.Duration
			p := recorder(retry.Policy{Attempts: 4, Base: 10 * time.Millisecond, Max: time.Second}, &waits)
			calls := 0
			err := p.Do(context.Background(), isLost, func(n int) error {
				calls++
				if n != calls {
					t.Errorf("attempt number %d on call %d", n, calls)
				}
				if calls <= tt.fails {
					return tt.failWith
				}
				return nil
			})
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Do() error = %v; want %v", err, tt.wantErr)
			}
			var ex *retry.ExhaustedError
			if errors.As(err, &ex) != tt.exhausted || (tt.exhausted && ex.Attempts != 4) {
				t.Errorf("Do() error = %#v; exhausted want %v after 4 attempts", err, tt.exhausted)
			}
			if calls != tt.wantCalls || len(waits) != tt.wantWaits {
				t.Errorf("Do() made %d calls and %d waits; want %d and %d", calls, len(waits), tt.wantCalls, tt.wantWaits)
			}
		})
	}
}

// TestBackoffBounds: the bound doubles per attempt up to Max, and the wait stays below it.
func TestBackoffBounds(t *testing.T) {
	almostOne := func() float64 { return 0.999999 }
	p := retry.Policy{Base: 10 * time.Millisecond, Max: 70 * time.Millisecond, Rand: almostOne}
	for n, bound := range map[int]time.Duration{1: 10 * time.Millisecond, 2: 20 * time.Millisecond, 3: 40 * time.Millisecond,
		4: 70 * time.Millisecond, 30: 70 * time.Millisecond} {
		got := p.Backoff(n)
		if got >= bound || got < bound*99/100 {
			t.Errorf("Backoff(%d) with rand ≈ 1 = %s; want just below %s", n, got, bound)
		}
	}
	p.Rand = func() float64 { return 0 }
	if got := p.Backoff(3); got != 0 {
		t.Errorf("Backoff(3) with rand 0 = %s; want 0 (full jitter starts at zero)", got)
	}
	if got := (retry.Policy{}).Backoff(3); got != 0 {
		t.Errorf("Backoff without Base = %s; want 0", got)
	}
}

// TestBackoffIsJittered: with the real random source, racing writers do not all wait the same time.
func TestBackoffIsJittered(t *testing.T) {
	p := retry.Policy{Base: time.Second}
	seen := map[time.Duration]bool{}
	for range 50 {
		d := p.Backoff(2)
		if d < 0 || d >= 2*time.Second {
			t.Fatalf("Backoff(2) = %s; want within [0, 2s)", d)
		}
		seen[d] = true
	}
	if len(seen) < 40 {
		t.Errorf("50 backoffs took only %d distinct values; want jitter", len(seen))
	}
}

// TestDoStopsWhenTheContextEnds: a cancelled context ends the wait and the retries.
func TestDoStopsWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p := retry.Policy{Attempts: 5, Base: time.Hour, Rand: func() float64 { return 0.5 }}
	calls := 0
	start := time.Now()
	err := p.Do(ctx, isLost, func(int) error {
		calls++
		cancel()
		return errLost
	})
	if !errors.Is(err, context.Canceled) || calls != 1 || time.Since(start) > 10*time.Second {
		t.Fatalf("Do() = %v after %d calls in %s; want context.Canceled after 1 call, at once", err, calls, time.Since(start))
	}
}
