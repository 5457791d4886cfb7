package store_test

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// A simulated Bedrock account: jobs on a set of keys, their primary and secondary grants, delivered as
// EventBridge would (late, out of order, some twice), with a sweep every day.

var (
	viaBedrock = lifecycle.Caller{Type: "AssumedRole", InvokedBy: "bedrock.amazonaws.com"}
	asBedrock  = lifecycle.Caller{Type: "AWSService", InvokedBy: "bedrock.amazonaws.com"}
	worldStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
)

// delivery is one event as it reaches grantwatch: a job event or a grant event, at arrival time.
type delivery struct {
	at    time.Time
	seq   int
	job   *lifecycle.JobEvent
	grant *lifecycle.Event
}

// world is what the simulation delivers, in arrival order, and what it did on purpose.
type world struct {
	deliveries []delivery
	jobEvents  int // job and deletion events delivered, duplicates included
	end        time.Time
	// Out-of-order deliveries the registry must take in: counted so that the test shows it met each.
	stateBeforeCreate, stopBeforeCreate, deletionBeforeJob, throughputBeforeState, duplicates int
}

// simulate makes at least n job events. One job in probeEvery gets a primary and a secondary grant.
func simulate(n, keys, probeEvery int, seed uint64) world {
	rng := rand.New(rand.NewPCG(seed, 7))
	var w world
	seq := 0
	deliver := func(ev any, at time.Time) {
		seq++
		d := delivery{at: at, seq: seq}
		switch ev := ev.(type) {
		case lifecycle.JobEvent:
			d.job = &ev
			w.jobEvents++
		case lifecycle.Event:
			d.grant = &ev
		}
		w.deliveries = append(w.deliveries, d)
	}
	dur := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Int64N(int64(hi-lo))) }
	// EventBridge: most events within two minutes, some hours late, a few almost a day; 5% delivered twice.
	late := func() time.Duration {
		switch r := rng.Float64(); {
		case r < 0.80:
			return dur(0, 2*time.Minute)
		case r < 0.95:
			return dur(2*time.Minute, 6*time.Hour)
		}
		return dur(6*time.Hour, 23*time.Hour)
	}
	job := func(ev lifecycle.JobEvent) time.Time {
		at := ev.Time.Add(late())
		deliver(ev, at)
		if rng.Float64() < 0.05 {
			w.duplicates++
			deliver(ev, ev.Time.Add(late()))
		}
		return at
	}
	grant := func(ev lifecycle.Event) { deliver(ev, ev.Time.Add(dur(0, 2*time.Minute))) }
	roles := []string{"Customizer", "Copier", "Pipeline"}

	at := worldStart
	prevKey, prevRole := "", ""
	for j := 0; w.jobEvents < n; j++ {
		key := fmt.Sprintf("arn:aws:kms:us-east-1:111122223333:key/sim-%03d", rng.IntN(keys))
		role := roles[rng.IntN(len(roles))]
		at = at.Add(dur(time.Minute, 10*time.Minute)).Truncate(time.Second)
		if rng.Float64() < 0.15 && prevKey != "" { // a second job right after the first, by the same role
			key, role = prevKey, prevRole
		}
		prevKey, prevRole = key, role
		c0 := at
		caller := lifecycle.Caller{Type: "AssumedRole", ARN: "arn:aws:sts::111122223333:assumed-role/" + role + "/s" + fmt.Sprint(j)}
		jobARN := fmt.Sprintf("arn:aws:bedrock:us-east-1:111122223333:model-customization-job/base/%06d", j)
		name, modelName := fmt.Sprintf("job-%06d", j), fmt.Sprintf("model-%06d", j)
		modelARN := fmt.Sprintf("arn:aws:bedrock:us-east-1:111122223333:custom-model/base/%06d", j)
		id := func(what string) string { return fmt.Sprintf("%s-%06d", what, j) }
		var createdAt, stateAt time.Time
		var end time.Time
		hasModel := false
		if rng.Float64() < 0.3 {
			jobARN = fmt.Sprintf("arn:aws:bedrock:us-east-1:111122223333:model-copy-job/%06d", j)
			createdAt = job(lifecycle.JobEvent{ID: id("copy"), Name: lifecycle.CreateModelCopyJob, Time: c0, KeyARN: key, JobARN: jobARN,
				ModelName: modelName, Caller: caller})
			hasModel, modelARN = true, "" // a copy's model ARN is in no event grantwatch reads
		} else {
			createdAt = job(lifecycle.JobEvent{ID: id("create"), Name: lifecycle.CreateModelCustomizationJob, Time: c0, KeyARN: key,
				JobARN: jobARN, JobName: name, ModelName: modelName, Caller: caller})
			job(lifecycle.JobEvent{ID: id("progress"), Name: lifecycle.JobStateChange, Time: c0.Add(time.Minute), JobARN: jobARN,
				JobName: name, Status: "InProgress"})
			state := func(status string, t time.Time) {
				ev := lifecycle.JobEvent{ID: id(status), Name: lifecycle.JobStateChange, Time: t, JobARN: jobARN, JobName: name,
					Status: status, EndedAt: t, ModelName: modelName}
				if status == "Completed" {
					ev.ModelARN = modelARN
				}
				stateAt = job(ev)
			}
			switch r := rng.Float64(); {
			case r < 0.55:
				end, hasModel = c0.Add(dur(20*time.Minute, 30*time.Hour)), true
				state("Completed", end)
			case r < 0.70:
				end = c0.Add(dur(2*time.Minute, 3*time.Hour))
				state("Failed", end)
			case r < 0.85:
				end = c0.Add(dur(10*time.Minute, 10*time.Hour))
				jobID := jobARN
				if rng.IntN(2) == 0 {
					jobID = name
				}
				if stopAt := job(lifecycle.JobEvent{ID: id("stop"), Name: lifecycle.StopModelCustomizationJob, Time: end, JobID: jobID}); stopAt.Before(createdAt) {
					w.stopBeforeCreate++
				}
				if rng.Float64() < 0.7 { // the final state change is best effort
					state("Stopped", end.Add(dur(time.Minute, 20*time.Minute)))
				}
			default: // its end is never delivered
			}
			if !stateAt.IsZero() && stateAt.Before(createdAt) {
				w.stateBeforeCreate++
			}
		}
		var deleted time.Time
		if hasModel {
			made := cmp.Or(end, c0.Add(time.Hour))
			if rng.Float64() < 0.2 {
				ptAt := job(lifecycle.JobEvent{ID: id("pt"), Name: lifecycle.CreateProvisionedModelThroughput, Time: made.Add(dur(10*time.Minute, 72*time.Hour)),
					JobARN: fmt.Sprintf("arn:aws:bedrock:us-east-1:111122223333:provisioned-model/%06d", j), JobName: "pt-" + name,
					ModelID: cmp.Or(modelARN, modelName), Caller: caller})
				if !stateAt.IsZero() && ptAt.Before(stateAt) {
					w.throughputBeforeState++
				}
			}
			if rng.Float64() < 0.55 {
				deleted = made.Add(dur(time.Hour, 12*time.Hour))
				if rng.Float64() < 0.9 {
					deleted = made.Add(dur(12*time.Hour, 60*24*time.Hour))
				}
				modelID := modelName
				if modelARN != "" && rng.IntN(2) == 0 {
					modelID = modelARN
				}
				if delAt := job(lifecycle.JobEvent{ID: id("delete"), Name: lifecycle.DeleteCustomModel, Time: deleted, ModelID: modelID}); delAt.Before(createdAt) {
					w.deletionBeforeJob++
				}
			}
		}
		if rng.IntN(200) == 0 { // an imported model, which no job made
			job(lifecycle.JobEvent{ID: id("delete-imported"), Name: lifecycle.DeleteCustomModel, Time: c0.Add(time.Hour), ModelID: "imported-" + name})
		}
		if j%probeEvery != 0 {
			continue
		}
		// The grants Bedrock makes for the job, and their ends: mostly retired as they should be, some never.
		primary := lifecycle.Event{ID: id("cg-p"), Name: lifecycle.CreateGrant, Time: c0.Add(30 * time.Second), KeyARN: key,
			GrantID: id("primary"), Caller: lifecycle.Caller{Type: viaBedrock.Type, ARN: caller.ARN, InvokedBy: viaBedrock.InvokedBy},
			SourceIP: "bedrock.amazonaws.com", UserAgent: "bedrock.amazonaws.com", Grantee: "bedrock.amazonaws.com",
			RetiringPrincipal: "bedrock.amazonaws.com", Operations: []string{"Decrypt", "GenerateDataKey", "DescribeKey", "CreateGrant"}}
		secondary := lifecycle.Event{ID: id("cg-s"), Name: lifecycle.CreateGrant, Time: c0.Add(time.Minute), KeyARN: key,
			GrantID: id("secondary"), Caller: asBedrock, SourceIP: "bedrock.amazonaws.com", UserAgent: "bedrock.amazonaws.com",
			Grantee: "bedrock.amazonaws.com", RetiringPrincipal: "bedrock.amazonaws.com", Operations: []string{"Decrypt", "GenerateDataKey"}}
		grant(primary)
		grant(secondary)
		retire := func(g lifecycle.Event, t time.Time) {
			grant(lifecycle.Event{ID: "rg-" + g.GrantID, Name: lifecycle.RetireGrant, Time: t, KeyARN: key, GrantID: g.GrantID,
				Caller: asBedrock, SourceIP: "bedrock.amazonaws.com", UserAgent: "bedrock.amazonaws.com"})
		}
		if !end.IsZero() && rng.Float64() < 0.75 {
			retire(secondary, end.Add(dur(time.Minute, 20*time.Minute)))
		}
		switch {
		case !deleted.IsZero() && rng.Float64() < 0.75:
			retire(primary, deleted.Add(dur(time.Minute, 30*time.Minute)))
		case !end.IsZero() && !hasModel && rng.Float64() < 0.8:
			retire(primary, end.Add(dur(time.Minute, 30*time.Minute)))
		}
	}
	slices.SortStableFunc(w.deliveries, func(a, b delivery) int { return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.seq, b.seq)) })
	w.end = w.deliveries[len(w.deliveries)-1].at
	return w
}

