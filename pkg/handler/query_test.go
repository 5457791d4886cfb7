package handler_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/grantwatch/grantwatch/internal/fixture"
	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/handler"
	"github.com/grantwatch/grantwatch/pkg/queryapi"
	"github.com/grantwatch/grantwatch/pkg/store"
)

var demoAt = fixture.DemoAt

const (
	key01     = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-010000000001"
	key12     = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-120000000001"
	primary01 = "0101ea759c9b3586fd76bdb2e06bef27b95ea9012b9a5d572deb4bd38ce6ed7f"
)

// demoHandler replays the query set into memory and serves the query API on it at demoAt.
func demoHandler(t *testing.T) *handler.Query {
	t.Helper()
	mem := store.NewMemory()
	fixture.ReplayQuerySet(t, mem)
	clock := func() time.Time { return demoAt }
	return handler.NewQuery(app.NewQuery(mem, clock), fixture.Quiet(), clock)
}

// request builds an HTTP API payload 2.0 request for a route.
func request(route string, path map[string]string, qs map[string]string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: route, PathParameters: path, QueryStringParameters: qs,
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "test-request"}}
}

func apiSample(t *testing.T, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", "api", name))
	if err != nil {
		t.Fatal(err)
	}
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(b, &req); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return req
}

// serve runs one request and checks the request and the response against api/openapi.yaml.
func serve(t *testing.T, h *handler.Query, o *openAPI, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	t.Helper()
	resp, err := h.Handle(context.Background(), req)
	if err != nil {
		t.Fatalf("Handle(%s) error = %v", req.RouteKey, err)
	}
	if ct := resp.Headers["Content-Type"]; ct != "application/json" {
		t.Errorf("Content-Type = %q; want application/json", ct)
	}
	// Every exchange on a documented route must match the document (an unknown route has none).
	switch req.RouteKey {
	case handler.RouteGrants, handler.RouteGrant, handler.RouteKeyGrants:
		o.checkExchange(t, req, resp)
	}
	return resp
}

