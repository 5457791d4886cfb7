package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// packagePrefix is an internal package name at the start of a message or after ": ": people should never see one.
var packagePrefix = regexp.MustCompile(`(^|: )(store|app|lifecycle|trail|lookup|archive|inventory|alert):`)

// runBinEnv runs the built binary with exactly env, killed after limit so that a hang fails the test instead of
// stalling it.
func runBinEnv(t *testing.T, env []string, limit time.Duration, args ...string) (stdout, stderr string, code int, took time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Env = env
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	start := time.Now()
	err := cmd.Run()
	took = time.Since(start)
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("grantwatch %v still running after %s (killed): it hangs\nstderr: %s", args, limit, e.String())
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return o.String(), e.String(), code, took
}

// TestNeverHangs: every command that calls AWS, against an endpoint that accepts connections and never answers,
// fails within its --timeout (exit 1) with a message that names the endpoint and says what to do.
func TestNeverHangs(t *testing.T) {
	endpoint := hangingEndpoint(t)
	env := awsEnv(t, endpoint)
	key := "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-010000000001"
	scenario := filepath.Join(scenarios, "01-primary-secondaries-retired")
	now := time.Now().UTC()
	for _, args := range [][]string{
		{"grants", "--table", "t"},
		{"keys", "--table", "t"},
		{"history", "0102381c786c", "--table", "t"},
		{"replay", "--table", "t", scenario},
		{"replay", "s3://trail-bucket/AWSLogs/"},
		{"sweep", "--table", "t"},
		{"backfill", "--table", "", "--since", now.Add(-2 * time.Hour).Format(time.RFC3339), "--until", now.Add(-time.Hour).Format(time.RFC3339)},
		{"reconcile", "--key", key},
		{"table", "create", "--table", "t"},
		{"table", "migrate", "--table", "t"},
	} {
		t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
			stdout, stderr, code, took := runBinEnv(t, env, 30*time.Second, append(args, "--timeout", "1s")...)
			if args[0] == "reconcile" { // one key failing is reported in the table, the run fails at its end
				stderr = stdout + stderr
			}
			if code != exitFailure || !strings.Contains(stderr, strings.TrimPrefix(endpoint, "http://")) ||
				!strings.Contains(stderr, "within 1s") || !strings.Contains(stderr, "--timeout") {
				t.Errorf("exit %d after %s; want 1 with a message naming %s, the timeout and --timeout:\n%s", code, took, endpoint, stderr)
			}
			if took > 6*time.Second {
				t.Errorf("took %s with --timeout 1s", took)
			}
		})
	}
	// The default is bounded too, and --timeout is what it says: the call waits that long, not less.
	_, stderr, code, took := runBinEnv(t, env, 30*time.Second, "grants", "--table", "t", "--timeout", "2s")
	if code != exitFailure || took < 2*time.Second || took > 6*time.Second {
		t.Errorf("grants --timeout 2s: exit %d after %s; want 1 after 2 to 6s:\n%s", code, took, stderr)
	}
	if !strings.Contains(stderr, "no answer from "+endpoint+" to DynamoDB Query within 2s") {
		t.Errorf("grants --timeout 2s: %s; want it to name the endpoint, the call and the timeout", stderr)
	}
}

// TestProgressWhileWaiting: without a terminal, a command that waits reports what it waits for, where and since
// when, as JSON lines on stderr.
func TestProgressWhileWaiting(t *testing.T) {
	endpoint := hangingEndpoint(t)
	awsEnv(t, endpoint)
	defer func(d time.Duration) { progressEvery = d }(progressEvery)
	progressEvery = 150 * time.Millisecond
	_, stderr, code := cli(t.Context(), "keys", "--table", "t", "--timeout", "1s")
	lines := regexp.MustCompile(`(?m)^\{.*"msg":"progress".*"command":"keys".*"waitingFor":"DynamoDB Query".*"endpoint":"`+regexp.QuoteMeta(endpoint)+`".*\}$`).FindAllString(stderr, -1)
	if code != exitFailure || len(lines) < 3 {
		t.Errorf("exit %d, %d progress lines; want 1 and one every 150ms of the 1s wait:\n%s", code, len(lines), stderr)
	}
}

