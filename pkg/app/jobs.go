package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// JobStore keeps the Bedrock job registry as small records (lifecycle.JobRecord): one per job identifier,
// provisioned throughput and model deletion, so that neither an event's cost nor an item's size grows with the
// number of jobs. store.Table and store.Memory implement it.
type JobStore interface {
	// JobRecord returns the stored record ref names, expired or not; an empty record (Version 0) when none is.
	JobRecord(ctx context.Context, ref lifecycle.JobRef) (lifecycle.JobRecord, error)
	// SaveJobRecord writes r, with its Expires, conditional on the version it was read with; an error wrapping
	// ErrConflict when another writer got there first.
	SaveJobRecord(ctx context.Context, r lifecycle.JobRecord) error
	// JobRecords returns every record that has not expired at at (Expires zero or after at).
	JobRecords(ctx context.Context, at time.Time) ([]lifecycle.JobRecord, error)
}

// WithJobs makes s keep the Bedrock job registry in js: IngestJob records Bedrock events, and the sweep holds
// grants to the jobs and models they were made for (lifecycle.Key.CheckJobs). Without it, Bedrock events are
// ignored and the sweep uses the age caps only.
func (s *Service) WithJobs(js JobStore) *Service {
	c := *s
	c.jobs = js
	return &c
}

// IngestJob applies one Bedrock control-plane call or job state change to the one record it names: one read and
// one conditional write, whatever the registry holds. Alerts that follow from it are time-based and raised by the
// next sweep.
func (s *Service) IngestJob(ctx context.Context, ev lifecycle.JobEvent) (lifecycle.Outcome, error) {
	ref := lifecycle.JobRefOf(ev)
	if s.jobs == nil || ref == (lifecycle.JobRef{}) {
		return lifecycle.Ignored, nil
	}
	for range maxAttempts {
		r, err := s.jobs.JobRecord(ctx, ref)
		if err != nil {
			return "", err
		}
		if !r.Expires.IsZero() && !r.Expires.After(s.now()) {
			// Expired but not yet removed by the table's TTL: as if it were gone, as it may be any moment.
			r = lifecycle.JobRecord{Ref: ref, Version: r.Version}
		}
		if !r.Apply(ev) {
			return lifecycle.Duplicate, nil
		}
		r.Expires = time.Time{} // new facts: the next sweep decides again how long the record is needed
		err = s.jobs.SaveJobRecord(ctx, r)
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

// loadJobs returns the registry view at at (empty without a JobStore): one read of the records that have not
// expired. It stores the expiry of every record whose expiry the view changed, so that what no rule needs any
// more leaves later reads and the table; a failed write is retried by the next sweep, which computes it again.
func (s *Service) loadJobs(ctx context.Context, at time.Time) (lifecycle.Jobs, error) {
	if s.jobs == nil {
		return lifecycle.Jobs{}, nil
	}
	recs, err := s.jobs.JobRecords(ctx, at)
	if err != nil {
		return lifecycle.Jobs{}, err
	}
	view, expiring := lifecycle.JobsAt(recs, at, s.cfg)
	if s.dryRun {
		return view, nil // a dry run writes nothing, expiries included
	}
	for _, r := range expiring {
		if err := s.jobs.SaveJobRecord(ctx, r); err != nil && !errors.Is(err, ErrConflict) {
			s.log.WarnContext(ctx, "job record expiry not stored, the next sweep retries", "kind", string(r.Ref.Kind),
				"id", r.Ref.ID, "err", err)
		}
	}
	return view, nil
}
