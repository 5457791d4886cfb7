package lifecycle

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// Alert delivery as data on the alert records.
//
// An alert is notified once, optionally reminded every Remind while unresolved, resolved when its grant ends, and
// the resolution is notified once if the alert itself was. Each notice is CLAIMED before it is sent: Claim writes
// the notice's time onto the alert, and the caller stores that with the same conditional (versioned) write as the
// rest of the key. Only the writer whose write succeeds sends; a writer that loses the race re-reads, finds the
// notice already claimed and sends nothing. So a notice is sent at most once per claim. A crash between the write
// and the send loses that notice (the price of never sending twice); Release gives a claim back when the send
// fails visibly, and the reminder interval, when set, re-notifies what is still open.

// NoticeKind says what a notice tells.
type NoticeKind string

// The notice kinds.
const (
	NoticeAlert    NoticeKind = "alert"    // the first notification of an alert
	NoticeReminder NoticeKind = "reminder" // the alert is still open after the reminder interval
	NoticeResolved NoticeKind = "resolved" // the grant the alert was about has ended
)

// Notice is one message to send about one alert.
type Notice struct {
	Kind  NoticeKind
	Alert Alert // as recorded, claim included
	Grant Grant // the grant the alert is about, for the timeline; zero for key-level alerts
	At    time.Time
}

// resolve marks the open alerts of every ended grant in ids as resolved at the grant's end. The end time comes
// from the event, so the result does not depend on the order events arrive in.
func (k *Key) resolve(r *Result, ids []string) {
	for _, id := range ids {
		g, ok := k.Grants[id]
		if !ok || !g.Ended() {
			continue
		}
		changed := false
		for i := range g.Alerts {
			if g.Alerts[i].ResolvedAt.IsZero() {
				g.Alerts[i].ResolvedAt = g.EndedAt
				g.Alerts[i].Resolution = resolution(g)
				r.Resolved = append(r.Resolved, g.Alerts[i])
				changed = true
			}
		}
		if changed {
			k.Grants[id] = g
			r.touch(id)
		}
	}
}

// resolution says how a grant ended, e.g. "retired after 31h0m0s".
func resolution(g Grant) string {
	s := fmt.Sprintf("%s by %s", g.State(), g.EndedBy)
	if g.Created() && !g.EndedAt.Before(g.CreatedAt) {
		s = fmt.Sprintf("%s after %s", g.State(), g.EndedAt.Sub(g.CreatedAt).Round(time.Minute))
	}
	return s
}

// Claim marks every notice due at now on the key's loaded records and returns the notices with what changed; merge
// the Result into the write that stores the key (MergeResult) and send the notices only after that write succeeded.
// A grant event claims what its grant owes; the sweep, which loads the whole working set, claims everything due.
// remind is the reminder interval; 0 sends no reminders. An alert resolved before it was ever notified is not
// sent at all: there is nothing left to act on, and it stays on record.
func (k *Key) Claim(now time.Time, remind time.Duration) ([]Notice, Result) {
	var out []Notice
	r := Result{Outcome: Applied}
	ids := slices.Sorted(maps.Keys(k.Grants))
	for _, id := range ids {
		g := k.Grants[id]
		if g.Pending {
			continue
		}
		changed := false
		for i := range g.Alerts {
			if kind, ok := claim(&g.Alerts[i], now, remind); ok {
				changed = true
				out = append(out, Notice{Kind: kind, Alert: g.Alerts[i], At: now})
			}
		}
		if changed {
			k.Grants[id] = g
			r.touch(id)
			for i := range out {
				if out[i].Alert.GrantID == id {
					out[i].Grant = g.Clone()
				}
			}
		}
	}
	if !k.Loaded.hasUsage() {
		return out, r
	}
	for i := range k.Usage.Alerts {
		if kind, ok := claim(&k.Usage.Alerts[i], now, remind); ok {
			r.UsageChanged = true
			out = append(out, Notice{Kind: kind, Alert: k.Usage.Alerts[i], At: now})
		}
	}
	return out, r
}

// claim marks the notice due on a at now, if any.
func claim(a *Alert, now time.Time, remind time.Duration) (NoticeKind, bool) {
	switch {
	case !a.ResolvedAt.IsZero():
		if !a.NotifiedAt.IsZero() && a.ResolutionNotifiedAt.IsZero() {
			a.ResolutionNotifiedAt = now
			return NoticeResolved, true
		}
	case a.NotifiedAt.IsZero():
		a.NotifiedAt = now
		return NoticeAlert, true
	case remind > 0 && now.Sub(latest(a.NotifiedAt, a.RemindedAt)) >= remind:
		a.RemindedAt = now
		return NoticeReminder, true
	}
	return "", false
}

// Release gives back the claim of n when it could not be sent, so that the next claim sends it again. It reports
// false when the claim is no longer the one n made (another writer re-claimed it): then nothing changes.
func (k *Key) Release(n Notice) (Result, bool) {
	match := func(a *Alert) bool {
		if a.Type != n.Alert.Type || a.GrantID != n.Alert.GrantID {
			return false
		}
		f := claimField(a, n.Kind)
		if f == nil || !f.Equal(n.At) {
			return false
		}
		*f = time.Time{}
		return true
	}
	r := Result{Outcome: Applied}
	if n.Alert.GrantID == "" {
		if !k.Loaded.hasUsage() {
			return r, false
		}
		for i := range k.Usage.Alerts {
			if match(&k.Usage.Alerts[i]) {
				r.UsageChanged = true
				return r, true
			}
		}
		return r, false
	}
	g, ok := k.Grants[n.Alert.GrantID]
	if !ok {
		return r, false
	}
	for i := range g.Alerts {
		if match(&g.Alerts[i]) {
			k.Grants[g.ID] = g
			r.touch(g.ID)
			return r, true
		}
	}
	return r, false
}

func claimField(a *Alert, kind NoticeKind) *time.Time {
	switch kind {
	case NoticeAlert:
		return &a.NotifiedAt
	case NoticeReminder:
		return &a.RemindedAt
	case NoticeResolved:
		return &a.ResolutionNotifiedAt
	}
	return nil
}

// ReleaseLoad is what Release needs loaded for n.
func ReleaseLoad(n Notice) Load {
	if n.Alert.GrantID == "" {
		return Load{Scope: ScopeUsage}
	}
	return Load{Scope: ScopeGrants, Grants: []string{n.Alert.GrantID}}
}

// MergeResult adds what b changed to a, for one write that stores both.
func MergeResult(a, b Result) Result {
	for _, id := range b.Changed {
		a.touch(id)
	}
	for _, id := range b.Moved {
		if !slices.Contains(a.Moved, id) {
			a.Moved = append(a.Moved, id)
		}
	}
	a.UsageChanged = a.UsageChanged || b.UsageChanged
	a.MetaChanged = a.MetaChanged || b.MetaChanged
	if !b.Need.Zero() {
		a.Need = a.Need.Union(b.Need)
	}
	a.Alerts = append(a.Alerts, b.Alerts...)
	a.Resolved = append(a.Resolved, b.Resolved...)
	return a
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
