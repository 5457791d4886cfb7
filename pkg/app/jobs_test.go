package app_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// fakeJobStore keeps records by reference with the version rule of the real stores; conflicts makes the next N
// saves fail with ErrConflict, failWith fails every call.
type fakeJobStore struct {
	records      map[lifecycle.JobRef]lifecycle.JobRecord
	reads, saves int
	conflicts    int
	failWith     error
}

func (f *fakeJobStore) JobRecord(_ context.Context, ref lifecycle.JobRef) (lifecycle.JobRecord, error) {
	f.reads++
	if f.failWith != nil {
		return lifecycle.JobRecord{}, f.failWith
	}
	if r, ok := f.records[ref]; ok {
		return r, nil
	}
	return lifecycle.JobRecord{Ref: ref}, nil
}

func (f *fakeJobStore) SaveJobRecord(_ context.Context, r lifecycle.JobRecord) error {
	f.saves++
	if f.conflicts > 0 {
		f.conflicts--
		return app.ErrConflict
	}
	if f.records[r.Ref].Version != r.Version {
		return app.ErrConflict
	}
	if f.records == nil {
		f.records = map[lifecycle.JobRef]lifecycle.JobRecord{}
	}
	r.Version++
	f.records[r.Ref] = r
	return nil
}

func (f *fakeJobStore) JobRecords(_ context.Context, at time.Time) ([]lifecycle.JobRecord, error) {
	var out []lifecycle.JobRecord
	for _, r := range f.records {
		if r.Expires.IsZero() || r.Expires.After(at) {
			out = append(out, r)
		}
	}
	return out, nil
}

var (
	jobCaller = lifecycle.Caller{Type: "AssumedRole", ARN: "arn:aws:sts::111122223333:assumed-role/Customizer/alice", InvokedBy: "bedrock.amazonaws.com"}
	jobCreate = lifecycle.JobEvent{ID: "c1", Name: lifecycle.CreateModelCustomizationJob, Time: t0, KeyARN: keyARN,
		JobARN: "arn:job/a", JobName: "a", ModelName: "model-a", Caller: jobCaller}
	jobFailed = lifecycle.JobEvent{ID: "s1", Name: lifecycle.JobStateChange, Time: t0.Add(time.Hour), JobARN: "arn:job/a",
		JobName: "a", Status: "Failed", EndedAt: t0.Add(time.Hour)}
	jobRef = lifecycle.JobRef{Kind: lifecycle.JobByARN, ID: "arn:job/a"}
)

