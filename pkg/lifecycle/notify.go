package lifecycle

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Alert delivery as data on the alert records: at least once, each notice with a stable identity.
//
// An alert is notified once, optionally reminded every Remind while unresolved, resolved when its grant ends, and
// the resolution is notified once if the alert itself was. Each notice is CLAIMED before it is sent and CONFIRMED
// after. Claim writes the notice's issue time and a lease onto the alert (Unconfirmed, LeasedAt), and the caller
// stores that with the same conditional (versioned) write as the rest of the key; only the writer whose write
// succeeds sends, and a writer that loses the race re-reads and finds the notice claimed. Once sent, Confirm clears
// the claim with a second small conditional write. A notice still unconfirmed when its lease has passed (the sender
// died or timed out between the two writes, or its send failed and Release gave the lease back) is claimed and sent
// again by the next Claim, under the same Notice.ID, until a confirmation lands. So a notice is never lost while its
// records survive, and is sent twice only when a send succeeded but its confirmation did not, or a sender stalled
// past the lease: subscribers drop repeats by id.
//
// An alert has at most one notice outstanding: the next one (a reminder, the resolution) is claimed only after the
// previous one is confirmed, so a subscriber gets them in order.

// NoticeLease is how long a claimed notice belongs to the writer that claimed it. It is longer than a send takes (an
// SNS publish with the SDK's retries: seconds) and shorter than the sweep interval (15 minutes), so the next
// scheduled sweep sends again what a crash left unconfirmed.
const NoticeLease = 10 * time.Minute

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
	Alert Alert     // as recorded, claim included
	Grant Grant     // the grant the alert is about, for the timeline; zero for key-level alerts
	At    time.Time // when this claim, and its lease, began
	// Resend says an earlier claim of this notice was not confirmed within its lease: it may have reached
	// subscribers already.
	Resend bool
}

// ID is the notice's stable identity: the same for every send of one notice, different for any other notice. It is
// 16 hex digits of a SHA-256 over key, grant, alert type and notice kind, and for a reminder its issue time (an alert
// has one alert notice, one resolution and any number of reminders).
func (n Notice) ID() string {
	h := sha256.New()
	fmt.Fprintf(h, "grantwatch notice\x00%s\x00%s\x00%s\x00%s", n.Alert.KeyARN, n.Alert.GrantID, n.Alert.Type, n.Kind)
	if n.Kind == NoticeReminder {
		fmt.Fprintf(h, "\x00%d", n.Alert.RemindedAt.UnixNano())
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
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
// the Result into the write that stores the key (MergeResult), send the notices only after that write succeeded,
// and Confirm each one sent. Due are: a notice whose earlier claim was not confirmed within NoticeLease (sent again,
// Resend set), else the alert's next notice. A grant event claims what its grant owes; the sweep, which loads the
// whole working set, claims everything due. remind is the reminder interval; 0 sends no reminders. An alert resolved
// before it was ever notified is not sent at all: there is nothing left to act on, and it stays on record.
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
			if kind, resend, ok := claim(&g.Alerts[i], now, remind); ok {
				changed = true
				out = append(out, Notice{Kind: kind, Alert: g.Alerts[i], At: now, Resend: resend})
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
		if kind, resend, ok := claim(&k.Usage.Alerts[i], now, remind); ok {
			r.UsageChanged = true
			out = append(out, Notice{Kind: kind, Alert: k.Usage.Alerts[i], At: now, Resend: resend})
		}
	}
	return out, r
}

// claim marks the notice due on a at now, if any, and reports whether it is one claimed before.
func claim(a *Alert, now time.Time, remind time.Duration) (kind NoticeKind, resend, ok bool) {
	if a.Unconfirmed != "" {
		if !a.LeasedAt.IsZero() && now.Sub(a.LeasedAt) <= NoticeLease {
			return "", false, false // its sender still holds the lease
		}
		a.LeasedAt = now
		return a.Unconfirmed, true, true
	}
	switch {
	case !a.ResolvedAt.IsZero():
		if a.NotifiedAt.IsZero() || !a.ResolutionNotifiedAt.IsZero() {
			return "", false, false
		}
		a.ResolutionNotifiedAt, kind = now, NoticeResolved
	case a.NotifiedAt.IsZero():
		a.NotifiedAt, kind = now, NoticeAlert
	case remind > 0 && now.Sub(later(a.NotifiedAt, a.RemindedAt)) >= remind:
		a.RemindedAt, kind = now, NoticeReminder
	default:
		return "", false, false
	}
	a.Unconfirmed, a.LeasedAt = kind, now
	return kind, false, true
}

// Confirm records the notices as sent, each on the record that holds its alert, and reports whether any of them was
// still unconfirmed. A notice counts as sent whoever sent it: one claimed again after its lease, by another writer,
// is confirmed too (its issue time, and so its id, is the same).
func (k *Key) Confirm(ns ...Notice) (Result, bool) {
	return k.eachClaim(ns, func(a *Alert, n Notice) bool {
		if a.Unconfirmed != n.Kind || !issued(a, n.Kind).Equal(issued(&n.Alert, n.Kind)) {
			return false
		}
		a.Unconfirmed, a.LeasedAt = "", time.Time{}
		return true
	})
}

// Release gives back the lease of n when it could not be sent, so that the next Claim sends it again (under the same
// id) without waiting for the lease to pass. It reports false when the lease is no longer the one n holds (another
// writer claimed the notice again, or it was confirmed): then nothing changes.
func (k *Key) Release(n Notice) (Result, bool) {
	return k.eachClaim([]Notice{n}, func(a *Alert, n Notice) bool {
		if a.Unconfirmed != n.Kind || !a.LeasedAt.Equal(n.At) {
			return false
		}
		a.LeasedAt = time.Time{}
		return true
	})
}

// eachClaim applies change to the alert of every notice in ns that k holds, and returns what changed.
func (k *Key) eachClaim(ns []Notice, change func(a *Alert, n Notice) bool) (Result, bool) {
	r := Result{Outcome: Applied}
	for _, n := range ns {
		if n.Alert.GrantID == "" {
			if !k.Loaded.hasUsage() {
				continue
			}
			for i := range k.Usage.Alerts {
				if k.Usage.Alerts[i].Type == n.Alert.Type && change(&k.Usage.Alerts[i], n) {
					r.UsageChanged = true
				}
			}
			continue
		}
		g, ok := k.Grants[n.Alert.GrantID]
		if !ok {
			continue
		}
		for i := range g.Alerts {
			if g.Alerts[i].Type == n.Alert.Type && change(&g.Alerts[i], n) {
				k.Grants[g.ID] = g
				r.touch(g.ID)
			}
		}
	}
	return r, len(r.Changed) > 0 || r.UsageChanged
}

// issued is when the notice of kind was first claimed on a: what makes it the notice it is.
func issued(a *Alert, kind NoticeKind) time.Time {
	switch kind {
	case NoticeAlert:
		return a.NotifiedAt
	case NoticeReminder:
		return a.RemindedAt
	case NoticeResolved:
		return a.ResolutionNotifiedAt
	}
	return time.Time{}
}

// NoticeLoad is what Confirm and Release need loaded for n: the record that holds its alert.
func NoticeLoad(n Notice) Load {
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
	a.PrimariesChanged = a.PrimariesChanged || b.PrimariesChanged
	if !b.Need.Zero() {
		a.Need = a.Need.Union(b.Need)
	}
	a.Alerts = append(a.Alerts, b.Alerts...)
	a.Resolved = append(a.Resolved, b.Resolved...)
	return a
}
