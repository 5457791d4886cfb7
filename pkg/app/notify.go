package app

import (
	"cmp"
	"context"
	"maps"
	"slices"
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

// WithNotifier makes s deliver through n at least once (lifecycle/notify.go): every notice due is claimed, with a
// lease, in the same conditional write that stores the event or sweep that made it due; it is published only after
// that write succeeded, and confirmed by a second conditional write of the one item that holds its alert (1 write
// unit while the item is under 1 KB, which a grant item is: store.TestGrantItemsUnderOneKB). A writer that loses
// the race (ErrConflict) re-reads, finds the notice claimed and publishes nothing, so racing sweeps and ingests send
// a notice once. A notice not confirmed within its lease (a crash or timeout between claim and confirmation, a failed
// publish) is sent again by the next sweep under the same notice id; it reaches subscribers twice only when its
// publish succeeded and its confirmation was lost. remind > 0 re-notifies an open alert that often. Without a
// Notifier, s sends raised alerts to its Alerter and claims nothing (replay, CLI).
func (s *Service) WithNotifier(n Notifier, remind time.Duration) *Service {
	c := *s
	c.notify = notifyConfig{to: n, remind: remind}
	return &c
}

// DryRun returns a copy of s that writes nothing: Ingest, Sweep and Reconcile run on what they read, and the notices
// that would be claimed go to the Notifier without being claimed, so they stay due for a sweep that delivers them.
// Nothing is confirmed or released. grantwatch sweep without --topic runs this way.
func (s *Service) DryRun() *Service {
	c := *s
	c.dryRun = true
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

// delivery counts what became of the notices of one write.
type delivery struct {
	sent      int // published (with DryRun: shown)
	failed    int // publish failed: the lease was given back
	pastLease int // claimed before and not confirmed within the lease: sent again
}

// publish sends claimed notices and confirms the ones sent. A failed send gives its lease back so the next sweep
// sends it again.
func (s *Service) publish(ctx context.Context, notices []lifecycle.Notice) delivery {
	var d delivery
	var sent []lifecycle.Notice
	for _, n := range notices {
		attrs := noticeAttrs(n)
		if n.Resend {
			d.pastLease++
		}
		err := s.notify.to.Notify(ctx, n)
		if err == nil {
			d.sent++
			if !s.dryRun {
				sent = append(sent, n)
				s.log.InfoContext(ctx, "notice sent", attrs...)
			}
			continue
		}
		d.failed++
		if s.dryRun {
			s.log.ErrorContext(ctx, "notice not shown", append(attrs, "err", err)...)
			continue
		}
		s.log.ErrorContext(ctx, "notice not sent; its lease is given back so that the next sweep sends it", append(attrs, "err", err)...)
		if rerr := s.release(ctx, n); rerr != nil {
			s.log.ErrorContext(ctx, "lease not given back: the notice is sent again once its lease has passed",
				append(attrs, "lease", lifecycle.NoticeLease, "err", rerr)...)
		}
	}
	s.confirm(ctx, sent)
	return d
}

func noticeAttrs(n lifecycle.Notice) []any {
	return []any{"noticeId", n.ID(), "kind", string(n.Kind), "type", string(n.Alert.Type), "grantId", n.Alert.GrantID,
		"keyArn", n.Alert.KeyARN, "resend", n.Resend}
}

// confirm records sent notices as sent: one conditional write per item that holds their alerts (a grant item, or
// the key's usage item for key-level alerts). A confirmation that cannot be written leaves its notice to be sent
// again once the lease has passed: a repeat, never a loss.
func (s *Service) confirm(ctx context.Context, sent []lifecycle.Notice) {
	type item struct{ key, grant string }
	groups := map[item][]lifecycle.Notice{}
	for _, n := range sent {
		it := item{n.Alert.KeyARN, n.Alert.GrantID}
		groups[it] = append(groups[it], n)
	}
	for _, it := range slices.SortedFunc(maps.Keys(groups), func(a, b item) int {
		return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.grant, b.grant))
	}) {
		ns := groups[it]
		err := onConflict(ctx, "confirm notices on "+it.key+" "+it.grant, func() error {
			k, err := s.store.LoadKey(ctx, it.key, lifecycle.NoticeLoad(ns[0]))
			if err != nil {
				return err
			}
			r, ok := k.Confirm(ns...)
			if !ok {
				return nil // confirmed by another sender of the same notice
			}
			return s.store.SaveKey(ctx, k, r)
		})
		if err != nil {
			s.log.ErrorContext(ctx, "notices sent but not confirmed: they are sent again once their lease has passed",
				"keyArn", it.key, "grantId", it.grant, "notices", len(ns), "lease", lifecycle.NoticeLease, "err", err)
		}
	}
}

// release gives back the lease of n with a conditional write; a lease someone else has since taken is left alone.
func (s *Service) release(ctx context.Context, n lifecycle.Notice) error {
	return onConflict(ctx, "release notice "+n.ID(), func() error {
		k, err := s.store.LoadKey(ctx, n.Alert.KeyARN, lifecycle.NoticeLoad(n))
		if err != nil {
			return err
		}
		r, ok := k.Release(n)
		if !ok {
			return nil
		}
		return s.store.SaveKey(ctx, k, r)
	})
}
