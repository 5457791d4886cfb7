package lifecycle_test

import (
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

const noticeKey = "arn:aws:kms:us-east-1:111122223333:key/notices"

var (
	n0         = time.Date(2024, 5, 31, 10, 0, 0, 0, time.UTC)
	bedrockSvc = lifecycle.Caller{Type: "AWSService", InvokedBy: "bedrock.amazonaws.com"}
)

// noticeKeyWith returns a key holding one Bedrock secondary created at n0 with the given operations.
func noticeKeyWith(t *testing.T, id string, ops ...string) lifecycle.Key {
	t.Helper()
	k := lifecycle.NewKey(noticeKey)
	ev := lifecycle.Event{ID: "c-" + id, Name: lifecycle.CreateGrant, Time: n0, KeyARN: noticeKey, GrantID: id, Caller: bedrockSvc,
		SourceIP: "bedrock.amazonaws.com", Grantee: "bedrock.amazonaws.com", RetiringPrincipal: "bedrock.amazonaws.com", Operations: ops}
	if _, err := k.Apply(ev, lifecycle.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	return k
}

func retire(t *testing.T, k *lifecycle.Key, id string, at time.Time) lifecycle.Result {
	t.Helper()
	r, err := k.Apply(lifecycle.Event{ID: "end-" + id, Name: lifecycle.RetireGrant, Time: at, KeyARN: noticeKey, GrantID: id, Caller: bedrockSvc},
		lifecycle.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestClaim walks one alert through its life: claimed and lost (never confirmed), held during its lease, sent again
// under the same id once the lease has passed, confirmed; reminded after the interval; resolved when the grant ends,
// the resolution notified once, and nothing after that.
func TestClaim(t *testing.T) {
	k := noticeKeyWith(t, "s", "Decrypt")
	k.Sweep(n0.Add(25*time.Hour), lifecycle.DefaultConfig()) // long-lived-secondary
	var firstID string
	steps := []struct {
		name   string
		at     time.Time
		end    bool
		remind time.Duration
		lost   bool // the sender dies: no confirmation
		want   lifecycle.NoticeKind
		resend bool
	}{
		{name: "first claim notifies", at: n0.Add(25 * time.Hour), want: lifecycle.NoticeAlert, lost: true},
		{name: "within the lease: its sender holds it", at: n0.Add(25*time.Hour + lifecycle.NoticeLease)},
		{name: "lease passed: sent again", at: n0.Add(25*time.Hour + lifecycle.NoticeLease + time.Second), want: lifecycle.NoticeAlert, resend: true},
		{name: "confirmed: nothing", at: n0.Add(26 * time.Hour)},
		{name: "no reminder without interval", at: n0.Add(60 * time.Hour)},
		{name: "reminder due", at: n0.Add(50 * time.Hour), remind: 24 * time.Hour, want: lifecycle.NoticeReminder},
		{name: "reminder not due again", at: n0.Add(51 * time.Hour), remind: 24 * time.Hour},
		{name: "resolution after the end", at: n0.Add(52 * time.Hour), end: true, remind: 24 * time.Hour, want: lifecycle.NoticeResolved},
		{name: "resolved: silence", at: n0.Add(100 * time.Hour), remind: 24 * time.Hour},
	}
	for _, st := range steps {
		if st.end {
			r := retire(t, &k, "s", st.at)
			if len(r.Resolved) != 1 || r.Resolved[0].Resolution != "retired after 52h0m0s" {
				t.Fatalf("%s: Apply(RetireGrant) resolved %+v; want one alert retired after 52h0m0s", st.name, r.Resolved)
			}
		}
		notices, r := k.Claim(st.at, st.remind)
		if (len(notices) > 0) != (len(r.Changed) > 0) {
			t.Errorf("%s: Claim() changed %v for %d notices; a claim must be written exactly when it sends", st.name, r.Changed, len(notices))
		}
		if st.want == "" {
			if len(notices) != 0 {
				t.Errorf("%s: Claim() = %+v; want nothing", st.name, notices)
			}
			continue
		}
		if len(notices) != 1 || notices[0].Kind != st.want || notices[0].Resend != st.resend {
			t.Fatalf("%s: Claim() = %+v; want one %s notice, resend %v", st.name, notices, st.want, st.resend)
		}
		n := notices[0]
		switch {
		case firstID == "":
			firstID = n.ID()
		case st.resend && n.ID() != firstID:
			t.Errorf("%s: resent notice id %s; want the first send's %s", st.name, n.ID(), firstID)
		case !st.resend && n.ID() == firstID:
			t.Errorf("%s: a new notice has the id %s of an earlier one", st.name, n.ID())
		}
		if st.lost {
			continue
		}
		if _, ok := k.Confirm(n); !ok {
			t.Errorf("%s: Confirm() = false; want the claim confirmed", st.name)
		}
	}
}

// TestRelease: a failed send gives the lease back, so the next claim sends again at once and under the same id; a
// release of a lease someone else has since taken does nothing.
func TestRelease(t *testing.T) {
	k := noticeKeyWith(t, "s", "Decrypt", "CreateGrant") // scope-escalation on creation
	notices, _ := k.Claim(n0, 0)
	if len(notices) != 1 {
		t.Fatalf("Claim() = %d notices; want 1", len(notices))
	}
	stale := notices[0]
	stale.At = n0.Add(time.Minute)
	if _, ok := k.Release(stale); ok {
		t.Error("Release() of another claim = true; want false")
	}
	if _, ok := k.Release(notices[0]); !ok {
		t.Fatal("Release() = false; want true")
	}
	again, _ := k.Claim(n0.Add(time.Second), 0) // well within the lease: the release made it due
	if len(again) != 1 || again[0].Kind != lifecycle.NoticeAlert || !again[0].Resend || again[0].ID() != notices[0].ID() {
		t.Fatalf("Claim() after Release = %+v; want the same alert notice again, as a resend", again)
	}
	if _, ok := k.Release(notices[0]); ok {
		t.Error("Release() of the first lease after a new claim = true; want false")
	}
}

// TestConfirm: a confirmation clears the claim whoever holds the lease now; one for a notice that is not outstanding
// (already confirmed, or another notice) changes nothing.
func TestConfirm(t *testing.T) {
	k := noticeKeyWith(t, "s", "Decrypt", "CreateGrant")
	first, _ := k.Claim(n0, 0)
	second, _ := k.Claim(n0.Add(lifecycle.NoticeLease+time.Minute), 0) // a second sender after the lease
	if len(first) != 1 || len(second) != 1 {
		t.Fatalf("claims = %d, %d; want 1 and 1", len(first), len(second))
	}
	r, ok := k.Confirm(first[0]) // the first sender's publish did succeed, late
	if !ok || len(r.Changed) != 1 || r.Changed[0] != "s" {
		t.Fatalf("Confirm() = %+v, %v; want grant s changed", r, ok)
	}
	if _, ok := k.Confirm(second[0]); ok {
		t.Error("Confirm() of a confirmed notice = true; want false")
	}
	other := first[0]
	other.Kind = lifecycle.NoticeResolved
	if _, ok := k.Confirm(other); ok {
		t.Error("Confirm() of a notice never claimed = true; want false")
	}
	if more, _ := k.Claim(n0.Add(time.Hour), 0); len(more) != 0 {
		t.Errorf("Claim() after Confirm = %+v; want nothing", more)
	}
}

// TestNoticeID: one id per notice, whatever the claim time; a different id for every other notice.
func TestNoticeID(t *testing.T) {
	a := lifecycle.Alert{Type: lifecycle.LongLivedSecondary, GrantID: "g1", KeyARN: noticeKey, NotifiedAt: n0, RemindedAt: n0.Add(24 * time.Hour)}
	base := lifecycle.Notice{Kind: lifecycle.NoticeAlert, Alert: a, At: n0}
	later := base
	later.At, later.Resend, later.Alert.LeasedAt = n0.Add(time.Hour), true, n0.Add(time.Hour)
	if base.ID() != later.ID() || len(base.ID()) != 16 {
		t.Fatalf("IDs %q and %q; want one 16-digit id for both sends of a notice", base.ID(), later.ID())
	}
	variants := map[string]lifecycle.Notice{"base": base}
	add := func(name string, change func(n *lifecycle.Notice)) {
		n := base
		change(&n)
		variants[name] = n
	}
	add("resolution", func(n *lifecycle.Notice) { n.Kind = lifecycle.NoticeResolved })
	add("reminder", func(n *lifecycle.Notice) { n.Kind = lifecycle.NoticeReminder })
	add("next reminder", func(n *lifecycle.Notice) {
		n.Kind, n.Alert.RemindedAt = lifecycle.NoticeReminder, n0.Add(48*time.Hour)
	})
	add("other type", func(n *lifecycle.Notice) { n.Alert.Type = lifecycle.ScopeEscalation })
	add("other grant", func(n *lifecycle.Notice) { n.Alert.GrantID = "g2" })
	add("key-level", func(n *lifecycle.Notice) { n.Alert.GrantID = "" })
	add("other key", func(n *lifecycle.Notice) { n.Alert.KeyARN += "2" })
	seen := map[string]string{}
	for name, n := range variants {
		if prev, dup := seen[n.ID()]; dup {
			t.Errorf("notices %s and %s share the id %s", prev, name, n.ID())
		}
		seen[n.ID()] = name
	}
}

// TestUnconfirmedNoticeStaysSwept: a grant with a claim not yet confirmed never leaves the working set, and usage
// with one stays due, so that the sweep (which reads only those) finds the notice again.
func TestUnconfirmedNoticeStaysSwept(t *testing.T) {
	k := noticeKeyWith(t, "s", "Decrypt", "CreateGrant")
	retire(t, &k, "s", n0.Add(time.Hour)) // resolved before it was ever notified: nothing is due
	if !k.Grants["s"].Archivable(n0.Add(48 * time.Hour)) {
		t.Fatal("an ended grant with nothing to notify is not archivable")
	}
	k = noticeKeyWith(t, "s", "Decrypt", "CreateGrant")
	notices, _ := k.Claim(n0, 0)
	retire(t, &k, "s", n0.Add(time.Hour))
	if k.Grants["s"].Archivable(n0.Add(48 * time.Hour)) {
		t.Error("a grant whose notice is claimed but unconfirmed is archivable; the sweep would never send it again")
	}
	k.Confirm(notices...)
	if k.Grants["s"].Archivable(n0.Add(48 * time.Hour)) {
		t.Error("a grant whose resolution is still due is archivable")
	}

	u := lifecycle.Usage{Alerts: []lifecycle.Alert{{Type: lifecycle.UseAfterRetire, KeyARN: noticeKey, NotifiedAt: n0}}}
	if u.Due() {
		t.Error("usage with a confirmed key-level notice is due")
	}
	u.Alerts[0].Unconfirmed, u.Alerts[0].LeasedAt = lifecycle.NoticeAlert, n0
	if !u.Due() {
		t.Error("usage with an unconfirmed key-level notice is not due; the sweep would not visit the key")
	}
}