// TestSpinner: on a terminal the progress line is drawn in place after a short delay, says what is awaited, and is
// erased before output and at the end.
func TestSpinner(t *testing.T) {
	var buf bytes.Buffer
	p := &progress{w: &buf, tty: true, width: 200, command: "grants", started: time.Now().Add(-time.Second), inFlight: map[*call]bool{}}
	c := p.begin("DynamoDB", "Query")
	p.attempt(c, "http://127.0.0.1:1")
	p.answered(c, "HTTP 500 Internal Server Error")
	p.attempt(c, "http://127.0.0.1:1")
	p.tick()
	drawn := buf.String()
	if !strings.HasPrefix(drawn, "\r") || !strings.Contains(drawn, "grants · 0 AWS calls · waiting") ||
		!strings.Contains(drawn, "DynamoDB Query at http://127.0.0.1:1 (attempt 2, last: HTTP 500") {
		t.Errorf("spinner = %q", drawn)
	}
	buf.Reset()
	_, _ = p.writer(&buf).Write([]byte("output\n"))
	if buf.String() != "\r\033[Koutput\n" {
		t.Errorf("a write while the spinner is drawn = %q; want the line erased first", buf.String())
	}
	p.end(c)
	p.tick()
	buf.Reset()
	p.stop()
	if buf.String() != "\r\033[K" {
		t.Errorf("stop = %q; want the line erased", buf.String())
	}
	quick := &progress{w: &buf, tty: true, width: 80, command: "keys", started: time.Now(), inFlight: map[*call]bool{}}
	buf.Reset()
	quick.tick()
	if buf.Len() != 0 {
		t.Errorf("a command just started drew %q; want nothing before %s", buf.String(), spinnerDelay)
	}
}

// TestBackfillWithoutLookupEvents: an endpoint that answers LookupEvents with HTTP 500 (moto has no LookupEvents)
// is reported while it is retried, and fails within --timeout naming the endpoint and what it answered.
func TestBackfillWithoutLookupEvents(t *testing.T) {
	f := newFakeAWS(t)
	f.noLookup = true
	awsEnv(t, f.URL)
	defer func(d time.Duration) { progressEvery = d }(progressEvery)
	progressEvery = 300 * time.Millisecond
	now := time.Now().UTC()
	start := time.Now()
	_, stderr, code := cli(t.Context(), "backfill", "--table", "", "--since", now.Add(-2*time.Hour).Format(time.RFC3339),
		"--until", now.Add(-time.Hour).Format(time.RFC3339), "--timeout", "3s")
	took := time.Since(start)
	want := "CloudTrail LookupEvents at " + f.URL + " did not succeed within 3s: every attempt failed, the last with HTTP 500"
	if code != exitFailure || !strings.Contains(stderr, want) || took > 8*time.Second {
		t.Errorf("exit %d after %s; want 1 within the timeout with %q:\n%s", code, took, want, stderr)
	}
	if !regexp.MustCompile(`"msg":"progress".*"waitingFor":"CloudTrail LookupEvents".*"lastAttempt":"HTTP 500`).MatchString(stderr) {
		t.Errorf("no progress line showed the failing attempts:\n%s", stderr)
	}
}