// countingJobs counts the calls an app.JobStore gets.
type countingJobs struct {
	app.JobStore
	reads, writes int
}

func (c *countingJobs) JobRecord(ctx context.Context, ref lifecycle.JobRef) (lifecycle.JobRecord, error) {
	c.reads++
	return c.JobStore.JobRecord(ctx, ref)
}

func (c *countingJobs) SaveJobRecord(ctx context.Context, r lifecycle.JobRecord) error {
	c.writes++
	return c.JobStore.SaveJobRecord(ctx, r)
}

// oracleSweep is what Service.Sweep does to one key, with the unbounded registry: the age and parent rules,
// then the job-aware ones.
func oracleSweep(keys map[string]*lifecycle.Key, view lifecycle.Jobs, at time.Time, cfg lifecycle.Config) []lifecycle.Alert {
	view = view.Indexed()
	var out []lifecycle.Alert
	for _, arn := range slices.Sorted(maps.Keys(keys)) {
		k := keys[arn]
		active := false
		for _, g := range k.Grants {
			active = active || !g.Ended()
		}
		if !active {
			continue // not in ActiveKeys
		}
		r := lifecycle.MergeResult(k.Sweep(at, cfg), k.CheckJobs(view, at, cfg))
		out = append(out, r.Alerts...)
	}
	return out
}

