package testenv

// Helpers for tests that cannot use TestMain (their package already has one), for a fresh grant table, and for
// counting the DynamoDB operations a process makes, whether in this process or a child (a CLI binary, a Lambda
// bootstrap).

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/grantwatch/grantwatch/pkg/store"
)

// Start starts moto_server for one test (when Main has not already), and stops it when the test ends. Endpoint,
// AWSConfig, Env and Reset then work as with Main.
func Start(t testing.TB) {
	t.Helper()
	if endpoint != "" {
		return
	}
	stop, err := start()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		stop()
		endpoint = ""
	})
}

// Table resets moto and creates the grant table named name on it (store.CreateTable), for a test that starts from
// nothing. It returns a DynamoDB client on moto.
func Table(t testing.TB, name string) *dynamodb.Client {
	t.Helper()
	Reset(t)
	client := dynamodb.NewFromConfig(AWSConfig())
	if err := store.CreateTable(context.Background(), client, name); err != nil {
		t.Fatalf("testenv: create table %s: %v", name, err)
	}
	return client
}

// Calls counts the DynamoDB operations that pass through a recording proxy in front of moto.
type Calls struct {
	mu  sync.Mutex
	ops map[string]int
}

// Counts returns a copy of the counts by operation name (Query, GetItem, Scan, ...).
func (c *Calls) Counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.ops))
	for k, v := range c.ops {
		out[k] = v
	}
	return out
}

// Reset forgets what was counted.
func (c *Calls) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ops = map[string]int{}
}

// CountingProxy starts a loopback reverse proxy to moto that counts DynamoDB operations by their X-Amz-Target
// header, and returns its URL: point AWS_ENDPOINT_URL or a client's BaseEndpoint at it.
func CountingProxy(t testing.TB) (string, *Calls) {
	t.Helper()
	calls := &Calls{ops: map[string]int{}}
	proxy := motoProxy(t, "CountingProxy")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// DynamoDB's JSON protocol names the operation in the header: DynamoDB_20120810.Query.
		if op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810."); ok {
			calls.mu.Lock()
			calls.ops[op]++
			calls.mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, calls
}

// CheckReadOnly fails t unless who made Query and GetItem calls, and no other: a read path must never Scan or write.
func (c *Calls) CheckReadOnly(t testing.TB, who string) {
	t.Helper()
	got := c.Counts()
	if got["Scan"] != 0 || got["Query"] == 0 || got["GetItem"] == 0 {
		t.Errorf("DynamoDB calls of %s = %v; want Query and GetItem, never Scan", who, got)
	}
	for op := range got {
		if op != "Query" && op != "GetItem" {
			t.Errorf("%s called %s (%v)", who, op, got)
		}
	}
}

// motoProxy returns a reverse proxy to the running moto_server, for who (the helper that needs it).
func motoProxy(t testing.TB, who string) *httputil.ReverseProxy {
	t.Helper()
	target, err := url.Parse(endpoint)
	if err != nil || endpoint == "" {
		t.Fatalf("testenv: %s needs a running moto_server (endpoint %q)", who, endpoint)
	}
	return httputil.NewSingleHostReverseProxy(target)
}
