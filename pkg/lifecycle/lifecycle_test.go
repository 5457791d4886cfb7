package lifecycle_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

const keyARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-123456SAMPLE"

var t0 = time.Date(2024, 5, 7, 21, 49, 44, 0, time.UTC)

var (
	customerViaBedrock = lifecycle.Caller{Type: "AssumedRole", ARN: "arn:aws:sts::111122223333:assumed-role/RoleForModelCopy/s", InvokedBy: "bedrock.amazonaws.com"}
	bedrockService     = lifecycle.Caller{Type: "AWSService", InvokedBy: "bedrock.amazonaws.com"}
	alice              = lifecycle.Caller{Type: "IAMUser", ARN: "arn:aws:iam::111122223333:user/Alice"}
	allFour            = []string{"Decrypt", "CreateGrant", "GenerateDataKey", "DescribeKey"}
	narrow             = []string{"Decrypt", "GenerateDataKey", "DescribeKey"}
	daInvoke           = narrow // an InvokeDataAutomationAsync grant; BDA's library grant has allFour
)

// daGrant makes ev a Bedrock Data Automation CreateGrant.
func daGrant(ev lifecycle.Event) lifecycle.Event {
	ev.ConstraintKeys = []string{lifecycle.DataAutomationContextKey}
	return ev
}

// create builds a CreateGrant event; bedrock callers call through Bedrock, as in the AWS samples.
func create(id, grant string, at time.Time, caller lifecycle.Caller, ops []string) lifecycle.Event {
	ev := lifecycle.Event{ID: id, Name: lifecycle.CreateGrant, Time: at, KeyARN: keyARN, GrantID: grant, Caller: caller,
		Grantee: "bedrock.amazonaws.com", RetiringPrincipal: "bedrock.amazonaws.com", Operations: ops}
	if caller.InvokedBy != "" {
		ev.SourceIP, ev.UserAgent = caller.InvokedBy, caller.InvokedBy
	} else {
		ev.SourceIP, ev.UserAgent = "192.0.2.0", "AWS Internal"
	}
	return ev
}

func end(id, name, grant string, at time.Time, caller lifecycle.Caller) lifecycle.Event {
	ev := lifecycle.Event{ID: id, Name: name, Time: at, KeyARN: keyARN, GrantID: grant, Caller: caller, SourceIP: "192.0.2.0"}
	if caller.InvokedBy != "" {
		ev.SourceIP, ev.UserAgent = caller.InvokedBy, caller.InvokedBy
	}
	return ev
}

func use(id, name string, at time.Time, caller lifecycle.Caller) lifecycle.Event {
	ev := lifecycle.Event{ID: id, Name: name, Time: at, KeyARN: keyARN, Caller: caller}
	if caller.InvokedBy != "" {
		ev.SourceIP, ev.UserAgent = caller.InvokedBy, caller.InvokedBy
	}
	return ev
}

func apply(t *testing.T, k *lifecycle.Key, evs ...lifecycle.Event) []lifecycle.Result {
	t.Helper()
	var out []lifecycle.Result
	for _, ev := range evs {
		r, err := k.Apply(ev, lifecycle.DefaultConfig())
		if err != nil {
			t.Fatalf("Apply(%s %s) error = %v", ev.Name, ev.ID, err)
		}
		out = append(out, r)
	}
	return out
}

func alertTypes(k lifecycle.Key) []string {
	var out []string
	for _, g := range k.Reported() {
		for _, a := range g.Alerts {
			out = append(out, g.ID+":"+string(a.Type))
		}
	}
	for _, a := range k.Usage.Alerts {
		out = append(out, "key:"+string(a.Type))
	}
	slices.Sort(out)
	return out
}

func TestIsBedrock(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"bedrock.amazonaws.com", true},
		{"bedrock.us-east-1.amazonaws.com", true},
		{"bedrock.eu-central-2.amazonaws.com", true},
		{"bedrock.evil.com", false},
		{"bedrock..amazonaws.com", false},
		{"bedrock.US-EAST-1.amazonaws.com", false},
		{"notbedrock.amazonaws.com", false},
		{"{{service-name}}.amazonaws.com", false},
		{"", false},
		{"AWS Internal", false},
	}
	for _, tt := range tests {
		if got := lifecycle.IsBedrock(tt.in); got != tt.want {
			t.Errorf("IsBedrock(%q) = %v; want %v", tt.in, got, tt.want)
		}
	}
}

