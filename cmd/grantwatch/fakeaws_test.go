package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeAWS is a loopback endpoint for the CLI's unit tests: DynamoDB (an empty table, or none at all), CloudTrail
// LookupEvents (no events, or HTTP 500 as moto answers it) and KMS, enough for each command to run to its end. It
// records the operations and the table each request named.
type fakeAWS struct {
	*httptest.Server
	missingTable bool // every DynamoDB call answers ResourceNotFoundException
	noLookup     bool // LookupEvents answers HTTP 500, as an endpoint without it does

	mu     sync.Mutex
	calls  []string // "DynamoDB_20120810.Query", ...
	tables []string // the TableName of each DynamoDB request
}

func newFakeAWS(t *testing.T) *fakeAWS {
	f := &fakeAWS{}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAWS) serve(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	body, _ := io.ReadAll(r.Body)
	var in struct{ TableName string }
	_ = json.Unmarshal(body, &in)
	var doc any
	_ = json.Unmarshal(body, &doc)
	f.mu.Lock()
	f.calls = append(f.calls, target)
	service, op, _ := strings.Cut(target, ".")
	if service == "DynamoDB_20120810" {
		f.tables = append(f.tables, tableNames(doc)...)
	}
	f.mu.Unlock()
	reply := func(status int, v any) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	switch {
	case service == "DynamoDB_20120810" && f.missingTable:
		reply(400, map[string]string{"__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException", "message": "Requested resource not found"})
	case service == "DynamoDB_20120810":
		switch op {
		case "Query", "Scan":
			reply(200, map[string]any{"Items": []any{}, "Count": 0, "ScannedCount": 0})
		case "CreateTable", "DescribeTable":
			reply(200, map[string]any{"TableDescription": map[string]any{"TableName": in.TableName, "TableStatus": "ACTIVE"},
				"Table": map[string]any{"TableName": in.TableName, "TableStatus": "ACTIVE"}})
		default: // GetItem (no item), PutItem, UpdateTimeToLive, BatchGetItem
			reply(200, map[string]any{})
		}
	case service == "CloudTrail_20131101" && f.noLookup:
		w.WriteHeader(500)
		_, _ = io.WriteString(w, "<!doctype html><title>500 Internal Server Error</title>")
	case service == "CloudTrail_20131101":
		reply(200, map[string]any{"Events": []any{}})
	case service == "TrentService": // KMS
		reply(200, map[string]any{"Grants": []any{}, "Truncated": false})
	default:
		reply(400, map[string]string{"__type": "UnknownOperationException", "message": "the fake does not serve " + target})
	}
}

// tableNames finds the tables a DynamoDB request names: TableName anywhere (TransactItems hold one each) and the
// keys of RequestItems (BatchGetItem).
func tableNames(v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			switch s, ok := x.(string); {
			case k == "TableName" && ok:
				out = append(out, s)
			case k == "RequestItems":
				for name := range x.(map[string]any) {
					out = append(out, name)
				}
			default:
				out = append(out, tableNames(x)...)
			}
		}
	case []any:
		for _, x := range v {
			out = append(out, tableNames(x)...)
		}
	}
	return out
}

func (f *fakeAWS) tablesNamed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.tables...)
}

func (f *fakeAWS) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// hangingEndpoint accepts connections and never answers; it returns its URL. Connections are closed when the test
// ends.
func hangingEndpoint(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() { _, _ = io.Copy(io.Discard, c) }() // read the request, say nothing
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + l.Addr().String()
}

// awsEnv points the SDK at endpoint with test credentials, in this process (t.Setenv) and for child processes.
func awsEnv(t *testing.T, endpoint string) []string {
	t.Helper()
	env := map[string]string{"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
		"AWS_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
		tableEnv: "", "COLUMNS": "", accountsEnv: "", regionsEnv: "", accountNamesEnv: ""}
	var out []string
	for k, v := range env {
		t.Setenv(k, v)
		out = append(out, k+"="+v)
	}
	return append(out, "PATH=/usr/bin:/bin", "HOME=/nonexistent", "TZ=UTC")
}

// cli runs grantwatch in this process.
func cli(ctx context.Context, args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	code = run(ctx, args, &o, &e)
	return o.String(), e.String(), code
}
