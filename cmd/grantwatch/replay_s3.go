package main

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/archive"
	"github.com/grantwatch/grantwatch/pkg/param"
	"github.com/grantwatch/grantwatch/pkg/replay"
	"github.com/grantwatch/grantwatch/pkg/trail"
)

// archiveFlags select the files of a trail archive, in S3 or in a folder laid out like one.
type archiveFlags struct {
	since, until      string
	accounts, regions []string
	parallel          int
}

func (f *archiveFlags) filter() (trail.ArchiveFilter, error) {
	flt := trail.ArchiveFilter{Accounts: f.accounts, Regions: f.regions}
	var probs param.Problems
	for _, t := range []struct {
		name, value string
		to          *time.Time
	}{{"--since", f.since, &flt.Since}, {"--until", f.until, &flt.Until}} {
		if t.value == "" {
			continue
		}
		v, err := param.Time(t.name, t.value)
		probs.Check(err)
		*t.to = v
	}
	if !flt.Since.IsZero() && !flt.Until.IsZero() && !flt.Until.After(flt.Since) {
		probs.Check(&app.InputError{Field: "--until", Value: f.until, Problem: "is not after --since " + f.since})
	}
	return flt, probs.Err()
}

// replayS3 reads s3://bucket/prefix archives (AWS_ENDPOINT_URL honoured), in the order given.
func replayS3(ctx context.Context, s *session, r *replay.Replayer, urls []string, parallel int) error {
	cfg, err := s.aws()
	if err != nil {
		return err
	}
	// A local endpoint (moto, MinIO) answers path-style requests only; AWS itself takes the default.
	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = cfg.BaseEndpoint != nil })
	var empty []string
	for _, u := range urls {
		bucket, prefix, err := archive.ParseURL(u)
		if err != nil {
			return usageError("replay: %v", err)
		}
		s.bucket = bucket
		a := archive.New(client, bucket, prefix, r.Filter)
		a.Parallel = parallel
		s.progress.set("listing " + u)
		l, err := a.List(ctx)
		if err != nil {
			return err
		}
		r.Listed(l.Skipped, l.Digests)
		if len(l.Objects) == 0 {
			empty = append(empty, u)
			continue
		}
		if err := r.Inputs(ctx, a.Inputs(ctx, l.Objects)); err != nil {
			return err
		}
	}
	if len(empty) == len(urls) {
		return usageError("%v", &replay.NoInputError{Paths: empty})
	}
	return nil
}

// isS3 tells s3:// arguments from paths.
func isS3(arg string) bool { return strings.HasPrefix(arg, "s3://") }
