package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// testJobStore: the registry round-trips, and a write from a stale version is a conflict.
func testJobStore(t *testing.T, js app.JobStore) {
	t.Helper()
	ctx := context.Background()
	empty, err := js.LoadJobs(ctx)
	if err != nil || len(empty.Jobs) != 0 || empty.Version != 0 {
		t.Fatalf("LoadJobs() on an empty store = %+v, %v; want empty, version 0", empty, err)
	}
	j := empty
	j.Apply(lifecycle.JobEvent{ID: "e1", Name: lifecycle.CreateModelCustomizationJob, Time: t0, KeyARN: keyA, JobARN: "arn:job", JobName: "job"})
	if err := js.SaveJobs(ctx, j); err != nil {
		t.Fatalf("SaveJobs() error = %v", err)
	}
	got, err := js.LoadJobs(ctx)
	if err != nil || len(got.Jobs) != 1 || got.Jobs[0].KeyARN != keyA || !got.Jobs[0].CreatedAt.Equal(t0) || got.Version != 1 {
		t.Fatalf("LoadJobs() = %+v, %v; want the job at version 1", got, err)
	}
	j.Apply(lifecycle.JobEvent{ID: "e2", Name: lifecycle.DeleteCustomModel, Time: t0.Add(time.Hour), ModelID: "m"})
	if err := js.SaveJobs(ctx, j); !errors.Is(err, app.ErrConflict) { // j still has version 0
		t.Errorf("SaveJobs() from a stale version error = %v; want ErrConflict", err)
	}
}

func TestJobStoreMemory(t *testing.T) { testJobStore(t, store.NewMemory()) }
