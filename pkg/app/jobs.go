package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// JobStore keeps the Bedrock job registry (lifecycle.Jobs) as one versioned record. store.Table and store.Memory
// implement it; with a Store that does not, Bedrock events are ignored and the sweep uses the age caps only.
type JobStore interface {
	LoadJobs(ctx context.Context) (lifecycle.Jobs, error)
	// SaveJobs writes j conditional on the version it was loaded with; ErrConflict when another writer won.
	SaveJobs(ctx context.Context, j lifecycle.Jobs) error
}

// IngestJob applies one Bedrock control-plane call or job state change to the job registry. Alerts that follow
// from it are time-based and raised by the next sweep.
func (s *Service) IngestJob(ctx context.Context, ev lifecycle.JobEvent) (lifecycle.Outcome, error) {
	js, ok := s.store.(JobStore)
	if !ok {
		return lifecycle.Ignored, nil
	}
	for range maxAttempts {
		jobs, err := js.LoadJobs(ctx)
		if err != nil {
			return "", err
		}
		if !jobs.Apply(ev) {
			return lifecycle.Duplicate, nil
		}
		err = js.SaveJobs(ctx, jobs)
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return "", err
		}
		return lifecycle.Applied, nil
	}
	return "", fmt.Errorf("app: ingest job event %s: %w after %d attempts", ev.ID, ErrConflict, maxAttempts)
}

// loadJobs returns the registry, or an empty one when the store keeps none.
func (s *Service) loadJobs(ctx context.Context) (lifecycle.Jobs, error) {
	js, ok := s.store.(JobStore)
	if !ok {
		return lifecycle.Jobs{}, nil
	}
	return js.LoadJobs(ctx)
}
