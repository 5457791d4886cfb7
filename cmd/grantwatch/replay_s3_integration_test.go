//go:build integration

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/grantwatch/grantwatch/internal/testenv"
	"github.com/grantwatch/grantwatch/internal/trailgen"
)

// TestReplayS3 runs `grantwatch replay s3://...` against moto's S3 holding an organization trail's archive: the
// same grants and alerts as the scenario's events, exit 0; an account filter that selects nothing, and a bucket
// prefix with nothing to read, are usage errors.
func TestReplayS3(t *testing.T) {
	testenv.Start(t)
	testenv.Reset(t)
	testenv.SetEnv(t)
	const name = "11-use-after-retire"
	var plain bytes.Buffer
	if code := run(context.Background(), []string{"replay", "--json", "--at", at, scenarios + "/" + name}, &plain, &bytes.Buffer{}); code != 0 {
		t.Fatalf("plain scenario exit status %d", code)
	}
	wantGrants, wantAlerts, _ := grantsOf(t, plain.String())

	ctx := context.Background()
	client := s3.NewFromConfig(testenv.AWSConfig(), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("trail-bucket")}); err != nil {
		t.Fatal(err)
	}
	objects := map[string][]byte{
		"AWSLogs/o-exampleorgid/111122223333/CloudTrail/us-east-1/2024/05/31/111122223333_CloudTrail_us-east-1_20240531T2035Z_abcdefgh12345678.json.gz":                    trailgen.Gzip(scenarioLogFile(t, name)),
		"AWSLogs/o-exampleorgid/111122223333/CloudTrail-Digest/us-east-1/2024/05/31/111122223333_CloudTrail-Digest_us-east-1_org-trail_us-east-1_20240531T210000Z.json.gz": trailgen.Gzip([]byte(`{"digestStartTime":"x","logFiles":[]}`)),
	}
	for key, body := range objects {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("trail-bucket"), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"whole bucket", []string{"s3://trail-bucket"}, 0},
		{"its account and days", []string{"--account", "111122223333", "--region", "us-east-1", "--since", "2024-05-29T00:00:00Z", "--until", "2024-06-01T00:00:00Z", "s3://trail-bucket/AWSLogs/"}, 0},
		{"another account", []string{"--account", "444455556666", "s3://trail-bucket"}, exitUsage},
		{"an empty prefix", []string{"s3://trail-bucket/elsewhere/"}, exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(ctx, append([]string{"replay", "--json", "--at", at}, tt.args...), &stdout, &stderr)
			if code != tt.code {
				t.Fatalf("exit status = %d; want %d (stderr: %s)", code, tt.code, stderr.String())
			}
			if code != 0 {
				return
			}
			grants, alerts, _ := grantsOf(t, stdout.String())
			if grants != wantGrants || alerts != wantAlerts {
				t.Errorf("grants and alerts differ from the scenario's:\n%s\n%s", grants, alerts)
			}
			if !strings.Contains(stderr.String(), "1 files read") || !strings.Contains(stderr.String(), "1 digest files") {
				t.Errorf("stderr = %q; want one file read and one digest file counted", stderr.String())
			}
		})
	}
}