func TestClassify(t *testing.T) {
	da := create("e", "g", t0, customerViaBedrock, allFour)
	da.ConstraintKeys = []string{lifecycle.DataAutomationContextKey}
	direct := create("e", "g", t0, alice, allFour) // names Bedrock as grantee, not made through Bedrock
	tests := []struct {
		name string
		ev   lifecycle.Event
		want lifecycle.Kind
	}{
		{"data automation wins over everything", da, lifecycle.DataAutomation},
		{"bedrock service is secondary", create("e", "g", t0, bedrockService, narrow), lifecycle.Secondary},
		{"customer through bedrock with CreateGrant is primary", create("e", "g", t0, customerViaBedrock, allFour), lifecycle.Primary},
		{"customer through bedrock without CreateGrant is knowledge base", create("e", "g", t0, customerViaBedrock, []string{"Decrypt", "GenerateDataKey"}), lifecycle.KnowledgeBase},
		{"customer naming bedrock directly is other", direct, lifecycle.OtherBedrock},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := lifecycle.Classify(tt.ev)
			if got != tt.want || why == "" {
				t.Fatalf("Classify() = %q, %q; want %q with a reason", got, why, tt.want)
			}
		})
	}
}

func TestApplyTransitions(t *testing.T) {
	tests := []struct {
		name      string
		events    []lifecycle.Event
		grant     string
		wantState lifecycle.State
		wantEnded string
		outcomes  []lifecycle.Outcome
		reported  bool
	}{
		{name: "create", grant: "p", wantState: lifecycle.Active, reported: true,
			events:   []lifecycle.Event{create("e1", "p", t0, customerViaBedrock, allFour)},
			outcomes: []lifecycle.Outcome{lifecycle.Applied}},
		{name: "create then retire", grant: "p", wantState: lifecycle.Retired, wantEnded: lifecycle.RetireGrant, reported: true,
			events:   []lifecycle.Event{create("e1", "p", t0, customerViaBedrock, allFour), end("e2", lifecycle.RetireGrant, "p", t0.Add(time.Hour), bedrockService)},
			outcomes: []lifecycle.Outcome{lifecycle.Applied, lifecycle.Applied}},
		{name: "retire by bedrock before create", grant: "s", wantState: lifecycle.Retired, wantEnded: lifecycle.RetireGrant, reported: true,
			events:   []lifecycle.Event{end("e2", lifecycle.RetireGrant, "s", t0.Add(time.Hour), bedrockService), create("e1", "s", t0, bedrockService, narrow)},
			outcomes: []lifecycle.Outcome{lifecycle.Applied, lifecycle.Applied}},
		{name: "revoke by customer before create is a hidden tombstone, then ends the grant", grant: "p", wantState: lifecycle.Revoked, wantEnded: lifecycle.RevokeGrant, reported: true,
			events:   []lifecycle.Event{end("e2", lifecycle.RevokeGrant, "p", t0.Add(time.Hour), alice), create("e1", "p", t0, customerViaBedrock, allFour)},
			outcomes: []lifecycle.Outcome{lifecycle.Ignored, lifecycle.Applied}},
		{name: "revoke by customer of unknown grant stays hidden", grant: "x", wantState: lifecycle.Revoked, wantEnded: lifecycle.RevokeGrant, reported: false,
			events:   []lifecycle.Event{end("e2", lifecycle.RevokeGrant, "x", t0, alice)},
			outcomes: []lifecycle.Outcome{lifecycle.Ignored}},
		{name: "duplicate create", grant: "p", wantState: lifecycle.Active, reported: true,
			events:   []lifecycle.Event{create("e1", "p", t0, customerViaBedrock, allFour), create("e1", "p", t0, customerViaBedrock, allFour)},
			outcomes: []lifecycle.Outcome{lifecycle.Applied, lifecycle.Duplicate}},
		{name: "duplicate end", grant: "p", wantState: lifecycle.Retired, wantEnded: lifecycle.RetireGrant, reported: true,
			events: []lifecycle.Event{create("e1", "p", t0, customerViaBedrock, allFour), end("e2", lifecycle.RetireGrant, "p", t0.Add(time.Hour), bedrockService),
				end("e2", lifecycle.RetireGrant, "p", t0.Add(time.Hour), bedrockService)},
			outcomes: []lifecycle.Outcome{lifecycle.Applied, lifecycle.Applied, lifecycle.Duplicate}},
		{name: "earliest end wins whatever the order", grant: "p", wantState: lifecycle.Revoked, wantEnded: lifecycle.RevokeGrant, reported: true,
			events: []lifecycle.Event{create("e1", "p", t0, customerViaBedrock, allFour), end("e3", lifecycle.RetireGrant, "p", t0.Add(2*time.Hour), bedrockService),
				end("e2", lifecycle.RevokeGrant, "p", t0.Add(time.Hour), alice)},
			outcomes: []lifecycle.Outcome{lifecycle.Applied, lifecycle.Applied, lifecycle.Applied}},
		{name: "create after end does not resurrect", grant: "p", wantState: lifecycle.Retired, wantEnded: lifecycle.RetireGrant, reported: true,
			events: []lifecycle.Event{create("e1", "p", t0, customerViaBedrock, allFour), end("e2", lifecycle.RetireGrant, "p", t0.Add(time.Hour), bedrockService),
				create("e3", "p", t0.Add(2*time.Hour), customerViaBedrock, allFour)},
			outcomes: []lifecycle.Outcome{lifecycle.Applied, lifecycle.Applied, lifecycle.Applied}},
		{name: "non-bedrock create is ignored", grant: "o", reported: false,
			events:   []lifecycle.Event{{ID: "e1", Name: lifecycle.CreateGrant, Time: t0, KeyARN: keyARN, GrantID: "o", Caller: alice, Grantee: "arn:aws:iam::111122223333:role/App"}},
			outcomes: []lifecycle.Outcome{lifecycle.Ignored}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := lifecycle.NewKey(keyARN)
			rs := apply(t, &k, tt.events...)
			for i, r := range rs {
				if r.Outcome != tt.outcomes[i] {
					t.Errorf("event %d (%s) outcome = %s (%s); want %s", i, tt.events[i].ID, r.Outcome, r.Reason, tt.outcomes[i])
				}
			}
			g, ok := k.Grants[tt.grant]
			if !tt.reported {
				if ok && g.Reported() {
					t.Fatalf("grant %s is reported; want it hidden", tt.grant)
				}
				if tt.wantEnded == "" {
					return
				}
			}
			if !ok {
				t.Fatalf("grant %s not stored", tt.grant)
			}
			if g.State() != tt.wantState || g.EndedBy != tt.wantEnded {
				t.Fatalf("grant %s state = %s ended by %q; want %s ended by %q", tt.grant, g.State(), g.EndedBy, tt.wantState, tt.wantEnded)
			}
		})
	}
}

