package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/grantwatch/grantwatch/pkg/archive"
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
	for _, t := range []struct {
		name, value string
		to          *time.Time
	}{{"--since", f.since, &flt.Since}, {"--until", f.until, &flt.Until}} {
		if t.value == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339, t.value)
		if err != nil {
			return flt, usageError("replay: %s %q is not an RFC3339 time such as 2024-06-01T00:00:00Z", t.name, t.value)
		}
		*t.to = v
	}
	if !flt.Since.IsZero() && !flt.Until.IsZero() && !flt.Until.After(flt.Since) {
		return flt, usageError("replay: --until %s is not after --since %s", f.until, f.since)
	}
	return flt, nil
}

// replayS3 reads s3://bucket/prefix archives (AWS_ENDPOINT_URL honoured), in the order given.
func replayS3(ctx context.Context, r *replay.Replayer, urls []string, parallel int) error {
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("replay: load AWS config: %w", err)
	}
	// A local endpoint (moto, MinIO) answers path-style requests only; AWS itself takes the default.
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = awsCfg.BaseEndpoint != nil })
	var empty []string
	for _, u := range urls {
		bucket, prefix, err := archive.ParseURL(u)
		if err != nil {
			return usageError("replay: %v", err)
		}
		a := archive.New(client, bucket, prefix, r.Filter)
		a.Parallel = parallel
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
