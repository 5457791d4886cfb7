// Package lambdatest runs a function's real bootstrap the way Lambda does, under AWS's own Runtime Interface
// Emulator (aws-lambda-rie), and invokes it over HTTP. The emulator is built by the test from its pinned
// pseudo-version (the Go build cache makes that a second after the first time), listens on loopback ports chosen
// free, and is stopped with its bootstrap by PID. Tests only; see toolchain.md.
package lambdatest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/grantwatch/grantwatch/internal/testenv"
)

// Emulator is the module path and pinned version of aws-lambda-rie (toolchain.md: the tagged releases are not
// served by the module proxy).
const (
	Emulator        = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
	EmulatorVersion = "v0.0.0-20261030222936-bef5c4ba774d"
)

// FunctionName is the default AWS_LAMBDA_FUNCTION_NAME; pass your own in env to override it.
const FunctionName = "lambdatest"

// Function is a built bootstrap and the emulator that runs it.
type Function struct {
	Bootstrap string
	Emulator  string
}

// Build builds a function's bootstrap the way sam build does (make build-<logicalID> in root), for the host's
// architecture so that it runs here, and the emulator, both into dir.
func Build(root, logicalID, dir string) (Function, error) {
	target := "build-" + logicalID
	for _, tool := range []string{"make", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			return Function{}, fmt.Errorf("%s is not on PATH: the test builds the function with make %s and the emulator with go install", tool, target)
		}
	}
	arch, err := exec.Command("go", "env", "GOARCH").Output()
	if err != nil {
		return Function{}, fmt.Errorf("go env GOARCH: %w", err)
	}
	cmd := exec.Command("make", "-C", root, target, "ARTIFACTS_DIR="+dir, "ARCH="+strings.TrimSpace(string(arch)))
	if out, err := cmd.CombinedOutput(); err != nil {
		return Function{}, fmt.Errorf("make %s: %w\n%s", target, err, out)
	}
	rie, err := BuildEmulator(dir)
	if err != nil {
		return Function{}, err
	}
	return Function{Bootstrap: filepath.Join(dir, "bootstrap"), Emulator: rie}, nil
}

// BuildEmulator installs aws-lambda-rie at EmulatorVersion into dir and returns its path.
func BuildEmulator(dir string) (string, error) {
	cmd := exec.Command("go", "install", Emulator+"@"+EmulatorVersion)
	// Outside any module (the path@version form ignores the current one); CGO off as the Makefile builds.
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install %s@%s: %w\n%s", Emulator, EmulatorVersion, err, out)
	}
	return filepath.Join(dir, "aws-lambda-rie"), nil
}

// Main builds the function named logicalID (a template.yaml logical id) into a temporary folder, stores it in *f,
// and runs the package's tests with moto_server (testenv.Main). Use it as
// os.Exit(lambdatest.Main(m, "IngestFunction", &function)) in TestMain.
func Main(m *testing.M, logicalID string, f *Function) int {
	dir, err := os.MkdirTemp("", "bootstrap-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if *f, err = Build(filepath.Join("..", ".."), logicalID, dir); err != nil {
		fmt.Fprintln(os.Stderr, "bootstrap test:", err)
		return 1
	}
	return testenv.Main(m)
}

// InvokeError is what the function reported as its error: a handler error or a payload it could not decode.
type InvokeError struct {
	Message string `json:"errorMessage"`
	Type    string `json:"errorType"`
}

func (e *InvokeError) Error() string { return fmt.Sprintf("lambda: %s: %s", e.Type, e.Message) }

// Runtime is a running emulator with the function's bootstrap.
type Runtime struct {
	url    string // the emulator's invoke URL
	cmd    *exec.Cmd
	exited chan struct{}
	logs   syncBuffer
}

// Start runs f under the emulator on 127.0.0.1 with the runtime's variables followed by env (later entries win;
// AWS_LAMBDA_FUNCTION_TIMEOUT sets the deadline in whole seconds, 30 by default), and stops both in t.Cleanup. The
// process gets no other environment: HOME is an empty temporary folder, so no developer AWS configuration leaks
// in. The output of the emulator and the function is logged when the test fails.
func Start(t testing.TB, f Function, env []string) *Runtime {
	t.Helper()
	invokeAddr, apiAddr := freeAddr(t), freeAddr(t)
	r := &Runtime{url: "http://" + invokeAddr + "/2015-03-31/functions/function/invocations", exited: make(chan struct{})}
	r.cmd = exec.Command(f.Emulator, "--runtime-interface-emulator-address", invokeAddr, "--runtime-api-address", apiAddr,
		"--log-level", "error", f.Bootstrap)
	r.cmd.Env = append([]string{
		"AWS_LAMBDA_FUNCTION_NAME=" + FunctionName,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_LAMBDA_FUNCTION_TIMEOUT=30",
		"AWS_LAMBDA_LOG_FORMAT=JSON",
		"AWS_LAMBDA_LOG_LEVEL=INFO",
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
		"HOME=" + t.TempDir(),
		"TZ=UTC",
	}, env...)
	r.cmd.Stdout, r.cmd.Stderr = &r.logs, &r.logs
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("lambdatest: start %s: %v", f.Emulator, err)
	}
	go func() {
		_ = r.cmd.Wait() // returns once the bootstrap, which writes to the same output, has exited too
		close(r.exited)
	}()
	t.Cleanup(func() {
		r.stop()
		if t.Failed() {
			t.Logf("lambdatest: output of %s:\n%s", f.Bootstrap, r.Logs())
		}
	})
	if err := r.ready(invokeAddr, 10*time.Second); err != nil {
		t.Fatalf("lambdatest: %v\n%s", err, r.Logs())
	}
	return r
}