// TestFlagValidation: every flag that takes a value refuses a bad one with a usage error (exit 2) that names the
// flag, before anything is called; and no message carries an internal package prefix.
func TestFlagValidation(t *testing.T) {
	f := newFakeAWS(t)
	awsEnv(t, f.URL)
	now := time.Now().UTC()
	since, until := now.Add(-2*time.Hour).Format(time.RFC3339), now.Add(-time.Hour).Format(time.RFC3339)
	file := filepath.Join(scenarios, "01-primary-secondaries-retired")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"backfill", "--since", since, "--until", until, "--workers", "0"}, `--workers "0" is out of range 1..64`},
		{[]string{"backfill", "--since", since, "--until", until, "--workers", "65"}, `--workers "65" is out of range 1..64`},
		{[]string{"backfill", "--since", "yesterday", "--until", until}, `--since "yesterday" is not an RFC 3339 time`},
		{[]string{"backfill", "--since", until, "--until", since}, `--until "` + since + `" is not after --since ` + until},
		{[]string{"backfill", "--since", since, "--until", now.Add(time.Hour).Format(time.RFC3339)}, "is in the future"},
		{[]string{"backfill", "--since", "2020-01-01T00:00:00Z", "--until", "2020-02-01T00:00:00Z"}, "is older than CloudTrail's 90-day event history"},
		{[]string{"backfill", "--since", since, "--until", until, "--accounts", "1111,222222222222"}, `--accounts "1111" is not an AWS account id`},
		{[]string{"backfill", "--since", since, "--until", until, "--accounts", "all"}, `--accounts "all" names the configured accounts, and none are configured ($GRANTWATCH_ACCOUNTS)`},
		{[]string{"backfill", "--since", since, "--until", until, "--regions", "all,us-east-1"}, `--regions "all,us-east-1" gives "all" with other values`},
		{[]string{"sweep", "--table", "t", "--remind", "-1h"}, `--remind "-1h" is not a duration of 0 or more`},
		{[]string{"sweep", "--table", "t", "--remind", "often"}, `--remind "often"`},
		{[]string{"sweep", "--table", "t", "--at", "noon"}, `--at "noon" is not an RFC 3339 time`},
		{[]string{"replay", "--parallel", "0", file}, `--parallel "0" is out of range 1..64`},
		{[]string{"replay", "--secondary-max-age", "0s", file}, `--secondary-max-age "0s" is not a positive duration`},
		{[]string{"replay", "--secondary-max-age", "long", file}, `--secondary-max-age "long"`},
		{[]string{"replay", "--since", "May", "s3://b"}, `--since "May" is not an RFC 3339 time`},
		{[]string{"replay", "--since", until, "--until", since, "s3://b"}, `--until "` + since + `" is not after --since`},
		{[]string{"replay", "--json", "-o", "csv", file}, "--json asks for -o json, and --output asks for csv"},
		{[]string{"replay"}, "give at least one PATH"},
		{[]string{"grants", "--table", "t", "--older-than", "0"}, `--older-than "0" is not a positive duration`},
		{[]string{"grants", "--table", "t", "--older-than", "-1d"}, `--older-than "-1d"`},
		{[]string{"grants", "--table", "t", "--timeout", "0"}, `--timeout "0" is not a positive duration`},
		{[]string{"grants", "--table", "t", "-o", "yaml"}, `--output "yaml" is not one of table, wide, json, csv`},
		{[]string{"grants", "--table", "t", "--at", "yesterday"}, `--at "yesterday"`},
		{[]string{"grants", "--table", "t", "--now", "tomorrow"}, `--now "tomorrow"`},
		{[]string{"grants", "--table", "t", "--kind", "tertiary"}, `--kind "tertiary" is not one of primary, secondary`},
		{[]string{"grants", "--table", "t", "--state", "closed", "--key", "alias/x"}, `--state "closed" is not one of`},
		{[]string{"grants", "--table", "t", "--key", "alias/x"}, `--key "alias/x" is not a KMS key ARN`},
		{[]string{"grants", "--table", "t", "extra"}, `grantwatch grants takes no arguments, got ["extra"]`},
		{[]string{"grants"}, "--table is required: give the stack's TableName output, or set GRANTWATCH_TABLE"},
		{[]string{"grants", "--table", "t", "--account", "1111", "--region", "east"}, `--account "1111" is not an AWS account id (12 digits, such as 111122223333); --region "east" is not an AWS Region name`},
		{[]string{"keys", "--table", "t", "--account", "prod"}, `--account "prod" is not an AWS account id`},
		{[]string{"keys", "--table", "t", "--region", "US-EAST-1"}, `--region "US-EAST-1" is not an AWS Region name`},
		{[]string{"history", "--table", "t", "0102381c", "--account", "x"}, `--account "x" is not an AWS account id`},
		{[]string{"keys", "--table", ""}, "--table is required"},
		{[]string{"keys", "--table", "t", "--timeout", "soon"}, `--timeout "soon"`},
		{[]string{"history", "--table", "t"}, "history: give exactly one GRANT_ID"},
		{[]string{"history", "--table", "t", "a/b"}, `grant id "a/b" is not a KMS grant id`},
		{[]string{"history", "--table", "t", "0102381", "--key", "alias/x"}, `--key "alias/x"`},
		{[]string{"history", "--table", "t", "0102381"}, `grant id "0102381" is too short: give at least 8 characters`},
		{[]string{"reconcile"}, "--table or --key is needed"},
		{[]string{"reconcile", "--key", "1234abcd-12ab-34cd-56ef-010000000001"}, `--key "1234abcd-12ab-34cd-56ef-010000000001" is not a KMS key ARN`},
		{[]string{"reconcile", "--table", "t", "-o", "xml"}, `--output "xml"`},
		{[]string{"reconcile", "--table", "t", "--accounts", "12", "--regions", "x"}, `--accounts "12" is not an AWS account id (12 digits, such as 111122223333); --regions "x"`},
		{[]string{"reconcile", "--key", "arn:aws:kms:us-east-1:111122223333:key/k", "--accounts", "111122223333"}, "--key names its account and Region: give --key, or --accounts and --regions, not both"},
		{[]string{"table", "create"}, "--table is required"},
		{[]string{"table", "migrate", "--timeout", "-5s", "--table", "t"}, `--timeout "-5s"`},
		{[]string{"table", "drop"}, `unknown command "drop" for "grantwatch table"`},
		{[]string{"replya"}, `unknown command "replya" for "grantwatch"; did you mean replay?`},
		{[]string{"grants", "--colour"}, "unknown flag: --colour"},
		{[]string{"sweep", "--table"}, "flag needs an argument: --table"},
		{[]string{"backfill", "--workers", "many"}, `invalid argument "many" for "--workers"`},
		{[]string{"completion", "tcsh"}, "grantwatch completion"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, stderr, code := cli(t.Context(), tt.args...)
			if code != exitUsage || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 with %q", code, stderr, tt.want)
			}
			if packagePrefix.MatchString(stderr) {
				t.Errorf("stderr %q has an internal package prefix", stderr)
			}
		})
	}
	if calls := f.called(); len(calls) > 0 {
		t.Errorf("bad flags reached AWS: %v", calls)
	}
}