type alertKey struct{ key, grant, typ, message string }

func alertSet(alerts []lifecycle.Alert) []alertKey {
	out := make([]alertKey, len(alerts))
	for i, a := range alerts {
		out[i] = alertKey{a.KeyARN, a.GrantID, string(a.Type), a.Message}
	}
	slices.SortFunc(out, func(a, b alertKey) int {
		return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.grant, b.grant), cmp.Compare(a.typ, b.typ), cmp.Compare(a.message, b.message))
	})
	return out
}

// runWorld delivers w to a Service on st (grants in mem, the registry in js) and, beside it, to the unbounded
// former registry, sweeps both every so often until the last record can have expired, and fails on the first sweep
// whose alerts differ. It returns what it measured.
type worldStats struct {
	maxReads, maxWrites, expiryWrites, maxLive, lastLive, jobAlerts, modelAlerts int
	maxReadUnits, maxWriteUnits                                                  float64 // per event, from meter
}

// unitMeter returns the read and write units consumed so far.
type unitMeter func() (read, write float64)

func runWorld(t *testing.T, w world, every time.Duration, mem *store.Memory, js app.JobStore, units unitMeter) worldStats {
	t.Helper()
	ctx := context.Background()
	cfg := lifecycle.DefaultConfig()
	var now time.Time
	counted := &countingJobs{JobStore: js}
	svc := app.New(mem, nil, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return now }).WithJobs(counted)
	keys := map[string]*lifecycle.Key{}
	// The former registry, fed in the order events happened: settled holds those no delivery can still precede
	// (every delivery is less than 23 hours late), pending the rest that have arrived.
	settled, pending := &oracleJobs{}, []lifecycle.JobEvent(nil)
	var st worldStats
	next := 0
	for at := worldStart.Add(every); ; at = at.Add(every) {
		if next == len(w.deliveries) {
			every = 10 * 24 * time.Hour // nothing arrives any more: only expiry is left to see
		}
		for ; next < len(w.deliveries) && !w.deliveries[next].at.After(at); next++ {
			d := w.deliveries[next]
			now = d.at
			if d.job != nil {
				r, wr := counted.reads, counted.writes
				var ru, wu float64
				if units != nil {
					ru, wu = units()
				}
				if _, err := svc.IngestJob(ctx, *d.job); err != nil {
					t.Fatalf("IngestJob(%s) error = %v", d.job.ID, err)
				}
				st.maxReads, st.maxWrites = max(st.maxReads, counted.reads-r), max(st.maxWrites, counted.writes-wr)
				if units != nil {
					ru2, wu2 := units()
					st.maxReadUnits, st.maxWriteUnits = max(st.maxReadUnits, ru2-ru), max(st.maxWriteUnits, wu2-wu)
				}
				pending = append(pending, *d.job)
				continue
			}
			if _, err := svc.Ingest(ctx, *d.grant); err != nil {
				t.Fatalf("Ingest(%s) error = %v", d.grant.ID, err)
			}
			k, ok := keys[d.grant.KeyARN]
			if !ok {
				nk := lifecycle.NewKey(d.grant.KeyARN)
				k = &nk
				keys[d.grant.KeyARN] = k
			}
			if _, err := k.Apply(*d.grant, cfg); err != nil {
				t.Fatal(err)
			}
		}
		now = at
		wr := counted.writes
		rep, err := svc.Sweep(ctx, at)
		if err != nil {
			t.Fatalf("Sweep(%v) error = %v", at, err)
		}
		st.expiryWrites += counted.writes - wr
		inOrder(pending)
		n := 0
		for ; n < len(pending) && pending[n].Time.Before(at.Add(-23*time.Hour)); n++ {
			settled.Apply(pending[n])
		}
		pending = pending[n:]
		oracle := settled.clone()
		for _, ev := range pending {
			oracle.Apply(ev)
		}
		want := oracleSweep(keys, oracle.view(), at, cfg)
		if got, want := alertSet(rep.Alerts), alertSet(want); !slices.Equal(got, want) {
			for _, a := range want {
				if !slices.Contains(got, a) {
					t.Errorf("sweep at %v: missing %+v", at, a)
				}
			}
			for _, a := range got {
				if !slices.Contains(want, a) {
					t.Errorf("sweep at %v: unexpected %+v", at, a)
				}
			}
			t.FailNow()
		}
		for _, a := range rep.Alerts {
			switch {
			case a.Type == lifecycle.OrphanedPrimary:
				st.modelAlerts++
			case a.Type == lifecycle.LongLivedSecondary && strings.Contains(a.Message, " job "):
				st.jobAlerts++
			}
		}
		live, err := js.JobRecords(ctx, at)
		if err != nil {
			t.Fatal(err)
		}
		st.maxLive, st.lastLive = max(st.maxLive, len(live)), len(live)
		// Done once every event is in and everything that can expire has: the longest bound is a deletion's.
		if next == len(w.deliveries) && at.After(w.end.Add(lifecycle.DeletionRetention+lifecycle.OpenJobHorizon+4*24*time.Hour)) {
			return st
		}
	}
}