// OnMoto starts f as Start does, with the environment that points it at moto (testenv.Env) followed by env.
func OnMoto(t testing.TB, f Function, env ...string) *Runtime {
	t.Helper()
	return Start(t, f, append(testenv.Env(), env...))
}

// OnTable creates the grant table named table on a fresh moto (testenv.Table) and starts f on moto with
// TABLE_NAME=table followed by env. It returns the runtime and a DynamoDB client on moto. The bootstrap itself
// starts at the first invocation, so the test may seed the table after this.
func OnTable(t testing.TB, f Function, table string, env ...string) (*Runtime, *dynamodb.Client) {
	t.Helper()
	api := testenv.Table(t, table)
	return OnMoto(t, f, append([]string{"TABLE_NAME=" + table}, env...)...), api
}

// stop ends the emulator and the bootstrap by PID. The emulator stops its runtime on SIGTERM, even in the middle
// of an invocation; it runs the bootstrap in a process group of its own, so a bootstrap it failed to stop is
// killed by that group's id.
func (r *Runtime) stop() {
	children := childPIDs(r.cmd.Process.Pid)
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
		return
	case <-time.After(3 * time.Second):
	}
	_ = r.cmd.Process.Kill()
	for _, pid := range children {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
	<-r.exited
}

// childPIDs lists the children of pid, from /proc (Linux, where the tests run).
func childPIDs(pid int) []int {
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, field := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(field); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// ready waits until the emulator accepts connections.
func (r *Runtime) ready(addr string, limit time.Duration) error {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-r.exited:
			return errors.New("the emulator exited at start")
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
	}
	return fmt.Errorf("the emulator did not listen on %s within %s", addr, limit)
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("lambdatest: find a free loopback port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// PIDs are the process ids of the emulator and of the bootstrap it runs (none before the first invocation).
func (r *Runtime) PIDs() []int {
	return append([]int{r.cmd.Process.Pid}, childPIDs(r.cmd.Process.Pid)...)
}

// Logs returns everything the emulator and the function have written so far.
func (r *Runtime) Logs() string { return r.logs.String() }

// Invoke hands payload to the function and waits for its answer. A function error (the handler returned one, or
// could not decode the payload) is fnErr; err is for everything else: ctx ended, the function failed to
// initialise, exited or timed out.
func (r *Runtime) Invoke(ctx context.Context, payload []byte) (resp []byte, fnErr *InvokeError, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(payload))
	if err != nil {
		return nil, nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("lambdatest: invoke: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("lambdatest: read the answer: %w", err)
	}
	switch {
	case res.StatusCode == http.StatusBadGateway:
		// The emulator's answer when the runtime failed to initialise or exited (Runtime.ExitError).
		return nil, nil, fmt.Errorf("lambdatest: the function failed to initialise or exited: %s", body)
	case res.StatusCode != http.StatusOK:
		return nil, nil, fmt.Errorf("lambdatest: invoke: HTTP %d: %s", res.StatusCode, body)
	case bytes.HasPrefix(body, []byte("Task timed out after")):
		return nil, nil, fmt.Errorf("lambdatest: %s", body)
	}
	if e := functionError(body); e != nil {
		return nil, e, nil
	}
	return body, nil, nil
}

// Call invokes the function with payload, waiting at most limit, and fails t when the invocation itself failed
// (Invoke's err). A function error is returned for the test to judge.
func (r *Runtime) Call(t testing.TB, payload []byte, limit time.Duration) ([]byte, *InvokeError) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	defer cancel()
	resp, fnErr, err := r.Invoke(ctx, payload)
	if err != nil {
		t.Fatalf("lambdatest: invoke %.80s: %v", payload, err)
	}
	return resp, fnErr
}

// CallOK is Call for an invocation that must succeed: a function error fails t too.
func (r *Runtime) CallOK(t testing.TB, payload []byte, limit time.Duration) []byte {
	t.Helper()
	resp, fnErr := r.Call(t, payload, limit)
	if fnErr != nil {
		t.Fatalf("lambdatest: invoke %.80s: function error %v", payload, fnErr)
	}
	return resp
}

// functionError recognises the emulator's answer for a function error: status 200 and a body that holds only
// errorMessage and errorType (and stackTrace), which no handler of ours returns as a result.
func functionError(body []byte) *InvokeError {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil || fields["errorType"] == nil || fields["errorMessage"] == nil {
		return nil
	}
	for k := range fields {
		if k != "errorType" && k != "errorMessage" && k != "stackTrace" {
			return nil
		}
	}
	var e InvokeError
	if json.Unmarshal(body, &e) != nil {
		return nil
	}
	return &e
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