// TestAccountNamesEnv: the account names people configure are checked like a flag, naming the variable.
func TestAccountNamesEnv(t *testing.T) {
	f := newFakeAWS(t)
	awsEnv(t, f.URL)
	t.Setenv(accountNamesEnv, "111122223333=prod,1111=x")
	_, stderr, code := cli(t.Context(), "keys", "--table", "t")
	if code != exitUsage || !strings.Contains(stderr, `$GRANTWATCH_ACCOUNT_NAMES "1111=x" is not an account id=name pair`) {
		t.Errorf("exit %d, stderr %q; want exit 2 naming the variable and the bad pair", code, stderr)
	}
	if calls := f.called(); len(calls) > 0 {
		t.Errorf("AWS was called before the configuration was checked: %v", calls)
	}
}

// TestDurationsEverywhere: every duration flag takes days and weeks.
func TestDurationsEverywhere(t *testing.T) {
	f := newFakeAWS(t)
	awsEnv(t, f.URL)
	for _, args := range [][]string{
		{"grants", "--table", "t", "--older-than", "30d"},
		{"grants", "--table", "t", "--older-than", "2w", "--timeout", "1w"},
		{"grants", "--table", "t", "--older-than", "1d 12h"},
		{"sweep", "--table", "t", "--remind", "1w"},
		{"replay", "--secondary-max-age", "30d", "--json", filepath.Join(scenarios, "02-long-lived-secondary")},
	} {
		if _, stderr, code := cli(t.Context(), args...); code != exitOK {
			t.Errorf("%v: exit %d: %s", args, code, stderr)
		}
	}
	count := func(age string) int {
		stdout, _, _ := cli(t.Context(), "replay", "--json", "--at", at, "--secondary-max-age", age, filepath.Join(scenarios, "02-long-lived-secondary"))
		return strings.Count(stdout, `"long-lived-secondary"`)
	}
	if week, hour := count("1w"), count("1h"); week != 0 || hour != 1 {
		t.Errorf("long-lived alerts with --secondary-max-age 1w = %d, 1h = %d; want 0 and 1", week, hour)
	}
}

