package app_test

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/internal/fixture"
	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// history is a key's life over weeks: two primaries one after the other, secondaries made from each (one scoped too
// wide, one outliving its primary), Bedrock service use while grants were live and after all had ended, and ends by
// retire and revoke, some by a customer (a tombstone first).
func history(key string) []lifecycle.Event {
	d := 24 * time.Hour
	svc := lifecycle.Caller{Type: "AWSService", InvokedBy: "bedrock.amazonaws.com"}
	role := lifecycle.Caller{Type: "AssumedRole", ARN: "arn:aws:sts::111122223333:assumed-role/ml/alice", InvokedBy: "bedrock.amazonaws.com"}
	admin := lifecycle.Caller{Type: "IAMUser", ARN: "arn:aws:iam::111122223333:user/bob"}
	mk := func(id, name, grant string, at time.Time, c lifecycle.Caller, ops ...string) lifecycle.Event {
		ev := lifecycle.Event{ID: id, Name: name, Time: at, KeyARN: key, GrantID: grant, Caller: c, Operations: ops}
		if c.InvokedBy != "" {
			ev.SourceIP, ev.UserAgent = c.InvokedBy, c.InvokedBy
		}
		if name == lifecycle.CreateGrant {
			ev.Grantee, ev.RetiringPrincipal = "bedrock.amazonaws.com", "bedrock.amazonaws.com"
		}
		return ev
	}
	all := []string{"CreateGrant", "Decrypt", "DescribeKey", "GenerateDataKey"}
	evs := []lifecycle.Event{
		mk("c-p1", lifecycle.CreateGrant, "p1", t0, role, all...),
		mk("r-p1", lifecycle.RetireGrant, "p1", t0.Add(10*d), svc),
		mk("c-p2", lifecycle.CreateGrant, "p2", t0.Add(12*d), role, all...),
		mk("v-p2", lifecycle.RevokeGrant, "p2", t0.Add(30*d), admin),
		mk("c-wide", lifecycle.CreateGrant, "wide", t0.Add(2*d), svc, "Decrypt", "Encrypt"),
		mk("r-wide", lifecycle.RetireGrant, "wide", t0.Add(2*d+time.Hour), svc),
		mk("c-orphan", lifecycle.CreateGrant, "orphan", t0.Add(9*d), svc, "Decrypt"),
		mk("r-orphan", lifecycle.RetireGrant, "orphan", t0.Add(11*d), svc),
		mk("v-tomb", lifecycle.RevokeGrant, "tomb", t0.Add(20*d), admin), // ends before its CreateGrant is seen
		mk("c-tomb", lifecycle.CreateGrant, "tomb", t0.Add(19*d), svc, "Decrypt"),
		mk("u-live", lifecycle.Decrypt, "", t0.Add(3*d), svc),
		mk("u-gap", lifecycle.Decrypt, "", t0.Add(11*d+12*time.Hour), svc), // between p1's end and p2: use-after-retire
		mk("u-late", lifecycle.GenerateDataKey, "", t0.Add(40*d), svc),     // after every grant ended
	}
	for i := range 12 { // short secondaries of each primary
		at := t0.Add(time.Duration(i)*2*d + time.Hour)
		if i >= 5 {
			at = at.Add(3 * d)
		}
		id := fmt.Sprintf("s%02d", i)
		evs = append(evs, mk("c-"+id, lifecycle.CreateGrant, id, at, svc, "Decrypt"),
			mk("u-"+id, lifecycle.Decrypt, "", at.Add(time.Minute), svc),
			mk("r-"+id, lifecycle.RetireGrant, id, at.Add(time.Hour), svc))
	}
	return evs
}

