package lifecycle_test

import (
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// TestClaim walks one alert through its life: notified once, reminded after the interval, resolved when the grant
// ends, the resolution notified once, and nothing after that.
func TestClaim(t *testing.T) {
	cfg := lifecycle.DefaultConfig()
	k := lifecycle.NewKey(jobKey)
	if _, err := k.Apply(grantEvent("s", j0, svc, "Decrypt"), cfg); err != nil {
		t.Fatal(err)
	}
	k.Sweep(j0.Add(25*time.Hour), cfg) // long-lived-secondary
	steps := []struct {
		name   string
		at     time.Time
		end    bool
		remind time.Duration
		want   []lifecycle.NoticeKind
	}{
		{name: "first claim notifies", at: j0.Add(25 * time.Hour), want: []lifecycle.NoticeKind{lifecycle.NoticeAlert}},
		{name: "claimed: nothing", at: j0.Add(25 * time.Hour)},
		{name: "no reminder without interval", at: j0.Add(60 * time.Hour)},
		{name: "reminder due", at: j0.Add(50 * time.Hour), remind: 24 * time.Hour, want: []lifecycle.NoticeKind{lifecycle.NoticeReminder}},
		{name: "reminder not due again", at: j0.Add(51 * time.Hour), remind: 24 * time.Hour},
		{name: "resolution after the end", at: j0.Add(52 * time.Hour), end: true, remind: 24 * time.Hour, want: []lifecycle.NoticeKind{lifecycle.NoticeResolved}},
		{name: "resolved: silence", at: j0.Add(100 * time.Hour), remind: 24 * time.Hour},
	}
	for _, st := range steps {
		if st.end {
			r, err := k.Apply(lifecycle.Event{ID: "end", Name: lifecycle.RetireGrant, Time: st.at, KeyARN: jobKey, GrantID: "s", Caller: svc}, cfg)
			if err != nil || len(r.Resolved) != 1 || r.Resolved[0].Resolution != "retired after 52h0m0s" {
				t.Fatalf("%s: Apply(RetireGrant) resolved %+v, err %v; want one alert retired after 52h0m0s", st.name, r.Resolved, err)
			}
		}
		notices, r := k.Claim(st.at, st.remind)
		var got []lifecycle.NoticeKind
		for _, n := range notices {
			got = append(got, n.Kind)
		}
		if len(got) != len(st.want) || (len(got) == 1 && got[0] != st.want[0]) {
			t.Errorf("%s: Claim() = %v; want %v", st.name, got, st.want)
		}
		if (len(notices) > 0) != (len(r.Changed) > 0) {
			t.Errorf("%s: Claim() changed %v for %d notices; a claim must be written exactly when it sends", st.name, r.Changed, len(notices))
		}
	}
}

// TestRelease: a failed send gives the claim back, so the next claim sends again; a stale release does nothing.
func TestRelease(t *testing.T) {
	cfg := lifecycle.DefaultConfig()
	k := lifecycle.NewKey(jobKey)
	if _, err := k.Apply(grantEvent("s", j0, svc, "Decrypt", "CreateGrant"), cfg); err != nil { // scope-escalation
		t.Fatal(err)
	}
	notices, _ := k.Claim(j0, 0)
	if len(notices) != 1 {
		t.Fatalf("Claim() = %d notices; want 1", len(notices))
	}
	stale := notices[0]
	stale.At = j0.Add(time.Minute)
	if _, ok := k.Release(stale); ok {
		t.Error("Release() of another claim = true; want false")
	}
	if _, ok := k.Release(notices[0]); !ok {
		t.Fatal("Release() = false; want true")
	}
	if again, _ := k.Claim(j0.Add(time.Hour), 0); len(again) != 1 || again[0].Kind != lifecycle.NoticeAlert {
		t.Errorf("Claim() after Release = %+v; want the alert again", again)
	}
}