// TestTableFromEnv: every command that has --table takes the table from GRANTWATCH_TABLE, and an explicit
// --table "" keeps the commands that can run in memory there.
func TestTableFromEnv(t *testing.T) {
	now := time.Now().UTC()
	since, until := now.Add(-2*time.Hour).Format(time.RFC3339), now.Add(-time.Hour).Format(time.RFC3339)
	file := filepath.Join(scenarios, "01-primary-secondaries-retired")
	for _, args := range [][]string{
		{"grants"}, {"keys"}, {"history", "0102381c786c"}, {"replay", "--at", at, file}, {"sweep", "--at", at},
		{"backfill", "--since", since, "--until", until}, {"reconcile"}, {"table", "create"}, {"table", "migrate"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			f := newFakeAWS(t)
			awsEnv(t, f.URL)
			t.Setenv(tableEnv, "from-env")
			_, stderr, code := cli(t.Context(), args...)
			tables := f.tablesNamed()
			if len(tables) == 0 || slices.ContainsFunc(tables, func(s string) bool { return s != "from-env" }) {
				t.Errorf("%v: DynamoDB saw tables %q (exit %d, %s); want from-env only", args, tables, code, stderr)
			}
			if code != exitOK && !(args[0] == "history" && code == exitNotFound) {
				t.Errorf("%v: exit %d: %s", args, code, stderr)
			}
		})
	}
	f := newFakeAWS(t)
	awsEnv(t, f.URL)
	t.Setenv(tableEnv, "from-env")
	if _, stderr, code := cli(t.Context(), "replay", "--table", "", "--at", at, file); code != exitOK || len(f.called()) != 0 {
		t.Errorf("replay --table \"\": exit %d, AWS calls %v (%s); want a replay in memory", code, f.called(), stderr)
	}
	if _, stderr, _ := cli(t.Context(), "replay", "--at", at, file); !strings.Contains(stderr, "replay: into table from-env (from $GRANTWATCH_TABLE") {
		t.Errorf("replay into the table of the environment says nothing about it: %s", stderr)
	}
}

// TestMissingTable: a table that does not exist is named, with what to do; no AWS exception name, no package.
func TestMissingTable(t *testing.T) {
	f := newFakeAWS(t)
	f.missingTable = true
	awsEnv(t, f.URL)
	now := time.Now().UTC()
	for _, args := range [][]string{
		{"grants"}, {"keys"}, {"history", "0102381c786c"}, {"replay", filepath.Join(scenarios, "01-primary-secondaries-retired")},
		{"sweep"}, {"reconcile"}, {"table", "migrate"},
		{"backfill", "--since", now.Add(-2 * time.Hour).Format(time.RFC3339), "--until", now.Add(-time.Hour).Format(time.RFC3339)},
	} {
		_, stderr, code := cli(t.Context(), append(args, "--table", "no-such-table")...)
		want := `grantwatch: table "no-such-table" does not exist in us-east-1 at ` + f.URL + `: give the stack's TableName output with --table or $GRANTWATCH_TABLE`
		if code != exitFailure || !strings.Contains(stderr, want) || strings.Contains(stderr, "ResourceNotFoundException") || packagePrefix.MatchString(stderr) {
			t.Errorf("%v: exit %d, %q; want 1 and %q", args, code, stderr, want)
		}
	}
}

// TestKeyARNsIngestRecords: the read side takes every key ARN ingest records (lifecycle.IsKeyARN).
func TestKeyARNsIngestRecords(t *testing.T) {
	f := newFakeAWS(t)
	awsEnv(t, f.URL)
	for _, key := range []string{"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-123456SAMPLE",
		"arn:aws-iso-f:kms:us-isof-south-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"} {
		if _, stderr, code := cli(t.Context(), "grants", "--table", "t", "--key", key); code != exitOK {
			t.Errorf("grants --key %s: exit %d: %s", key, code, stderr)
		}
	}
}

