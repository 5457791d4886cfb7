package archive_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/grantwatch/grantwatch/internal/fixture"
	"github.com/grantwatch/grantwatch/internal/trailgen"
	"github.com/grantwatch/grantwatch/pkg/alert"
	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/replay"
	"github.com/grantwatch/grantwatch/pkg/store"
	"github.com/grantwatch/grantwatch/pkg/trail"
)

// at is the sweep time of the scenarios in events/scenarios (events/README.md).
var at = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)

const (
	org     = "o-exampleorgid"
	account = "111122223333"
	region  = "us-east-1"
)

// file is one object of a built archive: its key (a slash path) and its bytes as written.
type file struct {
	key  string
	data []byte
}

// trailArchive lays the CloudTrail records of events/scenarios out exactly as an organization trail writes them
// (derived test data): one gzipped log file {"Records":[...]} per scenario file, under
// AWSLogs/<org-id>/<account>/CloudTrail/<region>/YYYY/MM/DD/ with CloudTrail's file names, beside a digest file
// per day, an Insights file, and an object no walk reads. plain holds the same log files unzipped, outside any
// layout: what the archive must replay like. Native Bedrock EventBridge events are no CloudTrail records and
// 09-malformed holds damage on purpose, so neither is in the archive.
func trailArchive(t *testing.T) (archive, plain []file, insights, digests int) {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join("..", "..", "events", "scenarios", "*"))
	if err != nil || len(dirs) < 10 {
		t.Fatalf("scenarios: %d (%v)", len(dirs), err)
	}
	days := map[string]bool{}
	n := 0
	for _, dir := range dirs {
		if strings.HasSuffix(dir, "09-malformed") {
			continue
		}
		files, _, errs := replay.Files([]string{dir})
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var records []json.RawMessage
			var last time.Time
			for _, it := range trail.Split(f, data) {
				if it.Err != nil {
					continue // not a CloudTrail record
				}
				records = append(records, json.RawMessage(it.Raw))
				if ts, err := time.Parse(time.RFC3339, it.Record.EventTime); err == nil && ts.After(last) {
					last = ts
				}
			}
			if len(records) == 0 {
				continue
			}
			body, err := json.Marshal(map[string]any{"Records": records})
			if err != nil {
				t.Fatal(err)
			}
			n++
			delivered := last.Add(5 * time.Minute)
			day := delivered.Format("2006/01/02")
			days[day] = true
			name := fmt.Sprintf("%s_CloudTrail_%s_%s_%016d.json.gz", account, region, delivered.Format("20060102T1504Z"), n)
			archive = append(archive, file{fmt.Sprintf("AWSLogs/%s/%s/CloudTrail/%s/%s/%s", org, account, region, day, name), trailgen.Gzip(body)})
			plain = append(plain, file{fmt.Sprintf("%04d-%s.json", n, filepath.Base(f)), body})
		}
	}
	for day := range days {
		stamp := strings.ReplaceAll(day, "/", "") + "T235959Z"
		digest := fmt.Sprintf(`{"awsAccountId":%q,"digestStartTime":"%s","digestEndTime":"%s","digestS3Bucket":"trail-bucket",`+
			`"digestS3Object":"x","digestPublicKeyFingerprint":"0f","digestSignatureAlgorithm":"SHA256withRSA","newestEventTime":null,`+
			`"oldestEventTime":null,"previousDigestS3Bucket":null,"previousDigestS3Object":null,"previousDigestHashValue":null,`+
			`"previousDigestHashAlgorithm":null,"previousDigestSignature":null,"logFiles":[]}`, account, day, day)
		name := fmt.Sprintf("%s_CloudTrail-Digest_%s_org-trail_%s_%s.json.gz", account, region, region, stamp)
		archive = append(archive, file{fmt.Sprintf("AWSLogs/%s/%s/CloudTrail-Digest/%s/%s/%s", org, account, region, day, name), trailgen.Gzip([]byte(digest))})
		digests++
	}
	insight := func(state string) string {
		return `{"eventVersion":"1.08","eventTime":"2024-05-31T20:00:00Z","awsRegion":"us-east-1","eventID":"` + state +
			`-0000-4000-8000-000000000000","eventType":"AwsCloudTrailInsight","recipientAccountId":"111122223333",` +
			`"sharedEventID":"5f2d4c35-0000-4000-8000-000000000000","insightDetails":{"state":"` + state + `",` +
			`"eventSource":"kms.amazonaws.com","eventName":"CreateGrant","insightType":"ApiCallRateInsight",` +
			`"insightContext":{"statistics":{"baseline":{"average":0.1},"insight":{"average":5.0}}}},"eventCategory":"Insight"}`
	}
	archive = append(archive,
		file{fmt.Sprintf("AWSLogs/%s/%s/CloudTrail-Insight/%s/2024/05/31/%s_CloudTrail-Insight_%s_20240531T2100Z_abcdEFGH12345678.json.gz", org, account, region, account, region),
			trailgen.Gzip([]byte(`{"Records":[` + insight("Start") + `,` + insight("End") + `]}`))},
		file{"AWSLogs/" + org + "/README.txt", []byte("trail bucket notes\n")},
	)
	return archive, plain, 2, digests
}

