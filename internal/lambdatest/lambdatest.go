// Package lambdatest runs a Lambda bootstrap binary the way the provided.al2023 runtime does: it serves the
// Lambda Runtime API (2018-06-01) on loopback, starts the binary with AWS_LAMBDA_RUNTIME_API pointing at it, and
// hands it one invocation at a time. Tests only; see toolchain.md §6.
package lambdatest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// FunctionName is the default AWS_LAMBDA_FUNCTION_NAME; pass your own in env to override it.
const FunctionName = "lambdatest"

// DefaultTimeout is the function timeout when Runtime.Timeout is zero, as the template's Timeout.
const DefaultTimeout = 30 * time.Second

const api = "/2018-06-01/runtime"

// InvokeError is what the function reported on /error (a handler error or a payload it could not decode),
// or on /init/error.
type InvokeError struct {
	Message    string          `json:"errorMessage"`
	Type       string          `json:"errorType"`
	StackTrace json.RawMessage `json:"stackTrace,omitempty"`
	Body       []byte          `json:"-"` // the raw body as posted
}

func (e *InvokeError) Error() string { return fmt.Sprintf("lambda: %s: %s", e.Type, e.Message) }

// Runtime is a running bootstrap process and the Runtime API it talks to.
type Runtime struct {
	// Timeout is the function's timeout: each invocation's deadline (Lambda-Runtime-Deadline-Ms) is this far
	// ahead, or the ctx deadline if that is sooner. Zero means DefaultTimeout. Set it before invoking.
	Timeout time.Duration

	addr    string
	cmd     *exec.Cmd
	next    chan *invocation // unbuffered: an Invoke waits until the function asks for work
	exited  chan struct{}    // closed when the process has exited
	exitErr error            // set before exited is closed
	logs    syncBuffer

	mu      sync.Mutex
	pending map[string]*invocation
	initErr *InvokeError
}

type invocation struct {
	id       string
	payload  []byte
	deadline time.Time
	done     chan outcome // buffered 1: the first /response or /error wins
}

type outcome struct {
	resp  []byte
	fnErr *InvokeError
}

// Start serves the Runtime API on 127.0.0.1, starts bootstrapPath with the runtime's variables followed by env
// (later entries win), and stops both in t.Cleanup. The process gets no other environment: HOME is an empty
// temporary directory, so no developer AWS configuration leaks in. Its output is logged when the test fails.
func Start(t testing.TB, bootstrapPath string, env []string) *Runtime {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("lambdatest: listen on loopback: %v", err)
	}
	r := &Runtime{
		addr:    l.Addr().String(),
		next:    make(chan *invocation),
		exited:  make(chan struct{}),
		pending: map[string]*invocation{},
	}
	srv := &http.Server{Handler: r.routes(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()

	r.cmd = exec.Command(bootstrapPath)
	r.cmd.Env = append([]string{
		"AWS_LAMBDA_RUNTIME_API=" + r.addr,
		"AWS_LAMBDA_FUNCTION_NAME=" + FunctionName,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_LOG_FORMAT=JSON",
		"AWS_LAMBDA_LOG_LEVEL=INFO",
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
		"HOME=" + t.TempDir(),
		"TZ=UTC",
	}, env...)
	r.cmd.Stdout, r.cmd.Stderr = &r.logs, &r.logs
	if err := r.cmd.Start(); err != nil {
		_ = srv.Close()
		t.Fatalf("lambdatest: start %s: %v", bootstrapPath, err)
	}
	go func() {
		r.exitErr = r.cmd.Wait()
		close(r.exited)
	}()
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill() // by PID; harmless if it already exited
		<-r.exited
		_ = srv.Close() // also ends a /next the process left waiting
		if t.Failed() {
			t.Logf("lambdatest: output of %s:\n%s", bootstrapPath, r.Logs())
		}
	})
	return r
}

// Addr is the host:port of the Runtime API, as in AWS_LAMBDA_RUNTIME_API.
func (r *Runtime) Addr() string { return r.addr }

// Logs returns everything the process has written to stdout and stderr so far.
func (r *Runtime) Logs() string { return r.logs.String() }