func TestQueryRoutes(t *testing.T) {
	h := demoHandler(t)
	o := loadOpenAPI(t)
	enc := url.PathEscape(key01)
	tests := []struct {
		name       string
		req        events.APIGatewayV2HTTPRequest
		status     int
		wantInBody []string
	}{
		{name: "sample active secondaries", req: apiSample(t, "get-grants-active-secondaries.json"), status: 200,
			wantInBody: []string{`"grantId":"0202`, `"grantId":"0302`, `"grantId":"1202`}},
		{name: "sample account's active secondaries", req: apiSample(t, "get-grants-account.json"), status: 200,
			wantInBody: []string{`"grantId":"0202`, `"grantId":"0302`, `"grantId":"1202`}},
		{name: "another account", req: request(handler.RouteGrants, nil, map[string]string{"account": "444455556666"}), status: 200,
			wantInBody: []string{`"grants":[]`}},
		{name: "another Region", req: request(handler.RouteGrants, nil, map[string]string{"region": "eu-west-1", "kind": "primary"}), status: 200,
			wantInBody: []string{`"grants":[]`}},
		{name: "bad account and Region, both named", req: request(handler.RouteGrants, nil, map[string]string{"account": "1111", "region": "us-east"}), status: 400,
			wantInBody: []string{`account \"1111\" is not an AWS account id`, `region \"us-east\" is not an AWS Region name`}},
		{name: "account on a key's route", req: request(handler.RouteKeyGrants, map[string]string{"keyArn": enc}, map[string]string{"account": "111122223333"}), status: 400,
			wantInBody: []string{"unknown query parameter(s) account"}},
		{name: "grant in its account", req: request(handler.RouteGrant, map[string]string{"grantId": primary01}, map[string]string{"account": "111122223333", "region": "us-east-1"}), status: 200,
			wantInBody: []string{`"grantId":"` + primary01}},
		{name: "grant in another account", req: request(handler.RouteGrant, map[string]string{"grantId": primary01}, map[string]string{"account": "444455556666"}), status: 404,
			wantInBody: []string{"in account 444455556666"}},
		{name: "grant with a bad Region", req: request(handler.RouteGrant, map[string]string{"grantId": primary01}, map[string]string{"region": "x"}), status: 400},
		{name: "minted cursor on another account's key", req: request(handler.RouteGrants, nil, map[string]string{"account": "444455556666",
			"cursor": mintedCursorFor(t, app.Filter{Account: "444455556666"}, `{"pk":"KEY#`+key12+`","sk":"GRANT#x","ac":"444455556666","gsi2sk":"2024-05-30T00:00:00.000000000Z#x"}`)}), status: 400,
			wantInBody: []string{"invalid cursor: position belongs to another account"}},
		{name: "sample key active at", req: apiSample(t, "get-grants-key-active-at.json"), status: 200,
			wantInBody: []string{`"grantId":"0101`, `"grantId":"0102`, `"grantId":"0103`}},
		{name: "sample grant", req: apiSample(t, "get-grant.json"), status: 200,
			wantInBody: []string{`"children":[{"grantId":"0102`, `"keyUsage":{"calls":{"Decrypt":1}`, `"callerType":"AssumedRole"`}},
		{name: "sample key grants", req: apiSample(t, "get-key-grants.json"), status: 200, wantInBody: []string{`"nextToken":"`}},
		{name: "sample bad input", req: apiSample(t, "get-grants-bad-input.json"), status: 400,
			wantInBody: []string{`key \"alias/my-key\" is not a KMS key ARN`, `activeAt \"yesterday\" is not an RFC 3339 time`, `limit \"500\" is out of range 1..100`}},
		{name: "sample unknown grant", req: apiSample(t, "get-grant-unknown.json"), status: 404, wantInBody: []string{`"error":"not_found"`}},
		{name: "key path not encoded", req: request(handler.RouteKeyGrants, map[string]string{"keyArn": key01}, nil), status: 200,
			wantInBody: []string{`"grantId":"0101`}},
		{name: "key path encoded", req: request(handler.RouteKeyGrants, map[string]string{"keyArn": enc}, map[string]string{"state": "retired"}), status: 200,
			wantInBody: []string{`"grantId":"0102`, `"grantId":"0103`}},
		{name: "key path bad arn", req: request(handler.RouteKeyGrants, map[string]string{"keyArn": "alias%2Fx"}, nil), status: 400,
			wantInBody: []string{`key \"alias/x\" is not a KMS key ARN`}},
		{name: "key path bad encoding", req: request(handler.RouteKeyGrants, map[string]string{"keyArn": "%zz"}, nil), status: 400},
		{name: "key given twice", req: request(handler.RouteKeyGrants, map[string]string{"keyArn": enc}, map[string]string{"key": key01}), status: 400,
			wantInBody: []string{"unknown query parameter(s) key"}},
		{name: "unknown parameter", req: request(handler.RouteGrants, nil, map[string]string{"activeat": "2024-05-30T00:00:00Z"}), status: 400,
			wantInBody: []string{"unknown query parameter(s) activeat"}},
		{name: "limit 0", req: request(handler.RouteGrants, nil, map[string]string{"limit": "0"}), status: 400, wantInBody: []string{`limit \"0\" is out of range`}},
		{name: "limit 101", req: request(handler.RouteGrants, nil, map[string]string{"limit": "101"}), status: 400},
		{name: "limit 100", req: request(handler.RouteGrants, nil, map[string]string{"limit": "100"}), status: 200},
		{name: "bad kind", req: request(handler.RouteGrants, nil, map[string]string{"kind": "tertiary"}), status: 400},
		{name: "bad state", req: request(handler.RouteGrants, nil, map[string]string{"state": "closed"}), status: 400},
		{name: "bad older than", req: request(handler.RouteGrants, nil, map[string]string{"olderThan": "-3h"}), status: 400},
		{name: "empty cursor", req: request(handler.RouteGrants, nil, map[string]string{"cursor": ""}), status: 400},
		{name: "forged cursor", req: request(handler.RouteGrants, nil, map[string]string{"cursor": "eyJ2IjoxfQ.AAAA"}), status: 400,
			wantInBody: []string{"invalid cursor"}},
		{name: "bad grant id", req: request(handler.RouteGrant, map[string]string{"grantId": "a b"}, nil), status: 400},
		{name: "grant with wrong key", req: request(handler.RouteGrant, map[string]string{"grantId": primary01}, map[string]string{"key": key12}), status: 404},
		{name: "grant with its key", req: request(handler.RouteGrant, map[string]string{"grantId": primary01}, map[string]string{"key": key01}), status: 200},
		{name: "revoked at a point in time", req: request(handler.RouteGrants, nil, map[string]string{"kind": "primary", "activeAt": "2024-05-31T11:00:00Z", "state": "revoked"}), status: 200,
			wantInBody: []string{`"grantId":"0301`, `"grantId":"0401`, `"endedBy":"RevokeGrant"`}},
		{name: "older than days", req: request(handler.RouteGrants, nil, map[string]string{"olderThan": "2d"}), status: 200,
			wantInBody: []string{`"grantId":"0701`, `"grantId":"0802`}},
		{name: "unknown route", req: request("POST /grants", nil, nil), status: 404},
		// Every key ARN ingest records can be asked about: AWS's sample key ids, every partition.
		{name: "sample key id", req: request(handler.RouteKeyGrants, map[string]string{"keyArn": url.PathEscape("arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-123456SAMPLE")}, nil), status: 200,
			wantInBody: []string{`"grants":[]`}},
		{name: "aws-iso-f key", req: request(handler.RouteGrants, nil, map[string]string{"key": "arn:aws-iso-f:kms:us-isof-south-1:111122223333:key/1234abcd-12ab-34cd-56ef-010000000001"}), status: 200},
		// Tokens are not signed: one anyone can make is refused by the store when its position is not the query's.
		{name: "minted cursor on another key", req: request(handler.RouteKeyGrants, map[string]string{"keyArn": enc}, map[string]string{"cursor": mintedCursor(t, key01, `{"pk":"KEY#`+key12+`","sk":"GRANT#x"}`)}), status: 400,
			wantInBody: []string{"invalid cursor: position belongs to another key"}},
		{name: "messages carry no package names", req: apiSample(t, "get-grants-bad-input.json"), status: 400,
			wantInBody: []string{`"message":"key \"alias/my-key\" is not`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := serve(t, h, o, tt.req)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d; want %d (body %s)", resp.StatusCode, tt.status, resp.Body)
			}
			for _, w := range tt.wantInBody {
				if !strings.Contains(resp.Body, w) {
					t.Errorf("body %s\nlacks %s", resp.Body, w)
				}
			}
		})
	}
}