// summary is what must not depend on archiving or arrival order: every grant's facts and every alert.
func summary(t *testing.T, svc *app.Service, key string) string {
	t.Helper()
	k, err := svc.Key(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, g := range k.Reported() {
		lines = append(lines, fmt.Sprintf("%s %s %s parent=%s created=%s ended=%s", g.ID, g.Kind, g.State(), g.ParentID,
			g.CreatedAt.Format(time.RFC3339), g.EndedAt.Format(time.RFC3339)))
		for _, a := range g.Alerts {
			lines = append(lines, fmt.Sprintf("  %s %s resolved=%t", g.ID, a.Type, !a.ResolvedAt.IsZero()))
		}
	}
	for _, a := range k.Usage.Alerts {
		lines = append(lines, "  key "+string(a.Type)+" at "+a.RaisedAt.Format(time.RFC3339))
	}
	slices.SortFunc(lines, cmp.Compare)
	return fmt.Sprint(lines)
}

// TestArchivingChangesNothing is the working set's promise: a service that moves old grants to the archive as it
// goes ends in exactly the state of one that never archives, for any arrival order, with every event delivered
// twice, and with late events (backfill order, a sweep in between) reaching into the archive.
func TestArchivingChangesNothing(t *testing.T) {
	const key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-123456SAMPLE"
	evs := history(key)
	at := t0.Add(60 * 24 * time.Hour)
	cfg := lifecycle.DefaultConfig()
	quiet := fixture.Quiet()
	run := func(now time.Time, order []lifecycle.Event, sweepAfter int) (*app.Service, *store.Memory) {
		m := store.NewMemory()
		// now decides what may leave the working set: at t0 nothing has ended a day before; at `at`, everything.
		svc := app.New(m, nil, cfg, quiet, func() time.Time { return now })
		for i, ev := range order {
			if i == sweepAfter {
				if _, err := svc.Sweep(context.Background(), at); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := svc.Ingest(context.Background(), ev); err != nil {
				t.Fatalf("Ingest(%s) error = %v", ev.ID, err)
			}
		}
		if _, err := svc.Sweep(context.Background(), at); err != nil {
			t.Fatal(err)
		}
		return svc, m
	}
	inOrder, _ := run(t0, evs, -1)
	want := summary(t, inOrder, key)
	if want == "[]" {
		t.Fatal("reference state is empty")
	}
	archivedSomewhere := false
	for seed := range uint64(60) {
		rng := rand.New(rand.NewPCG(seed, 11))
		order := append(slices.Clone(evs), evs...)
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		// Any order, ingest then sweep: the state of the in-order run.
		svc, m := run(at, order, -1)
		if got := summary(t, svc, key); got != want {
			t.Fatalf("seed %d: archiving service ends in\n%s\nwant (in order, never archiving)\n%s", seed, got, want)
		}
		// A sweep part way through legitimately sees grants whose end has not arrived yet, so the reference runs the
		// same schedule without archiving; the archive then holds grants the later, late events reach.
		mid := rng.IntN(len(order))
		ref, _ := run(t0, order, mid)
		svc, m2 := run(at, order, mid)
		if got, want := summary(t, svc, key), summary(t, ref, key); got != want {
			t.Fatalf("seed %d, sweep after %d events: archiving service ends in\n%s\nwant (never archiving)\n%s", seed, mid, got, want)
		}
		for _, st := range []*store.Memory{m, m2} {
			if _, archived := st.Sizes(key); archived > 0 {
				archivedSomewhere = true
			}
		}
	}
	if !archivedSomewhere {
		t.Fatal("no run archived anything: the test does not exercise the archive")
	}
}

// TestLateEventsForArchivedGrants: a duplicate, a late end and a backfilled CreateGrant of grants that left the
// working set long ago are resolved by reading those grants, so they change nothing or exactly what they would
// have changed before.
func TestLateEventsForArchivedGrants(t *testing.T) {
	const key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-123456SAMPLE"
	evs := history(key)
	now := t0.Add(90 * 24 * time.Hour)
	m := store.NewMemory()
	svc := app.New(m, nil, lifecycle.DefaultConfig(), fixture.Quiet(), func() time.Time { return now })
	var lateCreate lifecycle.Event
	for _, ev := range evs {
		if ev.ID == "c-s03" {
			lateCreate = ev // withheld: arrives after its end has been archived
			continue
		}
		if _, err := svc.Ingest(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Sweep(context.Background(), now); err != nil {
		t.Fatal(err)
	}
	if working, archived := m.Sizes(key); working != 0 || archived == 0 {
		t.Fatalf("after the sweep %d grants are in the working set and %d archived; want all archived", working, archived)
	}
	before := summary(t, svc, key)
	for _, ev := range evs[:4] { // duplicates of the primaries' events
		r, err := svc.Ingest(context.Background(), ev)
		if err != nil || r.Outcome != lifecycle.Duplicate {
			t.Errorf("duplicate %s: outcome %s, err %v; want duplicate", ev.ID, r.Outcome, err)
		}
	}
	if got := summary(t, svc, key); got != before {
		t.Errorf("duplicates changed the state:\n%s\nwant\n%s", got, before)
	}
	r, err := svc.Ingest(context.Background(), lateCreate)
	if err != nil || r.Outcome != lifecycle.Applied {
		t.Fatalf("late CreateGrant: outcome %s, err %v; want applied", r.Outcome, err)
	}
	k, err := svc.Key(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if g := k.Grants["s03"]; g.Kind != lifecycle.Secondary || g.ParentID != "p1" || g.State() != lifecycle.Retired || !g.Archived {
		t.Errorf("s03 after its late CreateGrant = kind %s parent %q state %s archived %t; want a retired secondary of p1, still archived",
			g.Kind, g.ParentID, g.State(), g.Archived)
	}
}

// loadCounter counts the loads of each scope a store serves.
type loadCounter struct {
	app.Store
	all, primaries int
}

func (c *loadCounter) LoadKey(ctx context.Context, arn string, l lifecycle.Load) (lifecycle.Key, error) {
	if l.Scope == lifecycle.ScopeAll {
		c.all++
	}
	if l.Primaries {
		c.primaries++
	}
	return c.Store.LoadKey(ctx, arn, l)
}

// TestNewestFirstBackfillReadsNoArchive: backfill reads CloudTrail's history newest first, so a key's old primary is
// archived before the secondaries of its life arrive. Each of those reads the archive's record of primaries, not the
// archive: the whole archive is read only for the primaries' own events, and the result is the in-order one.
func TestNewestFirstBackfillReadsNoArchive(t *testing.T) {
	const key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-123456SAMPLE"
	evs := history(key)
	for i := range 200 { // many more secondaries in p1's life
		at := t0.Add(time.Duration(i)*time.Hour + 30*time.Minute)
		id := fmt.Sprintf("b%03d", i)
		svc := lifecycle.Caller{Type: "AWSService", InvokedBy: "bedrock.amazonaws.com"}
		evs = append(evs,
			lifecycle.Event{ID: "c-" + id, Name: lifecycle.CreateGrant, Time: at, KeyARN: key, GrantID: id, Caller: svc,
				SourceIP: "bedrock.amazonaws.com", Grantee: "bedrock.amazonaws.com", RetiringPrincipal: "bedrock.amazonaws.com", Operations: []string{"Decrypt"}},
			lifecycle.Event{ID: "r-" + id, Name: lifecycle.RetireGrant, Time: at.Add(10 * time.Minute), KeyARN: key, GrantID: id, Caller: svc,
				SourceIP: "bedrock.amazonaws.com"})
	}
	at := t0.Add(90 * 24 * time.Hour)
	quiet := fixture.Quiet()
	run := func(now time.Time, order []lifecycle.Event) (*app.Service, *loadCounter) {
		c := &loadCounter{Store: store.NewMemory()}
		svc := app.New(c, nil, lifecycle.DefaultConfig(), quiet, func() time.Time { return now })
		for _, ev := range order {
			if _, err := svc.Ingest(context.Background(), ev); err != nil {
				t.Fatalf("Ingest(%s) error = %v", ev.ID, err)
			}
		}
		if _, err := svc.Sweep(context.Background(), at); err != nil {
			t.Fatal(err)
		}
		return svc, c
	}
	ref, _ := run(t0, evs)
	newestFirst := slices.Clone(evs)
	slices.SortStableFunc(newestFirst, func(a, b lifecycle.Event) int { return b.Time.Compare(a.Time) })
	svc, c := run(at, newestFirst)
	if got, want := summary(t, svc, key), summary(t, ref, key); got != want {
		t.Fatalf("newest-first backfill ends in\n%s\nwant\n%s", got, want)
	}
	// p1's and p2's creations and ends, and the sweep's check of service calls older than the archive's latest end.
	if c.all > 6 || c.primaries < 100 {
		t.Errorf("the backfill read the whole archive %d times and the primaries' record %d times; want at most 6 and at least 100 (one per secondary of p1's life)", c.all, c.primaries)
	}
	t.Logf("%d events: %d whole-archive reads, %d reads of the primaries' record", len(evs), c.all, c.primaries)
}