func TestCreatedAtComesFromTheEarliestCreate(t *testing.T) {
	k := lifecycle.NewKey(keyARN)
	apply(t, &k, create("e2", "p", t0.Add(time.Hour), customerViaBedrock, allFour), create("e1", "p", t0, customerViaBedrock, allFour))
	if g := k.Grants["p"]; !g.CreatedAt.Equal(t0) || g.CreateEventID != "e1" || len(g.History) != 2 {
		t.Fatalf("grant = created %s by %s with %d history entries; want %s by e1 with 2", g.CreatedAt, g.CreateEventID, len(g.History), t0)
	}
}

func TestParentIsMostRecentActivePrimary(t *testing.T) {
	k := lifecycle.NewKey(keyARN)
	apply(t, &k,
		create("c1", "p1", t0, customerViaBedrock, allFour),
		create("c2", "p2", t0.Add(time.Hour), customerViaBedrock, allFour),
		end("r2", lifecycle.RetireGrant, "p2", t0.Add(2*time.Hour), bedrockService),
		create("c3", "s-during-p2", t0.Add(90*time.Minute), bedrockService, narrow),
		create("c4", "s-after-p2", t0.Add(3*time.Hour), bedrockService, narrow),
		create("c5", "s-before-all", t0.Add(-time.Hour), bedrockService, narrow),
	)
	for grant, want := range map[string]string{"s-during-p2": "p2", "s-after-p2": "p1", "s-before-all": ""} {
		if got := k.Grants[grant].ParentID; got != want {
			t.Errorf("parent of %s = %q; want %q", grant, got, want)
		}
	}
}

