package store_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// jobRecords has one record of every kind with every field set, so that a round trip shows each one stored.
func jobRecords() []lifecycle.JobRecord {
	caller := lifecycle.Caller{Type: "AssumedRole", ARN: "arn:aws:sts::111122223333:assumed-role/Customizer/alice"}
	evs := [][]lifecycle.JobEvent{
		{{ID: "c1", Name: lifecycle.CreateModelCustomizationJob, Time: t0, KeyARN: keyA, JobARN: "arn:job/a", JobName: "a",
			ModelName: "model-a", Caller: caller},
			{ID: "s1", Name: lifecycle.JobStateChange, Time: t0.Add(time.Minute), JobARN: "arn:job/a", JobName: "a", Status: "InProgress"},
			{ID: "s2", Name: lifecycle.JobStateChange, Time: t0.Add(time.Hour), JobARN: "arn:job/a", JobName: "a", Status: "Completed",
				EndedAt: t0.Add(59 * time.Minute), ModelARN: "arn:model/a", ModelName: "model-a"},
			{ID: "x1", Name: lifecycle.StopModelCustomizationJob, Time: t0.Add(30 * time.Minute), JobID: "arn:job/a"}},
		{{ID: "x2", Name: lifecycle.StopModelCustomizationJob, Time: t0.Add(31 * time.Minute), JobID: "a"}},
		{{ID: "p1", Name: lifecycle.CreateProvisionedModelThroughput, Time: t0.Add(2 * time.Hour), JobARN: "arn:pt/p", JobName: "pt",
			ModelID: "arn:model/a", Caller: caller}},
		{{ID: "d1", Name: lifecycle.DeleteCustomModel, Time: t0.Add(3 * time.Hour), ModelID: "model-a"}},
	}
	out := make([]lifecycle.JobRecord, len(evs))
	for i, es := range evs {
		for _, ev := range es {
			out[i].Apply(ev)
		}
	}
	return out
}

// testJobStore: every kind of record round-trips with all its fields; writes are conditional on the version;
// records leave JobRecords once expired but are still found by reference (DynamoDB deletes them days late).
func testJobStore(t *testing.T, js app.JobStore) {
	t.Helper()
	ctx := context.Background()
	want := jobRecords()
	for i, r := range want {
		empty, err := js.JobRecord(ctx, r.Ref)
		if err != nil || empty.Version != 0 || empty.Ref != r.Ref || empty.CreatedAt != (time.Time{}) {
			t.Fatalf("JobRecord(%v) on an empty store = %+v, %v; want an empty record of that ref", r.Ref, empty, err)
		}
		if err := js.SaveJobRecord(ctx, r); err != nil {
			t.Fatalf("SaveJobRecord(%v) error = %v", r.Ref, err)
		}
		want[i].Version = 1
		got, err := js.JobRecord(ctx, r.Ref)
		if err != nil || !reflect.DeepEqual(got, want[i]) {
			t.Fatalf("JobRecord(%v) = %+v, %v;\nwant %+v", r.Ref, got, err, want[i])
		}
	}
	all, err := js.JobRecords(ctx, t0)
	if err != nil || len(all) != len(want) {
		t.Fatalf("JobRecords() = %d records, %v; want %d", len(all), err, len(want))
	}

	tests := []struct {
		name    string
		version int64
		wantErr error
	}{
		{name: "create over a stored record", version: 0, wantErr: app.ErrConflict},
		{name: "stale version", version: 7, wantErr: app.ErrConflict},
		{name: "current version", version: 1},
	}
	for _, tt := range tests {
		r := want[0]
		r.Version = tt.version
		r.Expires = t0.Add(48 * time.Hour)
		if err := js.SaveJobRecord(ctx, r); !errors.Is(err, tt.wantErr) {
			t.Fatalf("%s: SaveJobRecord() error = %v; want %v", tt.name, err, tt.wantErr)
		}
	}
	for _, tt := range []struct {
		at   time.Time
		want int
	}{{t0.Add(48*time.Hour - time.Second), len(want)}, {t0.Add(48 * time.Hour), len(want) - 1}} {
		got, err := js.JobRecords(ctx, tt.at)
		if err != nil || len(got) != tt.want {
			t.Errorf("JobRecords(%v) = %d records, %v; want %d", tt.at, len(got), err, tt.want)
		}
	}
	expired, err := js.JobRecord(ctx, want[0].Ref)
	if err != nil || expired.Version != 2 || !expired.Expires.Equal(t0.Add(48*time.Hour)) {
		t.Errorf("JobRecord() of an expired record = %+v, %v; want it at version 2 with its expiry", expired, err)
	}
}

func TestJobStoreMemory(t *testing.T) { testJobStore(t, store.NewMemory()) }
