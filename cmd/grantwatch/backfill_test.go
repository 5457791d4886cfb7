package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/internal/lookuptest"
)

// TestBackfillCommand drives `grantwatch backfill` in-process against the local LookupEvents endpoint
// (AWS_ENDPOINT_URL is honoured), in memory.
func TestBackfillCommand(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	since, until := now.Add(-3*time.Hour), now.Add(-time.Hour)
	evs := lookuptest.GrantEvents(120, 80, 4, since, until)
	srv := lookuptest.New(lookuptest.Options{Rate: 50, Burst: 4, MaxLatency: 2 * time.Millisecond})
	defer srv.Close()
	srv.Add(evs...)
	for k, v := range map[string]string{"AWS_ENDPOINT_URL": srv.URL, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
		"AWS_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"} {
		t.Setenv(k, v)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{name: "complete", args: []string{"--since", since.Format(time.RFC3339), "--until", until.Format(time.RFC3339)},
			wantOut: fmt.Sprintf("events %d: applied %d, duplicates 0", len(evs), len(evs))},
		{name: "bad time", args: []string{"--since", "yesterday", "--until", until.Format(time.RFC3339)}, wantCode: exitUsage, wantErr: `--since "yesterday"`},
		{name: "since after until", args: []string{"--since", until.Format(time.RFC3339), "--until", since.Format(time.RFC3339)}, wantCode: exitUsage, wantErr: "is not after --since"},
		{name: "future", args: []string{"--since", since.Format(time.RFC3339), "--until", now.Add(time.Hour).Format(time.RFC3339)}, wantCode: exitUsage, wantErr: "in the future"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"backfill"}, tt.args...), &stdout, &stderr)
			if code != tt.wantCode || !strings.Contains(stdout.String(), tt.wantOut) || !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("backfill %v: exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
					tt.args, code, stdout.String(), stderr.String(), tt.wantCode, tt.wantOut, tt.wantErr)
			}
		})
	}
}
