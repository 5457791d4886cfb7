//go:build integration

package archive_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/grantwatch/grantwatch/internal/testenv"
	"github.com/grantwatch/grantwatch/pkg/archive"
	"github.com/grantwatch/grantwatch/pkg/trail"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

const bucket = "org-trail-archive"

// upload puts the archive into a fresh bucket on moto under prefix.
func upload(t *testing.T, client *s3.Client, prefix string, files []file) {
	t.Helper()
	testenv.Reset(t)
	ctx := context.Background()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(prefix + f.key),
			Body: bytes.NewReader(f.data)}); err != nil {
			t.Fatal(err)
		}
	}
}

func s3Client() *s3.Client {
	return s3.NewFromConfig(testenv.AWSConfig(), func(o *s3.Options) { o.UsePathStyle = true })
}

// pagedAPI asks for small pages, so that every listing of the test goes through the paginator.
type pagedAPI struct{ *s3.Client }

func (p pagedAPI) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	in.MaxKeys = aws.Int32(3)
	return p.Client.ListObjectsV2(ctx, in, optFns...)
}

func TestS3ArchiveReplaysLikeTheUnzippedFiles(t *testing.T) {
	files, plain, insights, digests := trailArchive(t)
	plainDir := t.TempDir()
	writeFiles(t, plainDir, plain)
	_, want := replayDir(t, plainDir)

	client := s3Client()
	const prefix = "trails/"
	upload(t, client, prefix, files)
	for _, start := range []string{"", prefix, prefix + "AWSLogs/", prefix + "AWSLogs/" + org + "/" + account + "/CloudTrail/"} {
		t.Run("s3://"+bucket+"/"+start, func(t *testing.T) {
			r := newReplayer()
			a := archive.New(pagedAPI{client}, bucket, start, r.Filter)
			a.Parallel = 3
			l, err := a.List(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			r.Listed(l.Skipped, l.Digests)
			if err := r.Inputs(context.Background(), a.Inputs(context.Background(), l.Objects)); err != nil {
				t.Fatal(err)
			}
			rep, got := finish(t, r)
			wantInsights, wantDigests, wantSkipped := insights, digests, 1
			if strings.HasSuffix(start, "/CloudTrail/") {
				wantInsights, wantDigests, wantSkipped = 0, 0, 0 // below the log folder: only log files
			}
			checkArchiveReport(t, want, rep, got, wantInsights, wantDigests, wantSkipped)
		})
	}
}

func TestS3ArchivePrunesByLayout(t *testing.T) {
	files, _, _, _ := trailArchive(t)
	client := s3Client()
	upload(t, client, "", files)
	day := func(d int) time.Time { return time.Date(2024, 5, d, 12, 0, 0, 0, time.UTC) }
	tests := []struct {
		name    string
		filter  trail.ArchiveFilter
		objects bool // some object is listed
	}{
		{"everything", trail.ArchiveFilter{}, true},
		{"other account", trail.ArchiveFilter{Accounts: []string{"444455556666"}}, false},
		{"other region", trail.ArchiveFilter{Regions: []string{"eu-west-1"}}, false},
		{"after the archive", trail.ArchiveFilter{Since: time.Date(2024, 6, 2, 0, 0, 0, 0, time.UTC)}, false},
		{"before the archive", trail.ArchiveFilter{Until: day(20)}, false},
		{"its days", trail.ArchiveFilter{Since: day(29), Until: day(31), Accounts: []string{account}, Regions: []string{region}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			counted := &countingAPI{API: client}
			l, err := archive.New(counted, bucket, "", tt.filter).List(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := len(l.Objects) > 0; got != tt.objects {
				t.Fatalf("listed %d objects; want some = %v", len(l.Objects), tt.objects)
			}
			if !tt.objects && counted.deepest > 0 {
				t.Errorf("a listing reached a day folder (%d); the filter should have pruned above it", counted.deepest)
			}
		})
	}
}

// countingAPI counts the listings of day folders (prefixes ending in YYYY/MM/DD/).
type countingAPI struct {
	archive.API
	deepest int
}

func (c *countingAPI) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	if p := strings.Split(strings.TrimSuffix(aws.ToString(in.Prefix), "/"), "/"); len(p) >= 3 && len(p[len(p)-1]) == 2 && len(p[len(p)-3]) == 4 {
		c.deepest++
	}
	return c.API.ListObjectsV2(ctx, in, optFns...)
}
