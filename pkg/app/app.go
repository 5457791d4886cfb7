// Package app holds the grantwatch use cases (ingest one event, sweep the active grants) and owns the ports they
// need. It knows the domain (pkg/lifecycle) and nothing of AWS.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/retry"
)

// ErrConflict means another writer changed a record between our read and our conditional write.
var ErrConflict = errors.New("conflicting write")

// Store keeps what grantwatch records per KMS key (lifecycle.Key: its grants, usage and meta). Every write is
// conditional on the version that was read.
type Store interface {
	// LoadKey returns what l asks for of a key (lifecycle.Load): never more, so that an event costs what it touches;
	// an empty key with Loaded = l when nothing is stored.
	LoadKey(ctx context.Context, keyARN string, l lifecycle.Load) (lifecycle.Key, error)
	// SaveKey writes what r changed (lifecycle.Result: grants, moves between working set and archive, usage, meta),
	// each item conditional on the version k was loaded with. It returns an error wrapping ErrConflict when another
	// writer got there first.
	SaveKey(ctx context.Context, k lifecycle.Key, r lifecycle.Result) error
	// ActiveKeys returns the KMS keys the sweep must visit, from an index: keys with grants in their working set, and
	// keys whose usage is due (Usage.Due: Bedrock service use not yet checked for use-after-retire, or a key-level
	// notice not yet confirmed sent).
	ActiveKeys(ctx context.Context) ([]string, error)
	// RecordRejection keeps an input that could not be used, so that a person can find it.
	RecordRejection(ctx context.Context, r Rejection) error
}

// Rejection is an input grantwatch could not use: undecodable, or missing what the rules need.
type Rejection struct {
	Source  string    `json:"source"`            // where it came from: an EventBridge event id, a file#index
	EventID string    `json:"eventId,omitempty"` // the CloudTrail eventID, when it could be read
	Error   string    `json:"error"`
	At      time.Time `json:"at"`            // when it was rejected
	Raw     string    `json:"raw,omitempty"` // the input, truncated to MaxRawRejection bytes
}

// MaxRawRejection bounds how much of a rejected input is kept.
const MaxRawRejection = 16 << 10

// Alerter delivers raised alerts to people.
type Alerter interface {
	Send(ctx context.Context, alerts []lifecycle.Alert) error
}

// maxAttempts bounds the read-apply-write retries of one event when writers race on the same key.
const maxAttempts = 5

// conflictRetry is how every use case retries a conditional write that lost a race: from a fresh read, after a
// jittered wait that doubles per attempt, so that the writers of one race do not collide again at once. Five attempts
// span at most about 75 ms of waiting.
var conflictRetry = retry.Policy{Attempts: maxAttempts, Base: 5 * time.Millisecond, Max: 40 * time.Millisecond}

// onConflict runs op, again after each lost race (ErrConflict) as conflictRetry says; what names the work in the
// error when every attempt lost.
func onConflict(ctx context.Context, what string, op func() error) error {
	err := conflictRetry.Do(ctx, func(err error) bool { return errors.Is(err, ErrConflict) }, func(int) error { return op() })
	var ex *retry.ExhaustedError
	if errors.As(err, &ex) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return err
}

// maxWidenings bounds how often one operation may ask for a wider load (lifecycle.Result.Need): scopes only widen,
// so a handful always suffices.
const maxWidenings = 8

// Service runs the use cases.
type Service struct {
	store  Store
	alerts Alerter
	cfg    lifecycle.Config
	log    *slog.Logger
	now    func() time.Time

	notify notifyConfig // claimed delivery (notify.go); zero means the Alerter path
	floor  time.Time    // a sweep time before now that archiving must keep what it needs for (WithSweepTime)
	dryRun bool         // write nothing (DryRun)
	jobs   JobStore     // the Bedrock job registry (jobs.go); nil: job-aware rules off
}

// New returns a Service. Pass time.Now in production and a fixed clock in tests.
func New(store Store, alerts Alerter, cfg lifecycle.Config, log *slog.Logger, now func() time.Time) *Service {
	return &Service{store: store, alerts: alerts, cfg: cfg, log: log, now: now}
}

// WithSweepTime returns a copy of s whose sweeps run at at, which may be before now (replay's --at): archiving then
// keeps in the working set what a sweep at at still needs.
func (s *Service) WithSweepTime(at time.Time) *Service {
	c := *s
	c.floor = at
	return &c
}