func TestAlertRules(t *testing.T) {
	cfg := lifecycle.DefaultConfig()
	tests := []struct {
		name   string
		events []lifecycle.Event
		at     time.Time
		want   []string
	}{
		{name: "secondary older than max age",
			events: []lifecycle.Event{create("c1", "p", t0, customerViaBedrock, allFour), create("c2", "s", t0, bedrockService, narrow)},
			at:     t0.Add(24*time.Hour + time.Second), want: []string{"s:long-lived-secondary"}},
		{name: "secondary exactly at max age is fine (strict)",
			events: []lifecycle.Event{create("c1", "p", t0, customerViaBedrock, allFour), create("c2", "s", t0, bedrockService, narrow)},
			at:     t0.Add(24 * time.Hour)},
		{name: "retired secondary never long-lived",
			events: []lifecycle.Event{create("c1", "p", t0, customerViaBedrock, allFour), create("c2", "s", t0, bedrockService, narrow),
				end("r", lifecycle.RetireGrant, "s", t0.Add(30*time.Hour), bedrockService)},
			at: t0.Add(48 * time.Hour)},
		{name: "data automation invocation grant after 31h", events: []lifecycle.Event{daGrant(create("c1", "d", t0, customerViaBedrock, daInvoke))},
			at: t0.Add(31*time.Hour + time.Minute), want: []string{"d:long-lived-secondary"}},
		{name: "data automation invocation grant at 31h is fine", events: []lifecycle.Event{daGrant(create("c1", "d", t0, customerViaBedrock, daInvoke))},
			at: t0.Add(31 * time.Hour)},
		{name: "data automation library grant (CreateGrant) lives on by design", events: []lifecycle.Event{daGrant(create("c1", "d", t0, customerViaBedrock, allFour))},
			at: t0.Add(48 * time.Hour)},
		{name: "orphaned secondary after parent revoked",
			events: []lifecycle.Event{create("c1", "p", t0, customerViaBedrock, allFour), create("c2", "s", t0.Add(time.Minute), bedrockService, narrow),
				end("v", lifecycle.RevokeGrant, "p", t0.Add(time.Hour), alice)},
			at: t0.Add(time.Hour + 5*time.Minute + time.Second), want: []string{"s:orphaned-secondary"}},
		{name: "orphan grace is strict",
			events: []lifecycle.Event{create("c1", "p", t0, customerViaBedrock, allFour), create("c2", "s", t0.Add(time.Minute), bedrockService, narrow),
				end("v", lifecycle.RevokeGrant, "p", t0.Add(time.Hour), alice)},
			at: t0.Add(time.Hour + 5*time.Minute)},
		{name: "secondary with CreateGrant escalates",
			events: []lifecycle.Event{create("c2", "s", t0, bedrockService, allFour)},
			at:     t0, want: []string{"s:scope-escalation"}},
		{name: "secondary wider than parent escalates",
			events: []lifecycle.Event{create("c1", "p", t0, customerViaBedrock, allFour), create("c2", "s", t0.Add(time.Minute), bedrockService, []string{"Decrypt", "Encrypt"})},
			at:     t0.Add(time.Minute), want: []string{"s:scope-escalation"}},
		{name: "wider secondary without known parent does not escalate",
			events: []lifecycle.Event{create("c2", "s", t0, bedrockService, []string{"Decrypt", "Encrypt"})},
			at:     t0},
		{name: "unexpected grantee", events: []lifecycle.Event{func() lifecycle.Event {
			ev := create("c1", "p", t0, customerViaBedrock, allFour)
			ev.Grantee = "arn:aws:iam::111122223333:role/Exfil"
			return ev
		}()}, at: t0, want: []string{"p:unexpected-grantee"}},
		{name: "missing retiring principal", events: []lifecycle.Event{func() lifecycle.Event {
			ev := create("c1", "p", t0, customerViaBedrock, allFour)
			ev.RetiringPrincipal = ""
			return ev
		}()}, at: t0, want: []string{"p:missing-retiring-principal"}},
		{name: "use after retire by the bedrock service",
			events: []lifecycle.Event{create("c1", "p", t0, customerViaBedrock, allFour), end("r", lifecycle.RetireGrant, "p", t0.Add(time.Hour), bedrockService),
				use("u", lifecycle.Decrypt, t0.Add(time.Hour+6*time.Minute), bedrockService)},
			at: t0.Add(2 * time.Hour), want: []string{"key:use-after-retire"}},
		{name: "use within grace is fine",
			events: []lifecycle.Event{create("c1", "p", t0, customerViaBedrock, allFour), end("r", lifecycle.RetireGrant, "p", t0.Add(time.Hour), bedrockService),
				use("u", lifecycle.Decrypt, t0.Add(time.Hour+5*time.Minute), bedrockService)},
			at: t0.Add(2 * time.Hour)},
		{name: "customer role through bedrock never raises use after retire",
			events: []lifecycle.Event{create("c1", "p", t0, customerViaBedrock, allFour), end("r", lifecycle.RetireGrant, "p", t0.Add(time.Hour), bedrockService),
				use("u", lifecycle.Decrypt, t0.Add(3*time.Hour), customerViaBedrock)},
			at: t0.Add(4 * time.Hour)},
		{name: "use on a key without recorded grants is fine",
			events: []lifecycle.Event{use("u", lifecycle.Decrypt, t0, bedrockService)}, at: t0},
		{name: "use while another grant is active is fine",
			events: []lifecycle.Event{create("c1", "p", t0, customerViaBedrock, allFour), end("r", lifecycle.RetireGrant, "p", t0.Add(time.Hour), bedrockService),
				create("c2", "p2", t0.Add(2*time.Hour), customerViaBedrock, allFour), use("u", lifecycle.Decrypt, t0.Add(3*time.Hour), bedrockService)},
			at: t0.Add(4 * time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := lifecycle.NewKey(keyARN)
			apply(t, &k, tt.events...)
			k.Sweep(tt.at, cfg)
			if got := alertTypes(k); !slices.Equal(got, tt.want) {
				t.Fatalf("alerts = %v; want %v", got, tt.want)
			}
		})
	}
}

