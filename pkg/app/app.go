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
)

// ErrConflict means another writer changed a record between our read and our conditional write.
var ErrConflict = errors.New("app: conflicting write")

// Store keeps keys, their grants and usage. Every write is conditional on the version that was read.
type Store interface {
	// LoadKey returns everything stored for a key; lifecycle.NewKey(arn) when nothing is.
	LoadKey(ctx context.Context, keyARN string) (lifecycle.Key, error)
	// SaveKey writes the grants named in r.Changed, and the usage when r.UsageChanged, each conditional on the
	// version k was loaded with. It returns an error wrapping ErrConflict when another writer got there first.
	SaveKey(ctx context.Context, k lifecycle.Key, r lifecycle.Result) error
	// ActiveKeys returns the keys the sweep must visit, from an index: keys with at least one grant that has not
	// ended, and keys with Bedrock service use not yet checked for use-after-retire (Usage.Unchecked).
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

// Service runs the use cases.
type Service struct {
	store  Store
	alerts Alerter
	cfg    lifecycle.Config
	log    *slog.Logger
	now    func() time.Time

	notify notifyConfig // issue 3: claimed delivery (notify.go); zero means the Alerter path
	jobs   JobStore     // the Bedrock job registry (jobs.go); nil: job-aware rules off
}

// New returns a Service. Pass time.Now in production and a fixed clock in tests.
func New(store Store, alerts Alerter, cfg lifecycle.Config, log *slog.Logger, now func() time.Time) *Service {
	return &Service{store: store, alerts: alerts, cfg: cfg, log: log, now: now}
}

// Ingest applies one event: load the key, apply, conditionally save, then deliver new alerts. A lost race is
// retried from a fresh read; store errors are returned so that the caller (Lambda) retries the event.
func (s *Service) Ingest(ctx context.Context, ev lifecycle.Event) (lifecycle.Result, error) {
	r, _, err := s.update(ctx, ev.KeyARN, s.now(), "ingest "+ev.ID+" on "+ev.KeyARN,
		func(k *lifecycle.Key) (lifecycle.Result, bool, error) {
			r, err := k.Apply(ev, s.cfg)
			return r, len(r.Changed) > 0 || r.UsageChanged, err
		})
	return r, err
}

// update runs the read-change-write cycle every use case runs on one key: load it, let change do the use case's
// work (and say whether anything may need writing), claim the notices due at at, write conditionally, and deliver
// once the write has won. A lost race starts over from a fresh read, at most maxAttempts times; what names the
// work in that error. It returns change's result and the notices delivered (none when nothing was written).
func (s *Service) update(ctx context.Context, arn string, at time.Time, what string,
	change func(k *lifecycle.Key) (lifecycle.Result, bool, error)) (lifecycle.Result, []lifecycle.Notice, error) {
	for range maxAttempts {
		k, err := s.store.LoadKey(ctx, arn)
		if err != nil {
			return lifecycle.Result{}, nil, err
		}
		r, mayWrite, err := change(&k)
		if err != nil || !mayWrite {
			return r, nil, err
		}
		notices, write := s.claim(&k, r, at)
		if len(write.Changed) == 0 && !write.UsageChanged {
			return r, nil, nil
		}
		err = s.store.SaveKey(ctx, k, write)
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return r, nil, err
		}
		s.deliver(ctx, r.Alerts, notices)
		return r, notices, nil
	}
	return lifecycle.Result{}, nil, fmt.Errorf("app: %s: %w after %d attempts", what, ErrConflict, maxAttempts)
}

// SweepReport says what a sweep did.
type SweepReport struct {
	Keys   int
	Alerts []lifecycle.Alert

	// Issue 3: what the sweep's metrics report.
	Resolved     []lifecycle.Alert      // alerts resolved (normally by ingest; the sweep catches up)
	Notices      int                    // notices claimed and published
	ActiveByKind map[lifecycle.Kind]int // active grants on the swept keys
	BusiestKey   string                 // the key with the most active grants, against the per-key quota
	BusiestCount int
}

// Sweep evaluates every rule at time at for the keys that have active grants.
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
		ks, err := s.sweepKey(ctx, arn, at, jobs)
		if err != nil {
			return rep, err
		}
		rep.Keys++
		rep.Alerts = append(rep.Alerts, ks.result.Alerts...)
		rep.Resolved = append(rep.Resolved, ks.result.Resolved...)
		rep.Notices += ks.notices
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
	result  lifecycle.Result
	notices int
	active  map[lifecycle.Kind]int
}

func (s *Service) sweepKey(ctx context.Context, arn string, at time.Time, jobs lifecycle.Jobs) (keySweep, error) {
	var ks keySweep
	r, notices, err := s.update(ctx, arn, at, "sweep "+arn, func(k *lifecycle.Key) (lifecycle.Result, bool, error) {
		r := k.Sweep(at, s.cfg)
		ks.active = k.ActiveGrants()
		return lifecycle.MergeResult(r, k.CheckJobs(jobs, at, s.cfg)), true, nil // the claim may write even so
	})
	if err != nil {
		return keySweep{}, err
	}
	if notices != nil || len(r.Changed) > 0 || r.UsageChanged {
		ks.result, ks.notices = r, len(notices)
	}
	return ks, nil
}

// deliver sends alerts that are already recorded: the claimed notices when a Notifier is set (notify.go), else
// the raised alerts to the Alerter. A delivery failure is logged, not returned: the alert is in the store, and
// failing the event would only make Lambda redeliver a duplicate that raises nothing.
func (s *Service) deliver(ctx context.Context, alerts []lifecycle.Alert, notices []lifecycle.Notice) {
	if s.notify.to != nil {
		s.publish(ctx, notices)
		return
	}
	if len(alerts) == 0 || s.alerts == nil {
		return
	}
	if err := s.alerts.Send(ctx, alerts); err != nil {
		s.log.ErrorContext(ctx, "alert delivery failed", "alerts", len(alerts), "err", err)
	}
}

// Reject records an input that could not be used.
func (s *Service) Reject(ctx context.Context, source, eventID string, raw []byte, cause error) error {
	if len(raw) > MaxRawRejection {
		raw = raw[:MaxRawRejection]
	}
	return s.store.RecordRejection(ctx, Rejection{Source: source, EventID: eventID, Error: cause.Error(), At: s.now().UTC(), Raw: string(raw)})
}

// Key returns what is stored for one key.
func (s *Service) Key(ctx context.Context, arn string) (lifecycle.Key, error) {
	return s.store.LoadKey(ctx, arn)
}
