//go:build integration

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/grantwatch/grantwatch/internal/testenv"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// The read commands, driven through the built binary (binPath, from TestMain) against moto, with every DynamoDB
// call counted by a proxy: no command may Scan.

const (
	demoTable = "grantwatch-query-test"
	key01     = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-010000000001"
	key03     = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-030000000001"
	// keyAmbiguous holds two grants whose ids share their first 8 characters.
	keyAmbiguous = "arn:aws:kms:us-east-1:111122223333:key/abcdef00-0000-0000-0000-000000000001"
	primary01    = "0101ea759c9b3586fd76bdb2e06bef27b95ea9012b9a5d572deb4bd38ce6ed7f"
	second02     = "0102381c786c9b7dea68c477c3cd775e83df21675a72b533994ad18ad07d7f01"
)

// querySet is the fixed set of scenarios the query tests read: new scenarios added to events/scenarios do not change
// their expectations. 22 grants on 10 keys, and a hidden tombstone (06: a non-Bedrock grant retired).
var querySet = []string{"01-primary-secondaries-retired", "02-long-lived-secondary", "03-orphaned-secondary", "04-retire-before-create", "06-non-bedrock", "07-knowledge-base", "08-data-automation", "11-use-after-retire", "12-scope-escalation", "14-unexpected-grantee-and-missing-retiring"}

type cliResult struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, env []string, args ...string) cliResult {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return cliResult{code, out.String(), errOut.String()}
}

func withEndpoint(env []string, url string) []string {
	out := slices.Clone(env)
	for i, e := range out {
		if strings.HasPrefix(e, "AWS_ENDPOINT_URL=") {
			out[i] = "AWS_ENDPOINT_URL=" + url
		}
	}
	return append(out, "AWS_MAX_ATTEMPTS=1", "HOME=/nonexistent", "TZ=UTC")
}

func grantPrefixes(t *testing.T, stdout string) []string {
	t.Helper()
	var v struct {
		Grants []struct {
			GrantID string `json:"grantId"`
		} `json:"grants"`
	}
	if err := json.Unmarshal([]byte(stdout), &v); err != nil {
		t.Fatalf("grants --output json: %v\n%s", err, stdout)
	}
	var out []string
	for _, g := range v.Grants {
		out = append(out, g.GrantID[:4])
	}
	slices.Sort(out)
	return out
}

