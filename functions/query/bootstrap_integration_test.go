//go:build integration

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/grantwatch/grantwatch/internal/fixture"
	"github.com/grantwatch/grantwatch/internal/lambdatest"
	"github.com/grantwatch/grantwatch/internal/testenv"
	"github.com/grantwatch/grantwatch/pkg/queryapi"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// The real QueryFunction binary (make build-QueryFunction, for the host), invoked with the events/api samples as
// sam local invoke would, against moto behind a proxy that counts every DynamoDB call.

var function lambdatest.Function

func TestMain(m *testing.M) { os.Exit(lambdatest.Main(m, "QueryFunction", &function)) }

// start creates the table on a fresh moto, replays the query set into it and starts the function on it with env.
func start(t *testing.T, table string, env ...string) *lambdatest.Runtime {
	t.Helper()
	rt, api := lambdatest.OnTable(t, function, table, env...)
	fixture.ReplayQuerySet(t, store.New(api, table))
	return rt
}

func TestBootstrapServesSamples(t *testing.T) {
	proxyURL, calls := testenv.CountingProxy(t)
	// The proxy's endpoint comes after moto's and wins: the function's calls are counted, the seeding's are not.
	rt := start(t, "grantwatch-query", "AWS_ENDPOINT_URL="+proxyURL)

	samples, err := filepath.Glob(fixture.Path("events", "api", "*.json"))
	if err != nil || len(samples) == 0 {
		t.Fatalf("no samples in events/api: %v", err)
	}
	// Every sample is served here; the expected status is part of the sample's name.
	want := map[string]int{
		"get-grants-active-secondaries.json": 200, "get-grants-account.json": 200, "get-grants-key-active-at.json": 200, "get-grant.json": 200,
		"get-key-grants.json": 200, "get-grants-bad-input.json": 400, "get-grant-unknown.json": 404,
	}
	routes := map[string]bool{}
	for _, path := range samples {
		name := filepath.Base(path)
		status, ok := want[name]
		if !ok {
			t.Errorf("sample %s has no expected status in this test", name)
			continue
		}
		payload, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		resp := rt.CallOK(t, payload, 30*time.Second)
		var out events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(resp, &out); err != nil {
			t.Fatalf("%s: response %s: %v", name, resp, err)
		}
		if out.StatusCode != status || out.Headers["Content-Type"] != "application/json" {
			t.Errorf("%s: status %d, content type %q; want %d JSON\n%s", name, out.StatusCode, out.Headers["Content-Type"], status, out.Body)
		}
		var req events.APIGatewayV2HTTPRequest
		_ = json.Unmarshal(payload, &req)
		routes[req.RouteKey] = true
	}
	for _, r := range []string{"GET /grants", "GET /grants/{grantId}", "GET /keys/{keyArn}/grants"} {
		if !routes[r] {
			t.Errorf("no sample in events/api exercises route %s", r)
		}
	}
	calls.CheckReadOnly(t, "QueryFunction")
	if strings.Contains(rt.Logs(), `"level":"ERROR"`) {
		t.Errorf("the function logged errors:\n%s", rt.Logs())
	}
}

// TestBootstrapPagesAndPointInTime follows nextToken through the built function on moto, and asks point-in-time
// questions across a retirement and a revocation.
func TestBootstrapPagesAndPointInTime(t *testing.T) {
	rt := start(t, "grantwatch-query-pages")
	base, err := os.ReadFile(fixture.Path("events", "api", "get-grants-active-secondaries.json"))
	if err != nil {
		t.Fatal(err)
	}
	call := func(qs map[string]string) (int, queryapi.GrantList, string) {
		t.Helper()
		var req events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(base, &req); err != nil {
			t.Fatal(err)
		}
		req.QueryStringParameters = qs
		payload, _ := json.Marshal(req)
		resp := rt.CallOK(t, payload, 30*time.Second)
		var out events.APIGatewayV2HTTPResponse
		var l queryapi.GrantList
		if err := json.Unmarshal(resp, &out); err != nil {
			t.Fatal(err)
		}
		if out.StatusCode == 200 {
			if err := json.Unmarshal([]byte(out.Body), &l); err != nil {
				t.Fatal(err)
			}
		}
		return out.StatusCode, l, out.Body
	}
	ids := func(l queryapi.GrantList) []string {
		var out []string
		for _, g := range l.Grants {
			out = append(out, g.GrantID[:4])
		}
		return out
	}

	// All 22 grants, 3 per page: every grant once, in the order of one big page.
	_, all, _ := call(map[string]string{"limit": "100"})
	cursor := ""
	paged := fixture.Walk(t, 30, "", func(at string) ([]string, string, bool) {
		qs := map[string]string{"limit": "3"}
		if at != "" {
			qs["cursor"] = at
		}
		status, l, body := call(qs)
		if status != 200 || len(l.Grants) > 3 {
			t.Fatalf("page at %q: %d, %d grants: %s", at, status, len(l.Grants), body)
		}
		if l.NextToken != "" {
			cursor = l.NextToken // the last token issued, altered below
		}
		return ids(l), l.NextToken, l.NextToken != ""
	})
	if strings.Join(paged, ",") != strings.Join(ids(all), ",") || len(paged) != 22 {
		t.Errorf("paged = %v; want the 22 grants of one page %v", paged, ids(all))
	}
	if status, _, body := call(map[string]string{"limit": "3", "kind": "primary", "cursor": cursor + "x"}); status != 400 {
		t.Errorf("altered cursor: %d %s; want 400", status, body)
	}

	key := fixture.DemoKey
	for _, tt := range []struct {
		qs   map[string]string
		want string
	}{
		{map[string]string{"key": key("010000000001"), "activeAt": "2024-05-30T10:59:59Z"}, "0101,0102,0103"},
		{map[string]string{"key": key("010000000001"), "activeAt": "2024-05-30T11:00:00Z"}, "0101,0103"}, // 0102 retired at 11:00
		{map[string]string{"key": key("030000000001"), "activeAt": "2024-05-31T17:00:00Z"}, "0301,0302"},
		{map[string]string{"key": key("030000000001"), "activeAt": "2024-05-31T18:00:00Z"}, "0302"}, // 0301 revoked at 18:00
		{map[string]string{"kind": "primary", "activeAt": "2024-05-31T12:00:00Z", "state": "revoked"}, "0301"},
	} {
		status, l, body := call(tt.qs)
		// A key's listing holds its archive, then its working set: compare what is listed, not where it is kept.
		if got := strings.Join(slices.Sorted(slices.Values(ids(l))), ","); status != 200 || got != tt.want {
			t.Errorf("%v: %d %s; want %s (%s)", tt.qs, status, got, tt.want, body)
		}
	}
}
