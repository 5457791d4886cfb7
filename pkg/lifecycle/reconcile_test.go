package lifecycle_test

import (
	"slices"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

const recKey = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

var recAt = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func recCreate(id string, at time.Time, retiring string) lifecycle.Event {
	return lifecycle.Event{ID: "ev-create-" + id, Name: lifecycle.CreateGrant, Time: at, KeyARN: recKey, GrantID: id,
		Caller:  lifecycle.Caller{Type: "AssumedRole", ARN: "arn:aws:sts::111122223333:assumed-role/r/s", InvokedBy: "bedrock.amazonaws.com"},
		Grantee: "bedrock.amazonaws.com", RetiringPrincipal: retiring, Operations: []string{"Decrypt", "CreateGrant"}}
}

func recEnd(id, name string, at time.Time, caller lifecycle.Caller) lifecycle.Event {
	return lifecycle.Event{ID: "ev-end-" + id, Name: name, Time: at, KeyARN: recKey, GrantID: id, Caller: caller}
}

var recBedrock = lifecycle.Caller{Type: "AWSService", InvokedBy: "bedrock.amazonaws.com"}

func listedBedrock(id string, ops ...string) lifecycle.ListedGrant {
	return lifecycle.ListedGrant{ID: id, Grantee: "bedrock.amazonaws.com", RetiringPrincipal: "bedrock.amazonaws.com", Operations: ops}
}

func TestReconcile(t *testing.T) {
	old := recAt.Add(-2 * time.Hour)
	tests := []struct {
		name       string
		events     []lifecycle.Event
		listed     []lifecycle.ListedGrant
		added      []string
		ended      []string
		grant      string // checked below
		wantState  lifecycle.State
		wantKind   lifecycle.Kind
		untracked  bool // grant carries an untracked-grant alert
		resolvedAt bool // every other alert of grant is resolved
	}{
		{name: "unknown Bedrock grant with CreateGrant is recorded as a primary", listed: []lifecycle.ListedGrant{listedBedrock("g1", "Decrypt", "CreateGrant")},
			added: []string{"g1"}, grant: "g1", wantState: lifecycle.Active, wantKind: lifecycle.Primary, untracked: true},
		{name: "unknown Bedrock grant without CreateGrant is other-bedrock", listed: []lifecycle.ListedGrant{listedBedrock("g1", "Decrypt")},
			added: []string{"g1"}, grant: "g1", wantState: lifecycle.Active, wantKind: lifecycle.OtherBedrock, untracked: true},
		{name: "unknown Data Automation grant", listed: []lifecycle.ListedGrant{{ID: "g1", Grantee: "bedrock.amazonaws.com", Operations: []string{"Decrypt"},
			ConstraintKeys: []string{lifecycle.DataAutomationContextKey}}}, added: []string{"g1"}, grant: "g1", wantState: lifecycle.Active, wantKind: lifecycle.DataAutomation, untracked: true},
		{name: "a grant that is not Bedrock's is left alone", listed: []lifecycle.ListedGrant{{ID: "g1", Grantee: "arn:aws:iam::111122223333:role/app"}}},
		{name: "known active grant listed: nothing to do", events: []lifecycle.Event{recCreate("g1", old, "bedrock.amazonaws.com")},
			listed: []lifecycle.ListedGrant{listedBedrock("g1")}, grant: "g1", wantState: lifecycle.Active, wantKind: lifecycle.Primary},
		{name: "active grant gone from KMS is ended, its alerts resolved", events: []lifecycle.Event{recCreate("g1", old, "")},
			ended: []string{"g1"}, grant: "g1", wantState: lifecycle.Unlisted, wantKind: lifecycle.Primary, resolvedAt: true},
		{name: "grant created within the grace is not ended", events: []lifecycle.Event{recCreate("g1", recAt.Add(-time.Minute), "bedrock.amazonaws.com")},
			grant: "g1", wantState: lifecycle.Active, wantKind: lifecycle.Primary},
		{name: "grant ended long ago but listed is recorded again", events: []lifecycle.Event{recCreate("g1", old, "bedrock.amazonaws.com"),
			recEnd("g1", lifecycle.RetireGrant, old.Add(time.Minute), recBedrock)},
			listed: []lifecycle.ListedGrant{listedBedrock("g1")}, added: []string{"g1"}, grant: "g1", wantState: lifecycle.Active, wantKind: lifecycle.Primary, untracked: true},
		{name: "grant ended moments ago but listed: KMS may lag", events: []lifecycle.Event{recCreate("g1", old, "bedrock.amazonaws.com"),
			recEnd("g1", lifecycle.RetireGrant, recAt.Add(-time.Minute), recBedrock)},
			listed: []lifecycle.ListedGrant{listedBedrock("g1")}, grant: "g1", wantState: lifecycle.Retired, wantKind: lifecycle.Primary},
		{name: "pending tombstone of a live Bedrock grant is recorded", events: []lifecycle.Event{recEnd("g1", lifecycle.RevokeGrant, old,
			lifecycle.Caller{Type: "IAMUser", ARN: "arn:aws:iam::111122223333:user/admin"})},
			listed: []lifecycle.ListedGrant{listedBedrock("g1")}, added: []string{"g1"}, grant: "g1", wantState: lifecycle.Active, wantKind: lifecycle.OtherBedrock, untracked: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := lifecycle.NewKey(recKey)
			cfg := lifecycle.DefaultConfig()
			for _, ev := range tt.events {
				if _, err := k.Apply(ev, cfg); err != nil {
					t.Fatal(err)
				}
			}
			_, rep := k.Reconcile(tt.listed, recAt, cfg)
			if !slices.Equal(rep.Added, tt.added) || !slices.Equal(rep.Ended, tt.ended) {
				t.Errorf("Reconcile: added %v, ended %v; want added %v, ended %v", rep.Added, rep.Ended, tt.added, tt.ended)
			}
			if tt.grant == "" {
				if len(k.Grants) != 0 {
					t.Errorf("grants = %v; want none recorded", k.Grants)
				}
				return
			}
			g := k.Grants[tt.grant]
			if g.State() != tt.wantState || g.Kind != tt.wantKind {
				t.Errorf("grant %s: state %s kind %s; want %s %s", tt.grant, g.State(), g.Kind, tt.wantState, tt.wantKind)
			}
			var untracked bool
			for _, a := range g.Alerts {
				if a.Type == lifecycle.UntrackedGrant {
					untracked = a.Severity == lifecycle.High && a.ResolvedAt.IsZero()
					continue
				}
				if tt.resolvedAt && a.ResolvedAt.IsZero() {
					t.Errorf("alert %s of grant %s not resolved; want resolved when the grant ended", a.Type, g.ID)
				}
			}
			if untracked != tt.untracked {
				t.Errorf("grant %s has an open high untracked-grant alert: %v; want %v", g.ID, untracked, tt.untracked)
			}
			if tt.resolvedAt && (len(g.Alerts) == 0 || g.EndedBy != lifecycle.Reconciled || !g.EndedAt.Equal(recAt)) {
				t.Errorf("grant %s: endedBy %q at %s with %d alerts; want Reconciled at %s with its alert resolved", g.ID, g.EndedBy, g.EndedAt, len(g.Alerts), recAt)
			}
		})
	}
}

