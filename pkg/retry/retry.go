// Package retry runs an operation again after a failure that may pass, waiting a jittered, exponentially growing
// time between attempts. grantwatch uses it where writers race on one record: every loser of a conditional write
// re-reads and tries again, and without the wait and the jitter the losers of one race meet again in the next.
package retry

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Policy says how often and how patiently to try.
type Policy struct {
	Attempts int           // how many times to call the operation in all; below 1 counts as 1
	Base     time.Duration // the upper bound of the first wait; it doubles after every attempt
	Max      time.Duration // no wait is longer; 0 means Base << 10

	// Wait sleeps for d or until ctx ends; nil sleeps on a timer. Tests replace it to see the waits.
	Wait func(ctx context.Context, d time.Duration) error
	// Rand returns a number in [0, 1); nil uses math/rand/v2. Tests replace it to pin the jitter.
	Rand func() float64
}

// ExhaustedError is the error of an operation that still failed on its last attempt.
type ExhaustedError struct {
	Attempts int
	Err      error // the last attempt's error
}

func (e *ExhaustedError) Error() string {
	return fmt.Sprintf("%v (after %d attempts)", e.Err, e.Attempts)
}

func (e *ExhaustedError) Unwrap() error { return e.Err }

// Do calls op until it returns nil, returns an error again does not accept, or the attempts are used up; then it
// returns op's last error (wrapped in *ExhaustedError when the attempts ran out). Before attempt n+1 it waits a
// random time in [0, min(Max, Base·2ⁿ⁻¹)) ("full jitter"). op gets the attempt number, from 1. A context that ends
// while waiting ends Do with ctx.Err().
func (p Policy) Do(ctx context.Context, again func(error) bool, op func(attempt int) error) error {
	attempts := max(p.Attempts, 1)
	for n := 1; ; n++ {
		err := op(n)
		if err == nil || !again(err) {
			return err
		}
		if n == attempts {
			return &ExhaustedError{Attempts: attempts, Err: err}
		}
		if werr := p.wait(ctx, p.Backoff(n)); werr != nil {
			return werr
		}
	}
}

// Backoff returns the wait after the n-th failed attempt (n from 1): a random duration below the n-th bound.
func (p Policy) Backoff(n int) time.Duration {
	bound := p.Base
	limit := p.Max
	if limit <= 0 {
		limit = p.Base << 10
	}
	for i := 1; i < n && bound < limit; i++ {
		bound *= 2
	}
	bound = min(bound, limit)
	if bound <= 0 {
		return 0
	}
	r := rand.Float64
	if p.Rand != nil {
		r = p.Rand
	}
	return time.Duration(r() * float64(bound))
}

func (p Policy) wait(ctx context.Context, d time.Duration) error {
	if p.Wait != nil {
		return p.Wait(ctx, d)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