// writeFiles lays files out under dir.
func writeFiles(t *testing.T, dir string, files []file) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.key))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func newReplayer() *replay.Replayer {
	log := fixture.Quiet()
	return replay.New(app.New(store.NewMemory(), alert.Discard{}, lifecycle.DefaultConfig(), log, time.Now))
}

// state is what must not depend on how the records were packed: grants and alerts.
type state struct {
	Grants []replay.Grant
	Alerts []replay.Alert
}

func finish(t *testing.T, r *replay.Replayer) (replay.Report, state) {
	t.Helper()
	rep, err := r.Finish(context.Background(), at)
	if err != nil {
		t.Fatal(err)
	}
	return rep, state{Grants: rep.Grants, Alerts: rep.Alerts}
}

func replayDir(t *testing.T, dir string) (replay.Report, state) {
	t.Helper()
	r := newReplayer()
	if err := r.Paths(context.Background(), []string{dir}); err != nil {
		t.Fatal(err)
	}
	return finish(t, r)
}

// checkArchiveReport: the archive gave the plain files' grants and alerts, rejected nothing, and counted what
// it passed over.
func checkArchiveReport(t *testing.T, want state, rep replay.Report, got state, insights, digests, skipped int) {
	t.Helper()
	if len(want.Grants) < 20 || len(want.Alerts) < 5 {
		t.Fatalf("plain replay found %d grants and %d alerts; the scenarios hold more", len(want.Grants), len(want.Alerts))
	}
	if diff := gocmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("archive replay differs from the unzipped log files (-want +got):\n%s", diff)
	}
	if rep.Stats.Rejected != 0 || len(rep.Errors) != 0 {
		t.Errorf("archive replay rejected %d: %v", rep.Stats.Rejected, rep.Errors)
	}
	in := rep.Inputs
	if insights+digests+skipped == 0 {
		if in != nil && in.SkippedFiles+in.DigestFiles+in.InsightsRecords > 0 {
			t.Errorf("inputs = %+v; want nothing passed over", in)
		}
		return
	}
	if in == nil || in.InsightsRecords != insights || in.DigestFiles != digests || in.SkippedFiles != skipped {
		t.Errorf("inputs = %+v; want %d Insights records, %d digest files, %d skipped", in, insights, digests, skipped)
	}
}

func TestFolderArchiveReplaysLikeTheUnzippedFiles(t *testing.T) {
	files, plain, insights, digests := trailArchive(t)
	plainDir, archiveDir := t.TempDir(), t.TempDir()
	writeFiles(t, plainDir, plain)
	writeFiles(t, archiveDir, files)

	wantRep, want := replayDir(t, plainDir)
	if wantRep.Inputs != nil {
		t.Errorf("plain replay reports inputs %+v; want none (nothing but log files)", wantRep.Inputs)
	}
	rep, got := replayDir(t, archiveDir)
	checkArchiveReport(t, want, rep, got, insights, digests, 1)
	// The archive is read in key order (by delivery time), so how events count (applied, or ignored because they
	// came before what they refer to) may differ; every record is counted once either way.
	if rep.Stats.Events != wantRep.Stats.Events+insights {
		t.Errorf("archive stats %+v; want the plain replay's %d events plus %d Insights records", rep.Stats, wantRep.Stats.Events, insights)
	}
	if !slices.ContainsFunc(rep.Inputs.Skipped, func(s string) bool { return strings.HasSuffix(s, "README.txt") }) {
		t.Errorf("skipped = %v; want README.txt named", rep.Inputs.Skipped)
	}
}

func TestFolderArchiveFilters(t *testing.T) {
	files, _, _, _ := trailArchive(t)
	dir := t.TempDir()
	writeFiles(t, dir, files)
	tests := []struct {
		name   string
		filter trail.ArchiveFilter
		read   bool // some log file is read
	}{
		{"other account", trail.ArchiveFilter{Accounts: []string{"444455556666"}}, false},
		{"other region", trail.ArchiveFilter{Regions: []string{"eu-west-1"}}, false},
		{"after the archive", trail.ArchiveFilter{Since: time.Date(2024, 6, 2, 0, 0, 0, 0, time.UTC)}, false},
		{"before the archive", trail.ArchiveFilter{Until: time.Date(2024, 5, 20, 0, 0, 0, 0, time.UTC)}, false},
		{"its account, Region and days", trail.ArchiveFilter{Accounts: []string{account}, Regions: []string{region},
			Since: time.Date(2024, 5, 29, 0, 0, 0, 0, time.UTC), Until: time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newReplayer()
			r.Filter = tt.filter
			if err := r.Paths(context.Background(), []string{dir}); err != nil {
				t.Fatal(err)
			}
			rep, _ := finish(t, r)
			if read := rep.Stats.Events > 0; read != tt.read || rep.Inputs == nil {
				t.Fatalf("events %d, inputs %+v; want records read = %v", rep.Stats.Events, rep.Inputs, tt.read)
			}
			if !tt.read && rep.Inputs.Filtered == 0 {
				t.Errorf("inputs %+v; want the files counted as filtered out", rep.Inputs)
			}
		})
	}
}