// TestReconcileThenEvents: the events that were missing, arriving later (backfill), take over from what reconcile
// inferred: the CreateGrant sets the kind, a RetireGrant earlier than the reconcile sets the end.
func TestReconcileThenEvents(t *testing.T) {
	cfg := lifecycle.DefaultConfig()
	k := lifecycle.NewKey(recKey)
	created := recAt.Add(-3 * time.Hour)
	l := listedBedrock("g1", "Decrypt")
	l.CreatedAt = created.Add(400 * time.Millisecond)
	k.Reconcile([]lifecycle.ListedGrant{l}, recAt.Add(-2*time.Hour), cfg)
	k.Reconcile(nil, recAt, cfg) // gone from KMS: ended "reconciled"
	for _, ev := range []lifecycle.Event{
		{ID: "ev-c", Name: lifecycle.CreateGrant, Time: created, KeyARN: recKey, GrantID: "g1", Caller: recBedrock,
			Grantee: "bedrock.amazonaws.com", RetiringPrincipal: "bedrock.amazonaws.com", Operations: []string{"Decrypt"}},
		recEnd("g1", lifecycle.RetireGrant, recAt.Add(-time.Hour), recBedrock),
	} {
		if _, err := k.Apply(ev, cfg); err != nil {
			t.Fatal(err)
		}
	}
	g := k.Grants["g1"]
	if g.Kind != lifecycle.Secondary || g.CreateEventID != "ev-c" || g.State() != lifecycle.Retired || !g.EndedAt.Equal(recAt.Add(-time.Hour)) {
		t.Errorf("grant = kind %s (create %s), %s at %s; want secondary from ev-c, retired at %s", g.Kind, g.CreateEventID, g.State(), g.EndedAt, recAt.Add(-time.Hour))
	}
}