// horizon is the time before which an ended grant may leave the working set: the rules' retention before the
// earliest time they will still be evaluated at.
func (s *Service) horizon() time.Time {
	t := s.now()
	if !s.floor.IsZero() && s.floor.Before(t) {
		t = s.floor
	}
	return t.Add(-s.cfg.Retention())
}

// Ingest applies one event: load what it touches, apply, conditionally save, then deliver new alerts. A lost race
// is retried from a fresh read; store errors are returned so that the caller (Lambda) retries the event.
func (s *Service) Ingest(ctx context.Context, ev lifecycle.Event) (lifecycle.Result, error) {
	load := lifecycle.LoadFor(ev)
	if load.Zero() { // a call grantwatch does not track: nothing to read
		k := lifecycle.NewKey(ev.KeyARN)
		return k.Apply(ev, s.cfg)
	}
	r, _, err := s.update(ctx, ev.KeyARN, load, s.now(), "ingest "+ev.ID+" on "+ev.KeyARN,
		func(k *lifecycle.Key) (lifecycle.Result, bool, error) {
			r, err := k.Apply(ev, s.cfg)
			return r, r.Writes() || !r.Need.Zero(), err
		})
	return r, err
}

// update runs the read-change-write cycle every use case runs on one key: load what load names, let change do the
// use case's work (and say whether anything may need writing), claim the notices due at at, settle the working set
// (lifecycle.Key.Settle), write conditionally, and deliver once the write has won. When change needs more than was
// loaded (Result.Need) it runs again on a wider load. A lost race starts over from a fresh read (onConflict); what
// names the work in that error. It returns change's result and what became of the notices (none when nothing was
// written).
func (s *Service) update(ctx context.Context, arn string, load lifecycle.Load, at time.Time, what string,
	change func(k *lifecycle.Key) (lifecycle.Result, bool, error)) (lifecycle.Result, delivery, error) {
	var (
		r       lifecycle.Result
		notices []lifecycle.Notice
	)
	err := onConflict(ctx, what, func() error {
		var err error
		r, notices, err = s.cycle(ctx, arn, &load, at, what, change)
		return err
	})
	if err != nil {
		return lifecycle.Result{}, delivery{}, err
	}
	return r, s.deliver(ctx, r.Alerts, notices), nil
}

// cycle is one attempt of update: read, change (widening *load as change asks; the widening outlives a lost race),
// claim, settle and write. It returns the notices claimed by the write, which the caller delivers.
func (s *Service) cycle(ctx context.Context, arn string, load *lifecycle.Load, at time.Time, what string,
	change func(k *lifecycle.Key) (lifecycle.Result, bool, error)) (lifecycle.Result, []lifecycle.Notice, error) {
	for widenings := 0; ; widenings++ {
		k, err := s.store.LoadKey(ctx, arn, *load)
		if err != nil {
			return lifecycle.Result{}, nil, err
		}
		r, mayWrite, err := change(&k)
		if err != nil {
			return r, nil, err
		}
		widen := func(need lifecycle.Load) error {
			if load.Covers(need) || widenings == maxWidenings {
				return fmt.Errorf("%s: still needs %+v after loading %+v", what, need, *load)
			}
			*load = load.Union(need)
			return nil
		}
		if !r.Need.Zero() {
			if err := widen(r.Need); err != nil {
				return lifecycle.Result{}, nil, err
			}
			continue
		}
		if !mayWrite {
			return r, nil, nil
		}
		notices, write := s.claim(&k, r, at)
		settled := k.Settle(write, s.horizon())
		if !settled.Need.Zero() { // archiving a primary writes the archive's record of primaries: load it too
			if err := widen(settled.Need); err != nil {
				return lifecycle.Result{}, nil, err
			}
			continue
		}
		write = lifecycle.MergeResult(write, settled)
		if !write.Writes() {
			return r, nil, nil
		}
		if s.dryRun {
			return r, notices, nil // shown, never stored: the notices stay due for a sweep that delivers
		}
		if err := s.store.SaveKey(ctx, k, write); err != nil {
			return r, nil, err
		}
		return r, notices, nil
	}
}

// SweepReport says what a sweep did.
type SweepReport struct {
	Keys   int // keys swept
	Alerts []lifecycle.Alert
	// Failed are the keys the sweep could not sweep (a read or write that kept failing). The sweep went on with the
	// others; the next sweep tries these again.
	Failed []KeyFailure

	// What the sweep's metrics report.
	Resolved         []lifecycle.Alert      // alerts resolved (normally by ingest; the sweep catches up)
	Notices          int                    // notices published (with DryRun: shown)
	NoticesFailed    int                    // notices whose publish failed: released, sent again by a later sweep
	NoticesPastLease int                    // notices claimed earlier and not confirmed within their lease, sent again
	ActiveByKind     map[lifecycle.Kind]int // active grants on the swept keys
	BusiestKey       string                 // the key with the most active grants, against the per-key quota
	BusiestCount     int
}

