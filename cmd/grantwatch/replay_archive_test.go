package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grantwatch/grantwatch/internal/trailgen"
)

// scenarioLogFile packs the CloudTrail records of one scenario folder as one CloudTrail log file
// {"Records":[...]} (derived test data: each EventBridge event's detail is its record).
func scenarioLogFile(t *testing.T, name string) []byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(scenarios, name, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("scenario %s: %v", name, err)
	}
	var records []json.RawMessage
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ev struct{ Detail json.RawMessage }
		if err := json.Unmarshal(data, &ev); err != nil || ev.Detail == nil {
			t.Fatalf("%s: not one EventBridge event (%v)", f, err)
		}
		records = append(records, ev.Detail)
	}
	out, err := json.Marshal(map[string]any{"Records": records})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// grantsOf returns the grants and alerts of a replay's JSON, and its inputs field.
func grantsOf(t *testing.T, stdout string) (grants, alerts string, inputs json.RawMessage) {
	t.Helper()
	var doc struct {
		Grants, Alerts, Inputs json.RawMessage
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("stdout is not the contract's JSON: %v\n%s", err, stdout)
	}
	return string(doc.Grants), string(doc.Alerts), doc.Inputs
}

// TestReplayGzipFolder: a folder of gzipped log files (one named .json) replays like the events themselves; what
// the walk passes over is named on stderr.
func TestReplayGzipFolder(t *testing.T) {
	bin := buildBin(t)
	const name = "11-use-after-retire"
	wantOut, _, code := runBin(t, bin, "replay", "--json", "--at", at, filepath.Join(scenarios, name))
	if code != 0 {
		t.Fatalf("plain scenario exit status %d", code)
	}
	wantGrants, wantAlerts, _ := grantsOf(t, wantOut)

	dir := t.TempDir()
	log := scenarioLogFile(t, name)
	write(t, filepath.Join(dir, "a", "111122223333_CloudTrail_us-east-1_20240531T2035Z_abcdefgh12345678.json.gz"), trailgen.Gzip(log))
	write(t, filepath.Join(dir, "b", "renamed.json"), trailgen.Gzip(log)) // gzip, whatever the name says
	write(t, filepath.Join(dir, "notes.txt"), []byte("not a log\n"))
	stdout, stderr, code := runBin(t, bin, "replay", "--json", "--at", at, dir)
	if code != 0 {
		t.Fatalf("exit status = %d; want 0 (stderr: %s)", code, stderr)
	}
	grants, alerts, inputs := grantsOf(t, stdout)
	if grants != wantGrants || alerts != wantAlerts {
		t.Errorf("grants and alerts differ from the plain scenario's:\n%s\n%s\nwant\n%s\n%s", grants, alerts, wantGrants, wantAlerts)
	}
	var in struct{ Files, SkippedFiles int }
	if err := json.Unmarshal(inputs, &in); err != nil || !strings.Contains(stderr, "skipped "+filepath.Join(dir, "notes.txt")) || in != struct{ Files, SkippedFiles int }{2, 1} {
		t.Errorf("stderr %q and inputs %s; want notes.txt named and counted", stderr, inputs)
	}

	one, _, code := runBin(t, bin, "replay", "--json", "--at", at, filepath.Join(dir, "a", "111122223333_CloudTrail_us-east-1_20240531T2035Z_abcdefgh12345678.json.gz"))
	if g, a, _ := grantsOf(t, one); code != 0 || g != wantGrants || a != wantAlerts {
		t.Errorf("a .json.gz named directly: exit %d, grants %s", code, g)
	}
}

func TestReplayNothingToReadIsAUsageError(t *testing.T) {
	bin := buildBin(t)
	empty, notes := t.TempDir(), t.TempDir()
	write(t, filepath.Join(notes, "README.txt"), []byte("x\n"))
	for _, dir := range []string{empty, notes, filepath.Join(empty, "missing")} {
		stdout, stderr, code := runBin(t, bin, "replay", "--json", "--at", at, dir)
		if code != exitUsage || !strings.Contains(stderr, dir) || stdout != "" {
			t.Errorf("replay %s: exit %d, stderr %q, stdout %q; want exit 2 naming the folder and no report", dir, code, stderr, stdout)
		}
	}
	if _, stderr, code := runBin(t, bin, "replay", "--json", "--since", "yesterday", empty); code != exitUsage {
		t.Errorf("bad --since: exit %d (%s); want 2", code, stderr)
	}
}