func TestAlertsAreRaisedOnce(t *testing.T) {
	k := lifecycle.NewKey(keyARN)
	apply(t, &k, create("c2", "s", t0, bedrockService, allFour))
	first := k.Sweep(t0.Add(25*time.Hour), lifecycle.DefaultConfig())
	second := k.Sweep(t0.Add(26*time.Hour), lifecycle.DefaultConfig())
	if len(first.Alerts) != 1 || len(second.Alerts) != 0 {
		t.Fatalf("first sweep raised %d, second %d; want 1 (long-lived; escalation was raised on ingest) then 0", len(first.Alerts), len(second.Alerts))
	}
}

// TestOrderIndependence replays a lifecycle with every event delivered twice in many random orders and checks
// that grants, parents and alerts always end the same.
func TestOrderIndependence(t *testing.T) {
	events := []lifecycle.Event{
		create("c1", "p1", t0, customerViaBedrock, allFour),
		create("c2", "p2", t0.Add(time.Hour), customerViaBedrock, allFour),
		create("c3", "s1", t0.Add(90*time.Minute), bedrockService, narrow),
		create("c4", "s2", t0.Add(2*time.Hour), bedrockService, []string{"Decrypt", "Encrypt"}),
		create("c5", "s3", t0.Add(3*time.Hour), bedrockService, narrow),
		end("r1", lifecycle.RetireGrant, "s1", t0.Add(100*time.Minute), bedrockService),
		end("v1", lifecycle.RevokeGrant, "p2", t0.Add(150*time.Minute), alice),
		end("r2", lifecycle.RetireGrant, "p2", t0.Add(160*time.Minute), bedrockService),
		end("v2", lifecycle.RevokeGrant, "p1", t0.Add(4*time.Hour), alice),
		use("u1", lifecycle.Decrypt, t0.Add(95*time.Minute), bedrockService),
		use("u2", lifecycle.GenerateDataKey, t0.Add(5*time.Hour), bedrockService),
	}
	at := t0.Add(6 * time.Hour)
	summarize := func(k lifecycle.Key) string {
		var s string
		for _, g := range k.Reported() {
			s += fmt.Sprintf("%s %s %s parent=%s created=%s ended=%s; ", g.ID, g.Kind, g.State(), g.ParentID, g.CreatedAt.Format(time.RFC3339), g.EndedAt.Format(time.RFC3339))
		}
		return s + fmt.Sprint(alertTypes(k))
	}
	want := func() string {
		k := lifecycle.NewKey(keyARN)
		apply(t, &k, events...)
		k.Sweep(at, lifecycle.DefaultConfig())
		return summarize(k)
	}()
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 7))
		doubled := append(slices.Clone(events), events...)
		rng.Shuffle(len(doubled), func(i, j int) { doubled[i], doubled[j] = doubled[j], doubled[i] })
		k := lifecycle.NewKey(keyARN)
		apply(t, &k, doubled...)
		k.Sweep(at, lifecycle.DefaultConfig())
		if got := summarize(k); got != want {
			t.Fatalf("seed %d: got\n%s\nwant\n%s", seed, got, want)
		}
	}
}