// mintedCursor makes a well-formed token for the key route of key, pointing at pos, as any caller could: it takes the
// filter hash from a token the API issued for the same question.
func mintedCursor(t *testing.T, key, pos string) string {
	t.Helper()
	return mintedCursorFor(t, app.Filter{KeyARN: key}, pos)
}

// mintedCursorFor is mintedCursor for the question f.
func mintedCursorFor(t *testing.T, f app.Filter, pos string) string {
	t.Helper()
	issued := queryapi.EncodeToken(app.Position{After: "{}"}, f, demoAt)
	b, _ := base64.RawURLEncoding.DecodeString(issued)
	var w map[string]any
	if err := json.Unmarshal(b, &w); err != nil {
		t.Fatal(err)
	}
	w["p"] = pos
	b, _ = json.Marshal(w)
	return base64.RawURLEncoding.EncodeToString(b)
}

// TestQueryPagination walks the API page by page, as a client does, and compares with one big page.
func TestQueryPagination(t *testing.T) {
	h := demoHandler(t)
	o := loadOpenAPI(t)
	list := func(qs map[string]string) queryapi.GrantList {
		t.Helper()
		resp := serve(t, h, o, request(handler.RouteGrants, nil, qs))
		if resp.StatusCode != 200 {
			t.Fatalf("%v: status %d %s", qs, resp.StatusCode, resp.Body)
		}
		var l queryapi.GrantList
		if err := json.Unmarshal([]byte(resp.Body), &l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	all := list(map[string]string{"limit": "100"})
	if len(all.Grants) != 22 || all.NextToken != "" {
		t.Fatalf("one page: %d grants, next %q; want 22 and no token", len(all.Grants), all.NextToken)
	}
	ids := fixture.Walk(t, 40, "", func(cursor string) ([]string, string, bool) {
		qs := map[string]string{"limit": "4"}
		if cursor != "" {
			qs["cursor"] = cursor
		}
		l := list(qs)
		if len(l.Grants) > 4 {
			t.Fatalf("page at %q: %d grants", cursor, len(l.Grants))
		}
		var ids []string
		for _, g := range l.Grants {
			ids = append(ids, g.GrantID)
		}
		return ids, l.NextToken, l.NextToken != ""
	})
	for i, g := range all.Grants {
		if i >= len(ids) || ids[i] != g.GrantID {
			t.Fatalf("paged ids = %v; want the order of one page", ids)
		}
	}
	if len(ids) != len(all.Grants) {
		t.Fatalf("paged %d grants; want %d", len(ids), len(all.Grants))
	}
	// By account: the same grants (one account here), page by page through the account's partition.
	byAccount := fixture.Walk(t, 40, "", func(cursor string) ([]string, string, bool) {
		qs := map[string]string{"limit": "3", "account": "111122223333"}
		if cursor != "" {
			qs["cursor"] = cursor
		}
		l := list(qs)
		var ids []string
		for _, g := range l.Grants {
			ids = append(ids, g.GrantID)
		}
		return ids, l.NextToken, l.NextToken != ""
	})
	if len(byAccount) != len(all.Grants) {
		t.Errorf("paged by account: %d grants; want %d", len(byAccount), len(all.Grants))
	}
	// The token of one query is refused for another, the same without the account included.
	first := list(map[string]string{"limit": "1"})
	resp0 := serve(t, h, o, request(handler.RouteGrants, nil, map[string]string{"limit": "1", "account": "111122223333", "cursor": first.NextToken}))
	if resp0.StatusCode != 400 || !strings.Contains(resp0.Body, "issued for other filters") {
		t.Errorf("cursor of the query without an account: %d %s; want 400 naming the filters", resp0.StatusCode, resp0.Body)
	}
	resp := serve(t, h, o, request(handler.RouteGrants, nil, map[string]string{"limit": "1", "kind": "primary", "cursor": first.NextToken}))
	if resp.StatusCode != 400 || !strings.Contains(resp.Body, "issued for other filters") {
		t.Errorf("cursor of another query: %d %s; want 400 naming the filters", resp.StatusCode, resp.Body)
	}
}

// failingQuerier stands for a store that cannot be read.
type failingQuerier struct{}

func (failingQuerier) Grants(context.Context, app.Filter, int, app.Position) (app.Listing, error) {
	return app.Listing{}, errors.New("store: query grants: operation error DynamoDB: Query, https response error StatusCode: 500")
}

func (failingQuerier) History(context.Context, string, string, app.Place) (app.GrantHistory, error) {
	return app.GrantHistory{}, errors.New("store: get grant: throttled")
}

// TestQueryStoreFailure: a store failure is a 500 that names the request id, not the table's internals.
func TestQueryStoreFailure(t *testing.T) {
	var logs strings.Builder
	h := handler.NewQuery(failingQuerier{}, slog.New(slog.NewJSONHandler(&logs, nil)), func() time.Time { return demoAt })
	o := loadOpenAPI(t)
	for _, req := range []events.APIGatewayV2HTTPRequest{
		request(handler.RouteGrants, nil, nil),
		request(handler.RouteGrant, map[string]string{"grantId": primary01}, nil),
	} {
		resp := serve(t, h, o, req)
		if resp.StatusCode != 500 || !strings.Contains(resp.Body, "test-request") || strings.Contains(resp.Body, "DynamoDB") || strings.Contains(resp.Body, "throttled") {
			t.Errorf("%s: %d %s; want 500 with the request id and no store details", req.RouteKey, resp.StatusCode, resp.Body)
		}
	}
	if !strings.Contains(logs.String(), `"level":"ERROR"`) || !strings.Contains(logs.String(), "throttled") {
		t.Errorf("the failure is not logged: %s", logs.String())
	}
	if resp := serve(t, h, o, request(handler.RouteGrants, nil, map[string]string{"limit": ""})); resp.StatusCode != 400 {
		t.Errorf("empty limit: %d %s; want 400", resp.StatusCode, resp.Body)
	}
}
