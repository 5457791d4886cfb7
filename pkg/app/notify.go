package app

import (
	"context"
	"errors"
	"time"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// Notifier publishes one notice (an alert, a reminder or a resolution) to people. pkg/alert.SNS implements it.
type Notifier interface {
	Notify(ctx context.Context, n lifecycle.Notice) error
}

// notifyConfig is the claimed-delivery configuration of a Service.
type notifyConfig struct {
	to     Notifier
	remind time.Duration // 0: no reminders
}

// WithNotifier makes s deliver through n with claims (lifecycle.Key.Claim): every notice due is written onto its
// alert in the same conditional write that stores the event or sweep that made it due, and published only after
// that write succeeded. A writer that loses the race (ErrConflict) re-reads, finds the notice claimed and
// publishes nothing, so racing sweeps and ingests never send a notice twice. remind > 0 re-notifies an open alert
// that often. Without a Notifier, s sends raised alerts to its Alerter and claims nothing (replay, CLI).
//
// Trade-off, chosen deliberately: a notice is sent at most once per claim. A crash between the write and the
// publish loses that notice; a publish that fails visibly gives its claim back (Release) so the next sweep sends
// it, and the reminder interval re-notifies anything still open. The alternative, at-least-once with a claim
// lease, costs a second write per notice and still sends twice when the first publish succeeded unseen.
func (s *Service) WithNotifier(n Notifier, remind time.Duration) *Service {
	c := *s
	c.notify = notifyConfig{to: n, remind: remind}
	return &c
}

// claim marks the notices due at now on k and returns them with the write that stores r and the claims together.
func (s *Service) claim(k *lifecycle.Key, r lifecycle.Result, now time.Time) ([]lifecycle.Notice, lifecycle.Result) {
	if s.notify.to == nil {
		return nil, r
	}
	notices, cr := k.Claim(now.UTC(), s.notify.remind)
	return notices, lifecycle.MergeResult(r, cr)
}

// publish sends claimed notices. A failed send gives its claim back so a later sweep retries it.
func (s *Service) publish(ctx context.Context, notices []lifecycle.Notice) {
	for _, n := range notices {
		err := s.notify.to.Notify(ctx, n)
		if err == nil {
			s.log.InfoContext(ctx, "notice sent", "kind", string(n.Kind), "type", string(n.Alert.Type),
				"grantId", n.Alert.GrantID, "keyArn", n.Alert.KeyARN)
			continue
		}
		s.log.ErrorContext(ctx, "notice not sent; releasing its claim", "kind", string(n.Kind), "type", string(n.Alert.Type),
			"grantId", n.Alert.GrantID, "keyArn", n.Alert.KeyARN, "err", err)
		if rerr := s.release(ctx, n); rerr != nil {
			s.log.ErrorContext(ctx, "claim not released: the notice is lost until a reminder", "kind", string(n.Kind),
				"type", string(n.Alert.Type), "grantId", n.Alert.GrantID, "err", rerr)
		}
	}
}

// release clears the claim of n with a conditional write; a claim someone else has since replaced is left alone.
func (s *Service) release(ctx context.Context, n lifecycle.Notice) error {
	for range maxAttempts {
		k, err := s.store.LoadKey(ctx, n.Alert.KeyARN, lifecycle.ReleaseLoad(n))
		if err != nil {
			return err
		}
		r, ok := k.Release(n)
		if !ok {
			return nil
		}
		err = s.store.SaveKey(ctx, k, r)
		if errors.Is(err, ErrConflict) {
			continue
		}
		return err
	}
	return ErrConflict
}