// KeyFailure is a key a sweep could not sweep, and why.
type KeyFailure struct {
	KeyARN string
	Err    error
}

// Sweep evaluates every rule at time at for the keys the store's index names (Store.ActiveKeys). A key that fails is
// reported in SweepReport.Failed and logged, and the sweep goes on with the others: one bad key never holds back
// the alerts of the rest. The error is for what stops the whole sweep: the index or the job registry cannot be
// read, or ctx ends (the keys not reached are swept next time).
func (s *Service) Sweep(ctx context.Context, at time.Time) (SweepReport, error) {
	keys, err := s.store.ActiveKeys(ctx)
	if err != nil {
		return SweepReport{}, err
	}
	jobs, err := s.loadJobs(ctx, at) // job-aware rules (jobs.go)
	if err != nil {
		return SweepReport{}, err
	}
	rep := SweepReport{ActiveByKind: map[lifecycle.Kind]int{}}
	for _, arn := range keys {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		ks, err := s.sweepKey(ctx, arn, at, jobs)
		if err != nil {
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			s.log.ErrorContext(ctx, "key not swept; the next sweep tries it again", "keyArn", arn, "err", err)
			rep.Failed = append(rep.Failed, KeyFailure{KeyARN: arn, Err: err})
			continue
		}
		rep.Keys++
		rep.Alerts = append(rep.Alerts, ks.result.Alerts...)
		rep.Resolved = append(rep.Resolved, ks.result.Resolved...)
		rep.Notices += ks.delivery.sent
		rep.NoticesFailed += ks.delivery.failed
		rep.NoticesPastLease += ks.delivery.pastLease
		n := 0
		for kind, c := range ks.active {
			rep.ActiveByKind[kind] += c
			n += c
		}
		if n > rep.BusiestCount {
			rep.BusiestKey, rep.BusiestCount = arn, n
		}
	}
	return rep, nil
}

// keySweep is what sweeping one key did.
type keySweep struct {
	result   lifecycle.Result
	delivery delivery
	active   map[lifecycle.Kind]int
}

func (s *Service) sweepKey(ctx context.Context, arn string, at time.Time, jobs lifecycle.Jobs) (keySweep, error) {
	var ks keySweep
	r, d, err := s.update(ctx, arn, lifecycle.Load{Scope: lifecycle.ScopeWorking}, at, "sweep "+arn,
		func(k *lifecycle.Key) (lifecycle.Result, bool, error) {
			r := k.Sweep(at, s.cfg)
			if !r.Need.Zero() {
				return r, true, nil
			}
			ks.active = k.ActiveGrants()
			return lifecycle.MergeResult(r, k.CheckJobs(jobs, at, s.cfg)), true, nil // the claim may write even so
		})
	if err != nil {
		return keySweep{}, err
	}
	if d != (delivery{}) || r.Writes() {
		ks.result, ks.delivery = r, d
	}
	return ks, nil
}

// deliver sends alerts that are already recorded: the claimed notices when a Notifier is set (notify.go), else
// the raised alerts to the Alerter. A delivery failure is logged, not returned: the alert is in the store, and
// failing the event would only make Lambda redeliver a duplicate that raises nothing.
func (s *Service) deliver(ctx context.Context, alerts []lifecycle.Alert, notices []lifecycle.Notice) delivery {
	if s.notify.to != nil {
		return s.publish(ctx, notices)
	}
	if len(alerts) == 0 || s.alerts == nil {
		return delivery{}
	}
	if err := s.alerts.Send(ctx, alerts); err != nil {
		s.log.ErrorContext(ctx, "alert delivery failed", "alerts", len(alerts), "err", err)
	}
	return delivery{}
}

// Reject records an input that could not be used.
func (s *Service) Reject(ctx context.Context, source, eventID string, raw []byte, cause error) error {
	if len(raw) > MaxRawRejection {
		raw = raw[:MaxRawRejection]
	}
	return s.store.RecordRejection(ctx, Rejection{Source: source, EventID: eventID, Error: cause.Error(), At: s.now().UTC(), Raw: string(raw)})
}

// Key returns everything stored for one key, its archive included.
func (s *Service) Key(ctx context.Context, arn string) (lifecycle.Key, error) {
	return s.store.LoadKey(ctx, arn, lifecycle.Load{Scope: lifecycle.ScopeAll})
}