// PID is the process id of the running bootstrap.
func (r *Runtime) PID() int { return r.cmd.Process.Pid }

// Invoke hands payload to the function and waits for its answer. A function error (the handler returned one, or
// could not decode the payload) is fnErr; err is for everything else: ctx ended, the process exited or failed
// to initialise.
func (r *Runtime) Invoke(ctx context.Context, payload []byte) (resp []byte, fnErr *InvokeError, err error) {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	inv := &invocation{id: newID(), payload: payload, deadline: deadline, done: make(chan outcome, 1)}
	select {
	case r.next <- inv:
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("lambdatest: function never asked for the event: %w", ctx.Err())
	case <-r.exited:
		return nil, nil, r.exitError()
	}
	select {
	case o := <-inv.done:
		return o.resp, o.fnErr, nil
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("lambdatest: invocation %s: %w", inv.id, ctx.Err())
	case <-r.exited:
		return nil, nil, r.exitError()
	}
}

// InitError is what the function posted to /runtime/init/error, if anything.
func (r *Runtime) InitError() *InvokeError {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.initErr
}

func (r *Runtime) exitError() error {
	if ie := r.InitError(); ie != nil {
		return fmt.Errorf("lambdatest: function failed to initialise (%v) and exited: %v", ie, r.exitErr)
	}
	return fmt.Errorf("lambdatest: function exited: %v", r.exitErr)
}

func (r *Runtime) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api+"/invocation/next", r.handleNext)
	mux.HandleFunc("POST "+api+"/invocation/{id}/response", func(w http.ResponseWriter, req *http.Request) {
		r.finish(w, req, func(body []byte) outcome { return outcome{resp: body} })
	})
	mux.HandleFunc("POST "+api+"/invocation/{id}/error", func(w http.ResponseWriter, req *http.Request) {
		r.finish(w, req, func(body []byte) outcome { return outcome{fnErr: decodeError(body)} })
	})
	mux.HandleFunc("POST "+api+"/init/error", func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.initErr = decodeError(body)
		r.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	})
	return mux
}

// handleNext blocks until Invoke offers an event, as the real API does.
func (r *Runtime) handleNext(w http.ResponseWriter, req *http.Request) {
	var inv *invocation
	select {
	case inv = <-r.next:
	case <-req.Context().Done():
		return
	}
	r.mu.Lock()
	r.pending[inv.id] = inv
	r.mu.Unlock()
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
	h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
	h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:"+FunctionName)
	h.Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(inv.payload)
}

func (r *Runtime) finish(w http.ResponseWriter, req *http.Request, result func([]byte) outcome) {
	id := req.PathValue("id")
	r.mu.Lock()
	inv, ok := r.pending[id]
	delete(r.pending, id)
	r.mu.Unlock()
	if !ok {
		http.Error(w, `{"errorMessage":"unknown request id","errorType":"InvalidRequestID"}`, http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	inv.done <- result(body)
	w.WriteHeader(http.StatusAccepted)
}

func decodeError(body []byte) *InvokeError {
	e := &InvokeError{Body: body}
	if err := json.Unmarshal(body, e); err != nil || (e.Message == "" && e.Type == "") {
		e.Type, e.Message = "Unknown", string(body)
	}
	return e
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// syncBuffer is a bytes.Buffer the process's stdout and stderr copiers can share with readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var _ error = (*InvokeError)(nil)

// Build builds a function's bootstrap the way sam build does (make build-<logicalID> in root), for the host's
// architecture so that it runs here, into dir. It returns the binary's path.
func Build(root, logicalID, dir string) (string, error) {
	target := "build-" + logicalID
	for _, tool := range []string{"make", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", fmt.Errorf("%s is not on PATH: the test builds the function with make %s", tool, target)
		}
	}
	arch, err := exec.Command("go", "env", "GOARCH").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOARCH: %w", err)
	}
	cmd := exec.Command("make", "-C", root, target, "ARTIFACTS_DIR="+dir, "ARCH="+strings.TrimSpace(string(arch)))
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("make %s: %w\n%s", target, err, out)
	}
	return filepath.Join(dir, "bootstrap"), nil
}