func TestQueryCommands(t *testing.T) {
	testenv.Start(t)
	testenv.Reset(t)
	direct := withEndpoint(testenv.Env(), testenv.Endpoint())
	if r := runCLI(t, direct, "table", "create", "--table", demoTable); r.code != 0 {
		t.Fatalf("table create: %d %s", r.code, r.stderr)
	}
	args := []string{"replay", "--table", demoTable, "--at", at}
	for _, d := range querySet {
		args = append(args, filepath.Join(scenarios, d))
	}
	if r := runCLI(t, direct, args...); r.code != 0 {
		t.Fatalf("replay: exit %d; want 0\n%s", r.code, r.stderr)
	}

	proxyURL, calls := testenv.CountingProxy(t)
	env := append(withEndpoint(testenv.Env(), proxyURL), "GRANTWATCH_TABLE="+demoTable)
	tests := []struct {
		name     string
		env      []string
		args     []string
		code     int
		grants   []string // for --output json of grants: grant id prefixes, sorted
		contains []string // in stdout, or in stderr when code != 0
	}{
		{name: "all grants", args: []string{"grants", "-o", "json"}, grants: []string{
			"0101", "0102", "0103", "0201", "0202", "0301", "0302", "0401", "0402", "0701", "0801", "0802", "0803",
			"1101", "1102", "1103", "1201", "1202", "1203", "1401", "1402", "1403"}},
		{name: "point in time across a retirement", args: []string{"grants", "--key", key01, "--active-at", "2024-05-30T11:00:00Z", "-o", "json"},
			grants: []string{"0101", "0103"}},
		{name: "point in time across a revocation", args: []string{"grants", "--key", key03, "--active-at", "2024-05-31T18:00:01Z", "-o", "json"},
			grants: []string{"0302"}},
		{name: "point in time on every key", args: []string{"grants", "--active-at", "2024-05-29T12:00:00Z", "-o", "json"},
			grants: []string{"0701", "0802"}},
		{name: "revoked primaries, table", args: []string{"grants", "--kind", "primary", "--state", "revoked"},
			contains: []string{"Grants (2)", "0301877be6db ", "0401d9c1374e ", "revoked"}},
		{name: "revoked primaries, wide", args: []string{"grants", "--kind", "primary", "--state", "revoked", "-o", "wide"},
			contains: []string{"0301877be6dbf20ca6e64ce0d3c56a6f2bca2d3b6c01668ae7ec5f635a863c94", key03, "RevokeGrant", "ENDED BY"}},
		{name: "older than, table flag", args: []string{"grants", "--older-than", "2d", "--at", at, "--table", demoTable, "-o", "json"},
			grants: []string{"0701", "0802"}},
		{name: "csv", args: []string{"grants", "--key", key01, "--state", "retired", "-o", "csv"},
			contains: []string{"grantId,keyArn,kind,state,parentGrantId,createdAt,createdBy,endedAt,endedBy\n" + second02 + "," + key01 + ",secondary,retired," + primary01}},
		{name: "local time", env: append(slices.Clone(env), "TZ=Asia/Tokyo"), args: []string{"grants", "--key", key01, "--local-time", "-o", "csv"},
			contains: []string{"2024-05-30T19:00:00+09:00"}},
		{name: "nothing matches is not an error", args: []string{"grants", "--key", key01, "--active-at", "2020-01-01T00:00:00Z", "-o", "json"}},
		{name: "history", args: []string{"history", second02},
			contains: []string{"Grant " + second02[:12] + "\n", "Grant id            " + second02, "AWSService/bedrock.amazonaws.com", primary01[:12] + " (active)",
				"RetireGrant", "Timeline (2)", "Decrypt"}},
		// A grant id is any unique prefix of 8 characters or more: the 12 the tables show, the 16 older ones showed.
		{name: "history by the short id", args: []string{"history", second02[:12]}, contains: []string{"Grant id            " + second02}},
		{name: "history by 8 characters", args: []string{"history", primary01[:8], "-o", "json"}, contains: []string{`"grantId": "` + primary01}},
		{name: "history by an old table's prefix", args: []string{"history", "1202af77d1739cd7"},
			contains: []string{"1202af77d1739cd73fa64c51b0fb7831e8434d77cf93215c953096df928fb659"}},
		{name: "too short", args: []string{"history", primary01[:7]}, code: exitUsage,
			contains: []string{`grant id "` + primary01[:7] + `" is too short: give at least 8 characters of it (tables show the first 12)`}},
		{name: "unknown prefix", args: []string{"history", "0101ea759c9bffff"}, code: exitNotFound,
			contains: []string{"no grant 0101ea759c9bffff is recorded in table " + demoTable}},
		{name: "history of a primary", args: []string{"history", primary01, "-o", "json"},
			contains: []string{`"children": [`, `"grantId": "` + second02, `"callerType": "AssumedRole"`, `"Decrypt": 1`}},
		{name: "history csv is the timeline", args: []string{"history", second02, "--key", key01, "-o", "csv"},
			contains: []string{"Time,What,By,Source IP,Detail\n2024-05-30T10:01:00Z,CreateGrant,"}},
		{name: "keys", args: []string{"keys", "-o", "json"}, contains: []string{`"keyArn": "` + key01, `"oldestActiveSecondary"`, `"quotaShare"`}},
		{name: "keys table", args: []string{"keys"}, contains: []string{"Keys (10) in 1 account", "\nAccount 111122223333: 10 keys in us-east-1; ",
			"primary 1/0/0/0, secondary 0/2/0/0"}},
		{name: "keys of the account, named", env: append(slices.Clone(env), "GRANTWATCH_ACCOUNT_NAMES=111122223333=demo"),
			args:     []string{"keys", "--account", "111122223333", "--region", "us-east-1", "-o", "json"},
			contains: []string{`"account": "111122223333"`, `"region": "us-east-1"`, `"accounts": [`, `"name": "demo"`, `"keys": 10`}},
		{name: "keys of another account", args: []string{"keys", "--account", "444455556666"}, contains: []string{"Keys (0) in 0 accounts"}},
		{name: "grants of the account", args: []string{"grants", "--account", "111122223333", "-o", "json"}, grants: []string{
			"0101", "0102", "0103", "0201", "0202", "0301", "0302", "0401", "0402", "0701", "0801", "0802", "0803",
			"1101", "1102", "1103", "1201", "1202", "1203", "1401", "1402", "1403"}},
		{name: "the account's active secondaries in its Region", args: []string{"grants", "--account", "111122223333", "--region", "us-east-1",
			"--kind", "secondary", "--state", "active", "-o", "json"}, grants: []string{"0202", "0302", "1202", "1203"}},
		{name: "grants of another account", args: []string{"grants", "--account", "444455556666", "-o", "json"}},
		{name: "grants of another Region", args: []string{"grants", "--region", "eu-west-1", "-o", "json"}},
		{name: "history in another account", args: []string{"history", primary01, "--account", "444455556666"}, code: exitNotFound,
			contains: []string{"no grant " + primary01 + " is recorded in account 444455556666 in table " + demoTable}},
		{name: "history in its account and Region", args: []string{"history", primary01[:12], "--account", "111122223333", "--region", "us-east-1", "-o", "json"},
			contains: []string{`"grantId": "` + primary01}},

		{name: "unknown grant", args: []string{"history", "ffff0000"}, code: exitNotFound, contains: []string{"no grant ffff0000 is recorded in table " + demoTable}},
		{name: "tombstone is not a grant", args: []string{"history", "060160be4f0b85f04b86b939922d5bd7cdb1a1ff7f17b1c12e78781d43c3c5a7"}, code: exitNotFound},
		{name: "grant on another key", args: []string{"history", primary01, "--key", key03}, code: exitNotFound,
			contains: []string{"no grant " + primary01 + " is recorded on key " + key03}},
		{name: "bad grant id", args: []string{"history", "a/b"}, code: exitUsage, contains: []string{`grant id "a/b"`}},
		{name: "history without id", args: []string{"history"}, code: exitUsage},
		{name: "bad key and time", args: []string{"grants", "--key", "alias/x", "--active-at", "yesterday"}, code: exitUsage,
			contains: []string{`key "alias/x" is not a KMS key ARN`, `--active-at "yesterday" is not an RFC 3339 time`}},
		{name: "bad now", args: []string{"grants", "--older-than", "1d", "--now", "tomorrow"}, code: exitUsage, contains: []string{`--now "tomorrow"`}},
		{name: "now, the old name of at", args: []string{"grants", "--older-than", "2d", "--now", at, "-o", "json"}, grants: []string{"0701", "0802"}},
		{name: "bad kind", args: []string{"grants", "--kind", "tertiary"}, code: exitUsage},
		{name: "bad output", args: []string{"keys", "-o", "yaml"}, code: exitUsage, contains: []string{`--output "yaml"`}},
		{name: "no table", env: withEndpoint(testenv.Env(), proxyURL), args: []string{"keys"}, code: exitUsage, contains: []string{"--table is required"}},
		{name: "unknown flag", args: []string{"grants", "--colour"}, code: exitUsage},
		{name: "missing table", args: []string{"grants", "--table", "no-such-table"}, code: 1,
			contains: []string{`table "no-such-table" does not exist in us-east-1 at ` + proxyURL + `: give the stack's TableName output with --table or $GRANTWATCH_TABLE`}},
	}
	type queryTest = struct {
		name     string
		env      []string
		args     []string
		code     int
		grants   []string
		contains []string
	}
	check := func(tt queryTest) {
		t.Run(tt.name, func(t *testing.T) {
			e := env
			if tt.env != nil {
				e = tt.env
			}
			r := runCLI(t, e, tt.args...)
			if r.code != tt.code {
				t.Fatalf("%v: exit %d; want %d\nstdout %s\nstderr %s", tt.args, r.code, tt.code, r.stdout, r.stderr)
			}
			out := r.stdout
			if tt.code != 0 {
				out = r.stderr
			}
			for _, c := range tt.contains {
				if !strings.Contains(out, c) {
					t.Errorf("%v: output lacks %q:\n%s", tt.args, c, out)
				}
			}
			if tt.grants != nil || (tt.code == 0 && slices.Contains(tt.args, "json") && tt.args[0] == "grants") {
				if got := grantPrefixes(t, r.stdout); !slices.Equal(got, tt.grants) {
					t.Errorf("%v: grants %v; want %v", tt.args, got, tt.grants)
				}
			}
		})
	}
	for _, tt := range tests {
		check(tt)
	}

	// Two grants whose ids share their first 8 characters, for the ambiguous prefix.
	ctx := context.Background()
	tbl, err := store.Open(ctx, dynamodb.NewFromConfig(testenv.AWSConfig()), demoTable)
	if err != nil {
		t.Fatal(err)
	}
	k := lifecycle.NewKey(keyAmbiguous)
	for _, id := range []string{"abcdef0011aa", "abcdef0022bb"} {
		k.Grants[id] = lifecycle.Grant{ID: id, KeyARN: keyAmbiguous, Kind: lifecycle.OtherBedrock, CreatedAt: time.Date(2024, 6, 2, 0, 0, 0, 0, time.UTC),
			CreateEventID: "ev-" + id, History: []lifecycle.HistoryEntry{{EventID: "ev-" + id, Name: lifecycle.CreateGrant, Time: time.Date(2024, 6, 2, 0, 0, 0, 0, time.UTC)}}}
	}
	if err := tbl.SaveKey(ctx, k, lifecycle.Result{Outcome: lifecycle.Applied, Changed: []string{"abcdef0011aa", "abcdef0022bb"}}); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []queryTest{
		{name: "ambiguous prefix", args: []string{"history", "abcdef00"}, code: exitUsage,
			contains: []string{`grant id "abcdef00" is ambiguous: it begins abcdef0011aa, abcdef0022bb; give more characters`}},
		{name: "prefix made unique", args: []string{"history", "abcdef002"}, contains: []string{"Grant id            abcdef0022bb"}},
		{name: "ambiguous in its account too", args: []string{"history", "abcdef00", "--account", "111122223333"}, code: exitUsage,
			contains: []string{`grant id "abcdef00" is ambiguous`}},
		{name: "the account chooses among a prefix's grants", args: []string{"history", "abcdef00", "--account", "444455556666"}, code: exitNotFound,
			contains: []string{"no grant abcdef00 is recorded in account 444455556666 in table " + demoTable}},
	} {
		check(tt)
	}
	got := calls.Counts()
	if got["Scan"] != 0 || got["Query"] == 0 || got["GetItem"] == 0 {
		t.Errorf("DynamoDB calls of the read commands = %v; want Query and GetItem, never Scan", got)
	}
	for op := range got {
		if op != "Query" && op != "GetItem" {
			t.Errorf("a read command called %s (%v)", op, got)
		}
	}
}
