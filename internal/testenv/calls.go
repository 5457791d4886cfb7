package testenv

// Helpers for tests that cannot use TestMain (their package already has one) and for counting the
// DynamoDB operations a process makes, whether in this process or a child (a CLI binary, a Lambda bootstrap).

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
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
	target, err := url.Parse(endpoint)
	if err != nil || endpoint == "" {
		t.Fatalf("testenv: CountingProxy needs a running moto_server (endpoint %q)", endpoint)
	}
	calls := &Calls{ops: map[string]int{}}
	proxy := httputil.NewSingleHostReverseProxy(target)
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