// TestJobRegistryBounded feeds 100,000 Bedrock job and model-deletion events (creates, state changes, stops by ARN
// and by name, provisioned throughput, deletions by ARN and by name, some twice, many late and out of order) with
// the grants of one job in three, sweeping every day. It shows that every item stays far below 4 KB, that each
// event costs one read and at most one write, that the sweep's read shrinks back to what rules can still need,
// and that nothing a rule needs is lost: every sweep raises exactly the alerts the unbounded former registry does.
func TestJobRegistryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates a year of Bedrock jobs (about 20 s)")
	}
	w := simulate(100_000, 300, 6, 1)
	mem := store.NewMemory()
	st := runWorld(t, w, 6*24*time.Hour, mem, mem, nil) // a sweep every 6 days of the simulated year: 61 comparisons with the oracle
	all, err := mem.JobRecords(context.Background(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	largest := 0
	for _, r := range all {
		n, err := store.JobItemSize(r)
		if err != nil {
			t.Fatal(err)
		}
		largest = max(largest, n)
	}
	t.Logf("%d job events (%d duplicates; %d state changes, %d stops before their create call, %d deletions before their job, "+
		"%d throughputs before their job's state change); %d records, largest item %d B; per event at most %d read(s), %d write(s); "+
		"%d expiry writes; live records at most %d, at the end %d; %d job and %d model alerts agreed",
		w.jobEvents, w.duplicates, w.stateBeforeCreate, w.stopBeforeCreate, w.deletionBeforeJob, w.throughputBeforeState,
		len(all), largest, st.maxReads, st.maxWrites, st.expiryWrites, st.maxLive, st.lastLive, st.jobAlerts, st.modelAlerts)
	switch {
	case w.jobEvents < 100_000:
		t.Errorf("simulated %d job events; want 100,000", w.jobEvents)
	case w.stateBeforeCreate == 0 || w.stopBeforeCreate == 0 || w.deletionBeforeJob == 0 || w.throughputBeforeState == 0 || w.duplicates == 0:
		t.Errorf("the simulation lacks an out-of-order case: %+v", w)
	case st.jobAlerts < 100 || st.modelAlerts < 100:
		t.Errorf("%d job-based and %d model-based alerts; want at least 100 of each for the comparison to mean something", st.jobAlerts, st.modelAlerts)
	}
	if largest > 4096 {
		t.Errorf("largest registry item is %d B; want at most 4 KB", largest)
	}
	if st.maxReads != 1 || st.maxWrites != 1 {
		t.Errorf("an event made up to %d reads and %d writes; want 1 and 1", st.maxReads, st.maxWrites)
	}
	if st.expiryWrites > 2*len(all) {
		t.Errorf("sweeps wrote %d expiries for %d records; want at most two per record", st.expiryWrites, len(all))
	}
	// What is still live at the end is what rules can still need: the jobs of models never seen deleted (and
	// their neighbours), each with its records.
	if need := modelsAlive(w); st.lastLive < need || st.lastLive > 2*need {
		t.Errorf("%d records live at the end; want between the %d models never deleted and twice that", st.lastLive, need)
	}
}

// modelsAlive counts the custom models of the world that were made (or may have been) and never deleted.
func modelsAlive(w world) int {
	var evs []lifecycle.JobEvent
	for _, d := range w.deliveries {
		if d.job != nil {
			evs = append(evs, *d.job)
		}
	}
	v := oracleOf(evs).view()
	deleted := map[string]bool{}
	for _, d := range v.Deletions {
		deleted[d.ModelID] = true
	}
	n := 0
	for _, o := range v.Jobs {
		made := o.Type == lifecycle.CopyJob || (o.Type == lifecycle.CustomizationJob && (o.Status == "Completed" || !o.Ended()))
		if made && !o.CreatedAt.IsZero() && !deleted[o.ModelARN] && !deleted[o.ModelName] {
			n++
		}
	}
	return n
}