// TestIngestJob: one read and one conditional write per event, whatever the registry holds.
func TestIngestJob(t *testing.T) {
	stored := func(evs ...lifecycle.JobEvent) lifecycle.JobRecord {
		var r lifecycle.JobRecord
		for _, ev := range evs {
			r.Apply(ev)
		}
		r.Version = 3
		return r
	}
	expiring := stored(jobCreate)
	expiring.Expires = t0.Add(48 * time.Hour)
	expired := stored(jobCreate)
	expired.Expires = t0
	tests := []struct {
		name         string
		noStore      bool
		stored       []lifecycle.JobRecord
		conflicts    int
		failWith     error
		ev           lifecycle.JobEvent
		want         lifecycle.Outcome
		reads, saves int
		check        func(t *testing.T, r lifecycle.JobRecord)
	}{
		{name: "no job store", noStore: true, ev: jobCreate, want: lifecycle.Ignored},
		{name: "not a job event", ev: lifecycle.JobEvent{ID: "x", Name: "ListCustomModels", Time: t0}, want: lifecycle.Ignored},
		{name: "new record", ev: jobCreate, want: lifecycle.Applied, reads: 1, saves: 1,
			check: func(t *testing.T, r lifecycle.JobRecord) {
				if r.Version != 1 || !r.CreatedAt.Equal(t0) || r.KeyARN != keyARN {
					t.Errorf("record = %+v; want the create call at version 1", r)
				}
			}},
		{name: "repeated event", stored: []lifecycle.JobRecord{stored(jobCreate)}, ev: jobCreate, want: lifecycle.Duplicate, reads: 1},
		{name: "lost races are retried", conflicts: 2, ev: jobCreate, want: lifecycle.Applied, reads: 3, saves: 3},
		{name: "new facts clear the expiry for the sweep to decide", stored: []lifecycle.JobRecord{expiring}, ev: jobFailed,
			want: lifecycle.Applied, reads: 1, saves: 1,
			check: func(t *testing.T, r lifecycle.JobRecord) {
				if !r.Expires.IsZero() || r.Version != 4 || r.EndStatus != "Failed" || !r.CreatedAt.Equal(t0) {
					t.Errorf("record = %+v; want both events, no expiry, version 4", r)
				}
			}},
		{name: "an expired record counts as gone", stored: []lifecycle.JobRecord{expired}, ev: jobFailed,
			want: lifecycle.Applied, reads: 1, saves: 1,
			check: func(t *testing.T, r lifecycle.JobRecord) {
				if !r.CreatedAt.IsZero() || r.EndStatus != "Failed" || r.Version != 4 {
					t.Errorf("record = %+v; want the state change alone, over the stored version", r)
				}
			}},
		{name: "store failure", failWith: errors.New("throttled"), ev: jobCreate, reads: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			js := &fakeJobStore{conflicts: tt.conflicts, failWith: tt.failWith, records: map[lifecycle.JobRef]lifecycle.JobRecord{}}
			for _, r := range tt.stored {
				js.records[r.Ref] = r
			}
			svc := newService(&fakeStore{}, nil, &bytes.Buffer{})
			if !tt.noStore {
				svc = svc.WithJobs(js)
			}
			got, err := svc.IngestJob(context.Background(), tt.ev)
			if !errors.Is(err, tt.failWith) || got != tt.want {
				t.Fatalf("IngestJob() = %q, %v; want %q, %v", got, err, tt.want, tt.failWith)
			}
			if js.reads != tt.reads || js.saves != tt.saves {
				t.Errorf("IngestJob() made %d reads and %d saves; want %d and %d", js.reads, js.saves, tt.reads, tt.saves)
			}
			if tt.check != nil {
				tt.check(t, js.records[jobRef])
			}
		})
	}
}

// TestSweepUsesAndExpiresJobRecords: the sweep judges a secondary by the registry, stores the record's expiry
// once, and leaves the record out once it has expired.
func TestSweepUsesAndExpiresJobRecords(t *testing.T) {
	ctx := context.Background()
	k := lifecycle.NewKey(keyARN)
	ev := secondary("e1")
	ev.Time, ev.Operations = t0.Add(time.Minute), []string{"Decrypt"}
	if _, err := k.Apply(ev, lifecycle.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	st, js := &fakeStore{key: k}, &fakeJobStore{}
	svc := newService(st, nil, &bytes.Buffer{}).WithJobs(js)
	for _, ev := range []lifecycle.JobEvent{jobCreate, jobFailed} {
		if _, err := svc.IngestJob(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	at := t0.Add(3 * time.Hour)
	rep, err := svc.Sweep(ctx, at)
	if err != nil || len(rep.Alerts) != 1 || rep.Alerts[0].Type != lifecycle.LongLivedSecondary {
		t.Fatalf("Sweep() = %+v, %v; want long-lived-secondary from the failed job", rep.Alerts, err)
	}
	r := js.records[jobRef]
	if want := t0.Add(time.Hour + 49*time.Hour + 10*time.Minute); !r.Expires.Equal(want) || js.saves != 3 {
		t.Fatalf("after the sweep the record expires %v after %d saves; want %v after 3", r.Expires, js.saves, want)
	}
	if _, err := svc.Sweep(ctx, at.Add(time.Hour)); err != nil || js.saves != 3 {
		t.Errorf("a second sweep made %d saves (err %v); want none more", js.saves-3, err)
	}
	if recs, _ := js.JobRecords(ctx, r.Expires); len(recs) != 0 {
		t.Errorf("JobRecords() at the expiry = %+v; want none", recs)
	}
}