func TestApplyRejectsOtherKey(t *testing.T) {
	k := lifecycle.NewKey("arn:aws:kms:us-east-1:111122223333:key/other")
	if _, err := k.Apply(create("c1", "p", t0, customerViaBedrock, allFour), lifecycle.DefaultConfig()); err == nil {
		t.Fatal("Apply() of an event for another key succeeded; want an error")
	}
}

func TestUsageIsBounded(t *testing.T) {
	k := lifecycle.NewKey(keyARN)
	for i := range 1000 {
		apply(t, &k, use(fmt.Sprintf("u%d", i), lifecycle.Decrypt, t0.Add(time.Duration(i)*time.Second), customerViaBedrock))
	}
	r := apply(t, &k, use("u999", lifecycle.Decrypt, t0, customerViaBedrock))
	if r[0].Outcome != lifecycle.Duplicate {
		t.Errorf("recent duplicate outcome = %s; want duplicate", r[0].Outcome)
	}
	if n := len(k.Usage.RecentEventIDs); n != lifecycle.RecentUseIDs {
		t.Errorf("remembered %d use ids; want %d", n, lifecycle.RecentUseIDs)
	}
	if got := k.Usage.Calls["Decrypt"]; got != 1000 {
		t.Errorf("Decrypt count = %d; want 1000", got)
	}
	if !k.Usage.LastUsedAt.Equal(t0.Add(999 * time.Second)) {
		t.Errorf("last used = %s; want %s", k.Usage.LastUsedAt, t0.Add(999*time.Second))
	}
}

func TestConfigValidate(t *testing.T) {
	if err := lifecycle.DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
	c := lifecycle.DefaultConfig()
	c.SecondaryMaxAge, c.JobGrace = 0, -time.Hour
	err := c.Validate()
	var ce *lifecycle.ConfigError
	if !errors.Is(err, lifecycle.ErrInvalidConfig) || !errors.As(err, &ce) || len(ce.Bad) != 2 || ce.Bad[0].Name != "job grace" ||
		ce.Bad[1] != (lifecycle.Threshold{Name: "secondary max age", Value: 0}) {
		t.Fatalf("Validate() with a zero max age and a negative grace = %v; want a ConfigError naming both, sorted", err)
	}
}

func TestUseAfterRetireWaitsForTheSettleWindow(t *testing.T) {
	cfg := lifecycle.DefaultConfig()
	k := lifecycle.NewKey(keyARN)
	useAt := t0.Add(2 * time.Hour)
	apply(t, &k, create("c1", "p", t0, customerViaBedrock, allFour), end("r", lifecycle.RetireGrant, "p", t0.Add(time.Hour), bedrockService),
		use("u", lifecycle.Decrypt, useAt, bedrockService))
	if r := k.Sweep(useAt.Add(cfg.UseSettle), cfg); len(r.Alerts) != 0 || !k.Usage.Unchecked() {
		t.Fatalf("sweep inside the settle window raised %d alerts, unchecked=%v; want none, still unchecked", len(r.Alerts), k.Usage.Unchecked())
	}
	r := k.Sweep(useAt.Add(cfg.UseSettle+time.Second), cfg)
	if len(r.Alerts) != 1 || r.Alerts[0].Type != lifecycle.UseAfterRetire || r.Alerts[0].GrantID != "" || k.Usage.Unchecked() {
		t.Fatalf("sweep after the settle window = %+v, unchecked=%v; want one key-level use-after-retire, checked", r.Alerts, k.Usage.Unchecked())
	}
}

