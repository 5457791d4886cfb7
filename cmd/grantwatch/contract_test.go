package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// These tests drive the built binary exactly as the replay contract (grant-lifecycle.md §9) says other tools do:
// go build -o BIN ./cmd/grantwatch; BIN replay --json --at RFC3339 [--secondary-max-age DURATION] PATH...

var scenarios = filepath.Join("..", "..", "events", "scenarios")

const at = "2024-06-01T00:00:00Z"

var binPath string

// TestMain builds the binary once for all tests, as the contract does, and removes it afterwards.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "grantwatch-cli")
	if err != nil {
		panic(err)
	}
	binPath = filepath.Join(dir, "grantwatch")
	out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	code := 1
	if err == nil {
		code = m.Run()
	} else {
		os.Stderr.Write(append([]byte("go build: "+err.Error()+"\n"), out...))
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func buildBin(t *testing.T) string {
	t.Helper()
	return binPath
}

func runBin(t *testing.T, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

func keys(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not a JSON object: %s", raw)
	}
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestReplayContract(t *testing.T) {
	bin := buildBin(t)
	allGrantKeys := []string{"createdAt", "endedAt", "endedBy", "grantId", "keyArn", "kind", "parentGrantId", "state"}
	allAlertKeys := []string{"grantId", "keyArn", "message", "severity", "type"}
	enums := map[string][]string{
		"kind":     {"primary", "secondary", "knowledge-base", "data-automation", "other-bedrock"},
		"state":    {"active", "retired", "revoked"},
		"endedBy":  {"RetireGrant", "RevokeGrant"},
		"type":     {"long-lived-secondary", "orphaned-secondary", "orphaned-primary", "use-after-retire", "scope-escalation", "unexpected-grantee", "missing-retiring-principal"},
		"severity": {"low", "medium", "high", "critical"},
	}
	stdout, stderr, code := runBin(t, bin, "replay", "--json", "--at", at, scenarios)
	if code != 1 { // the library holds deliberately malformed input
		t.Fatalf("exit status = %d; want 1 (something rejected, the rest processed); stderr: %s", code, stderr)
	}
	var doc map[string]json.RawMessage
	dec := json.NewDecoder(strings.NewReader(stdout))
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout)
	}
	if dec.More() {
		t.Fatal("stdout holds more than one JSON value")
	}
	if got := keys(t, mustJSON(t, doc)); !slices.Equal(got, []string{"alerts", "errors", "grants", "stats"}) {
		t.Fatalf("top-level keys = %v; want alerts, errors, grants, stats", got)
	}
	if got := keys(t, doc["stats"]); !slices.Equal(got, []string{"applied", "duplicates", "events", "ignored", "rejected"}) {
		t.Fatalf("stats keys = %v", got)
	}
	check := func(what string, items json.RawMessage, allowed, required []string) {
		var list []map[string]string
		if err := json.Unmarshal(items, &list); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if len(list) == 0 {
			t.Fatalf("%s is empty; the scenario library should produce some", what)
		}
		for _, item := range list {
			for k, v := range item {
				if !slices.Contains(allowed, k) {
					t.Errorf("%s has key %q not in the contract", what, k)
				}
				if e, ok := enums[k]; ok && !slices.Contains(e, v) {
					t.Errorf("%s %s = %q; want one of %v", what, k, v, e)
				}
				if strings.HasSuffix(k, "At") && !strings.HasSuffix(v, "Z") {
					t.Errorf("%s %s = %q; want RFC3339 UTC", what, k, v)
				}
			}
			for _, k := range required {
				if item[k] == "" {
					t.Errorf("%s lacks required %q: %v", what, k, item)
				}
			}
		}
	}
	check("grants", doc["grants"], allGrantKeys, []string{"grantId", "keyArn", "kind", "state"})
	check("alerts", doc["alerts"], allAlertKeys, []string{"type", "severity", "keyArn", "message"})
	check("errors", doc["errors"], []string{"source", "error"}, []string{"source", "error"})
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReplayExitCodes(t *testing.T) {
	bin := buildBin(t)
	clean := filepath.Join(scenarios, "01-primary-secondaries-retired")
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"clean input", []string{"replay", "--json", "--at", at, clean}, 0},
		{"rejected input", []string{"replay", "--json", "--at", at, filepath.Join(scenarios, "09-malformed")}, 1},
		{"bad --at", []string{"replay", "--json", "--at", "yesterday", clean}, 2},
		{"bad --secondary-max-age", []string{"replay", "--json", "--secondary-max-age", "long", clean}, 2},
		{"zero --secondary-max-age", []string{"replay", "--json", "--secondary-max-age", "0s", clean}, 2},
		{"unknown flag", []string{"replay", "--jsn", clean}, 2},
		{"no path", []string{"replay", "--json"}, 2},
		{"unknown command", []string{"replya"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, stderr, code := runBin(t, bin, tt.args...); code != tt.want {
				t.Fatalf("grantwatch %v exit status = %d; want %d (stderr: %s)", tt.args, code, tt.want, stderr)
			}
		})
	}
}

// TestReplayMatchesEngineGolden: the CLI prints what the engine's golden file says for the same scenario.
func TestReplayMatchesEngineGolden(t *testing.T) {
	bin := buildBin(t)
	for _, name := range []string{"01-primary-secondaries-retired", "02-long-lived-secondary", "11-use-after-retire", "17-use-after-retire-near-at", "18-data-automation-invoke-and-library"} {
		stdout, _, _ := runBin(t, bin, "replay", "--json", "--at", at, filepath.Join(scenarios, name))
		want, err := os.ReadFile(filepath.Join("..", "..", "pkg", "replay", "testdata", name+".golden.json"))
		if err != nil {
			t.Fatal(err)
		}
		if stdout != string(want) {
			t.Errorf("%s: CLI output differs from pkg/replay/testdata/%s.golden.json:\n%s", name, name, stdout)
		}
	}
}

func TestSecondaryMaxAgeFlag(t *testing.T) {
	bin := buildBin(t)
	dir := filepath.Join(scenarios, "02-long-lived-secondary")
	count := func(args ...string) int {
		stdout, _, _ := runBin(t, bin, append([]string{"replay", "--json", "--at", at}, append(args, dir)...)...)
		return strings.Count(stdout, `"long-lived-secondary"`)
	}
	if def, relaxed := count(), count("--secondary-max-age", "1000h"); def != 1 || relaxed != 0 {
		t.Fatalf("long-lived alerts = %d with the default, %d with 1000h; want 1 and 0", def, relaxed)
	}
}

func TestReplayTextOutput(t *testing.T) {
	bin := buildBin(t)
	stdout, _, code := runBin(t, bin, "replay", "--at", at, filepath.Join(scenarios, "02-long-lived-secondary"))
	for _, want := range []string{"Grants (", "secondary", "Alerts (", "[HIGH] long-lived-secondary", "Events "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("text output lacks %q:\n%s", want, stdout)
		}
	}
	if code != 0 {
		t.Errorf("exit status = %d; want 0", code)
	}
}