// TestHumanDurations: the people's view of a replay long after its events says "914d 18h", never Go's
// "21954h54m17.679988529s"; the JSON keeps the rules' message as it is.
func TestHumanDurations(t *testing.T) {
	dir := filepath.Join(scenarios, "02-long-lived-secondary")
	goDur := regexp.MustCompile(`[0-9]+h[0-9]+m[0-9.]+s`)
	for _, format := range []string{"table", "wide"} {
		stdout, _, _ := cli(t.Context(), "replay", "-o", format, dir)
		if goDur.MatchString(stdout) || !regexp.MustCompile(`active for [0-9]+d [0-9]+h`).MatchString(stdout) {
			t.Errorf("replay -o %s prints Go durations or no human ones:\n%s", format, stdout)
		}
	}
	if stdout, _, _ := cli(t.Context(), "replay", "--json", "--at", at, dir); !strings.Contains(stdout, "active for 39h50m0s, longer than 24h0m0s") {
		t.Errorf("replay --json changed the rules' message:\n%s", stdout)
	}
}

// TestConventions: --version from the build, an example in every command's help, and shell completion.
func TestConventions(t *testing.T) {
	stdout, _, code := runBin(t, binPath, "--version")
	if code != 0 || !regexp.MustCompile(`^grantwatch \S+ \(.*go1\.[0-9]+`).MatchString(stdout) {
		t.Errorf("--version = %q, exit %d; want the module version and the Go version", stdout, code)
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Example == "" && !c.Hidden {
			t.Errorf("%q has no examples", c.CommandPath())
		}
		if c.Name() != "help" && !c.Hidden {
			stdout, _, code := cli(t.Context(), append(strings.Fields(c.CommandPath())[1:], "--help")...)
			if code != 0 || !strings.Contains(stdout, "Examples:\n  ") {
				t.Errorf("%s --help: exit %d, no Examples section:\n%s", c.CommandPath(), code, stdout)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRoot(io.Discard, io.Discard))
	if stdout, _, code := cli(t.Context(), "completion", "bash"); code != 0 || !strings.Contains(stdout, "bash completion V2 for grantwatch") {
		t.Errorf("completion bash: exit %d, %.200s", code, stdout)
	}
	for args, want := range map[string][]string{
		"grants --kind ":     {"primary", "secondary", "knowledge-base", "data-automation", "other-bedrock"},
		"grants --state ":    {"active", "retired", "revoked", "ended"},
		"keys -o ":           {"table", "wide", "json", "csv"},
		"":                   {"replay", "grants", "history", "keys", "backfill", "reconcile", "sweep", "table", "completion"},
		"table ":             {"create", "migrate"},
		"history --table t ": {},
	} {
		stdout, _, _ := cli(t.Context(), append(append([]string{"__complete"}, strings.Fields(args)...), "")...)
		var got []string
		for _, l := range strings.Split(stdout, "\n") {
			if l != "" && !strings.HasPrefix(l, ":") && !strings.HasPrefix(l, "Completion ended") {
				name, _, _ := strings.Cut(l, "\t")
				got = append(got, name)
			}
		}
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("completing %q: %v; want %q among them", args, got, w)
			}
		}
	}
	if _, stderr, code := cli(t.Context()); code != 0 || stderr != "" {
		t.Errorf("grantwatch alone: exit %d, %s; want its help", code, stderr)
	}
}

// TestRejectedInputs: the people's view of a replay names each rejected input once, in the Source column, and says
// what is wrong with it without the decoder's package name; the JSON keeps the contract's text.
func TestRejectedInputs(t *testing.T) {
	dir := filepath.Join(scenarios, "09-malformed")
	stdout, stderr, code := cli(t.Context(), "replay", "--at", at, dir, "/no/such/path")
	rejected := stdout[strings.Index(stdout, "Rejected ("):]
	for _, want := range []string{"Rejected (4)", "/no/such/path", "no such file or folder: check the path", "02-not-json.json",
		"invalid JSON at byte 0 (line 1)", "CreateGrant has no responseElements.grantId"} {
		if !strings.Contains(rejected, want) {
			t.Errorf("rejected inputs lack %q:\n%s", want, rejected)
		}
	}
	if code != exitRejected || packagePrefix.MatchString(rejected) || strings.Contains(rejected, "trail:") {
		t.Errorf("exit %d; the table names packages:\n%s\n%s", code, rejected, stderr)
	}
	if stdout, _, _ := cli(t.Context(), "replay", "--json", "--at", at, dir); !strings.Contains(stdout, `"error": "trail: `) {
		t.Errorf("--json changed the contract's error text:\n%s", stdout)
	}
}