// TestEveryServiceCallIsChecked: a qualifying call between two that do not qualify still raises use-after-retire.
func TestEveryServiceCallIsChecked(t *testing.T) {
	k := lifecycle.NewKey(keyARN)
	apply(t, &k,
		create("c1", "g1", t0, customerViaBedrock, allFour), end("r1", lifecycle.RetireGrant, "g1", t0.Add(time.Hour), bedrockService),
		create("c2", "g2", t0.Add(3*time.Hour), customerViaBedrock, allFour),
		use("u1", lifecycle.Decrypt, t0.Add(30*time.Minute), bedrockService), // g1 active
		use("u2", lifecycle.Decrypt, t0.Add(2*time.Hour), bedrockService),    // all ended an hour ago
		use("u3", lifecycle.Decrypt, t0.Add(4*time.Hour), bedrockService))    // g2 active
	if got := len(k.Usage.UncheckedUses); got != 3 {
		t.Fatalf("kept %d unchecked calls; want 3", got)
	}
	k.Sweep(t0.Add(5*time.Hour), lifecycle.DefaultConfig())
	if got := alertTypes(k); !slices.Equal(got, []string{"key:use-after-retire"}) || k.Usage.Unchecked() {
		t.Fatalf("alerts = %v, unchecked = %v; want [key:use-after-retire], all checked", got, k.Usage.Unchecked())
	}
}

func TestUncheckedUsesAreBounded(t *testing.T) {
	k := lifecycle.NewKey(keyARN)
	for i := range 500 {
		apply(t, &k, use(fmt.Sprintf("u%d", i), lifecycle.Decrypt, t0.Add(time.Duration(i)*20*time.Second), bedrockService))
	}
	u := k.Usage.UncheckedUses
	latest := t0.Add(499 * 20 * time.Second)
	if len(u) != lifecycle.MaxUncheckedUses || latest.Sub(u[len(u)-1]) >= time.Minute || !u[0].Equal(t0) {
		t.Fatalf("kept %d calls from %s to %s; want %d, from the first to within a minute of %s", len(u), u[0], u[len(u)-1], lifecycle.MaxUncheckedUses, latest)
	}
}

// TestDataAutomationKindReason: the kind reason tells BDA's two grants apart, from events and from ListGrants alike:
// the invocation grant is retired after 30 hours, the library grant (with CreateGrant) is long-lived by design.
func TestDataAutomationKindReason(t *testing.T) {
	for _, tt := range []struct {
		name string
		ops  []string
		want string
	}{
		{"invocation grant", daInvoke, "InvokeDataAutomationAsync grant, which Bedrock Data Automation retires after 30 hours"},
		{"library grant", allFour, "library or project grant, which lives until its library is deleted and is not alerted for age"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k := lifecycle.NewKey(keyARN)
			if _, err := k.Apply(daGrant(create("c1", "d", t0, customerViaBedrock, tt.ops)), lifecycle.DefaultConfig()); err != nil {
				t.Fatal(err)
			}
			if why := k.Grants["d"].KindReason(); !strings.Contains(why, tt.want) || !strings.Contains(why, lifecycle.DataAutomationContextKey) {
				t.Errorf("KindReason() = %q; want it to name %s and say %q", why, lifecycle.DataAutomationContextKey, tt.want)
			}
			kind, why := lifecycle.ClassifyListed(lifecycle.ListedGrant{Operations: tt.ops, ConstraintKeys: []string{lifecycle.DataAutomationContextKey}})
			if kind != lifecycle.DataAutomation || !strings.Contains(why, tt.want) {
				t.Errorf("ClassifyListed() = %s, %q; want data-automation saying %q", kind, why, tt.want)
			}
		})
	}
}
