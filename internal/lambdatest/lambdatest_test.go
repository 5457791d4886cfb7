package lambdatest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/internal/lambdatest"
)

// echo is the bootstrap built from testdata/echo (the real aws-lambda-go runtime client) for the host, with the
// emulator beside it.
var echo lambdatest.Function

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "lambdatest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	echo.Bootstrap = filepath.Join(dir, "bootstrap")
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", echo.Bootstrap, "./testdata/echo")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "lambdatest: build testdata/echo: %v\n%s", err, out)
		return 1
	}
	if echo.Emulator, err = lambdatest.BuildEmulator(dir); err != nil {
		fmt.Fprintln(os.Stderr, "lambdatest:", err)
		return 1
	}
	return m.Run()
}

// reply is testdata/echo's answer; its JSON names match the fields', so no tags are needed.
type reply struct {
	Payload                              json.RawMessage
	RequestID, FunctionARN, FunctionName string
	HasDeadline                          bool
	Env                                  *string
}

func invoke(t *testing.T, rt *lambdatest.Runtime, payload string) (reply, *lambdatest.InvokeError) {
	t.Helper()
	resp, fnErr := rt.Call(t, []byte(payload), 20*time.Second)
	var got reply
	if fnErr == nil {
		if err := json.Unmarshal(resp, &got); err != nil {
			t.Fatalf("Invoke(%s) response %q is not the echo reply: %v", payload, resp, err)
		}
	}
	return got, fnErr
}

func TestInvokeEchoesWithContext(t *testing.T) {
	rt := lambdatest.Start(t, echo, []string{"AWS_LAMBDA_FUNCTION_NAME=echo-fn", "GREETING=hello"})
	seen := map[string]bool{}
	for i := range 5 {
		payload := fmt.Sprintf(`{"n":%d,"env":"GREETING"}`, i)
		got, fnErr := invoke(t, rt, payload)
		if fnErr != nil {
			t.Fatalf("Invoke(%s) function error = %v; want none", payload, fnErr)
		}
		if string(got.Payload) != payload {
			t.Errorf("payload = %s; want %s", got.Payload, payload)
		}
		if got.RequestID == "" || seen[got.RequestID] {
			t.Errorf("request id %q is empty or repeated", got.RequestID)
		}
		seen[got.RequestID] = true
		if !strings.HasPrefix(got.FunctionARN, "arn:aws:lambda:") || !strings.HasSuffix(got.FunctionARN, ":echo-fn") || !got.HasDeadline {
			t.Errorf("context: arn %q, deadline %v; want the function's ARN and a deadline", got.FunctionARN, got.HasDeadline)
		}
		if got.FunctionName != "echo-fn" {
			t.Errorf("function name = %q; want the env override echo-fn", got.FunctionName)
		}
		if got.Env == nil || *got.Env != "hello" {
			t.Errorf("GREETING = %v; want hello", got.Env)
		}
	}
}

func TestInvokeIsolatesEnvironment(t *testing.T) {
	t.Setenv("LAMBDATEST_HOST_ONLY", "leaked")
	rt := lambdatest.Start(t, echo, nil)
	got, fnErr := invoke(t, rt, `{"env":"LAMBDATEST_HOST_ONLY"}`)
	if fnErr != nil {
		t.Fatalf("function error = %v", fnErr)
	}
	if got.Env == nil || *got.Env != "" {
		t.Errorf("host variable inside the function = %v; want it unset", got.Env)
	}
	got, _ = invoke(t, rt, `{"env":"AWS_LAMBDA_RUNTIME_API"}`)
	if got.Env == nil || !strings.HasPrefix(*got.Env, "127.0.0.1:") {
		t.Errorf("AWS_LAMBDA_RUNTIME_API = %v; want the emulator's loopback address", got.Env)
	}
}

func TestInvokeFunctionErrors(t *testing.T) {
	rt := lambdatest.Start(t, echo, nil)
	tests := []struct {
		name, payload, wantType, wantMessage string
	}{
		{name: "handler error", payload: `{"error":"boom requested"}`, wantType: "errorString", wantMessage: "boom requested"},
		{name: "undecodable payload", payload: `not json`, wantType: "SyntaxError", wantMessage: "invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, fnErr := invoke(t, rt, tt.payload)
			if fnErr == nil {
				t.Fatalf("Invoke(%s) function error = nil; want %s", tt.payload, tt.wantType)
			}
			if fnErr.Type != tt.wantType || !strings.Contains(fnErr.Message, tt.wantMessage) {
				t.Errorf("Invoke(%s) = %s %q; want %s containing %q", tt.payload, fnErr.Type, fnErr.Message, tt.wantType, tt.wantMessage)
			}
		})
	}
	// The function keeps serving after errors, as a warm Lambda does.
	if _, fnErr := invoke(t, rt, `{"ok":true}`); fnErr != nil {
		t.Fatalf("after errors: function error = %v", fnErr)
	}
}

// TestInvokeTimeout: the deadline is the function timeout; past it the invocation fails, and the function is
// started again for the next one.
func TestInvokeTimeout(t *testing.T) {
	rt := lambdatest.Start(t, echo, []string{"AWS_LAMBDA_FUNCTION_TIMEOUT=1"})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if _, fnErr, err := rt.Invoke(ctx, []byte(`{"hang":"1m"}`)); err == nil || fnErr != nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("Invoke(sleep past the timeout) = fnErr %v, err %v; want a timeout error", fnErr, err)
	}
	if _, fnErr := invoke(t, rt, `{}`); fnErr != nil {
		t.Fatalf("after the timeout: function error = %v", fnErr)
	}
}

func TestInvokeProcessExit(t *testing.T) {
	rt := lambdatest.Start(t, echo, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	_, fnErr, err := rt.Invoke(ctx, []byte(`{"exit":3}`))
	if err == nil || fnErr != nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("Invoke(exit 3) = fnErr %v, err %v; want err naming exit status 3", fnErr, err)
	}
	if _, fnErr := invoke(t, rt, `{}`); fnErr != nil { // Lambda starts a new runtime, as the emulator does
		t.Fatalf("after the exit: function error = %v", fnErr)
	}
}

func TestInvokeInitFailure(t *testing.T) {
	rt := lambdatest.Start(t, echo, []string{"ECHO_FAIL_INIT=TABLE_NAME is required"})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	_, fnErr, err := rt.Invoke(ctx, []byte(`{}`))
	if err == nil || fnErr != nil {
		t.Fatalf("Invoke of a function that fails at init = fnErr %v, err %v; want err", fnErr, err)
	}
	if !strings.Contains(rt.Logs(), "init failed: TABLE_NAME is required") {
		t.Errorf("logs lack the function's init message:\n%s", rt.Logs())
	}
}

func TestInvokeContextCancel(t *testing.T) {
	rt := lambdatest.Start(t, echo, nil)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	_, _, err := rt.Invoke(ctx, []byte(`{"sleep":"5s"}`))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Invoke cancelled after 300ms = %v; want context.Canceled", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Invoke returned after %s; want about 300ms", d)
	}
}

func TestCleanupStopsProcesses(t *testing.T) {
	var pids []int
	t.Run("start", func(t *testing.T) {
		rt := lambdatest.Start(t, echo, nil)
		if _, fnErr := invoke(t, rt, `{}`); fnErr != nil {
			t.Fatal(fnErr)
		}
		pids = rt.PIDs()
		go rt.Invoke(context.Background(), []byte(`{"sleep":"1m"}`)) // still running at cleanup
		time.Sleep(200 * time.Millisecond)
	})
	if len(pids) != 2 {
		t.Fatalf("PIDs() = %v; want the emulator's and the bootstrap's", pids)
	}
	// After the subtest's cleanup both are gone (reaped, or at least no longer signalable).
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("signal 0 to process %d after cleanup = %v; want ESRCH", pid, err)
		}
	}
}

func TestStartMissingBinary(t *testing.T) {
	ft := &fatalRecorder{TB: t}
	func() {
		defer func() { _ = recover() }()
		lambdatest.Start(ft, lambdatest.Function{Bootstrap: echo.Bootstrap, Emulator: filepath.Join(t.TempDir(), "nope")}, nil)
	}()
	if !strings.Contains(ft.msg, "start") {
		t.Errorf("Start(missing emulator) fatal message = %q; want a start error", ft.msg)
	}
}

// fatalRecorder turns Fatalf into a panic the test recovers, to check Start's failure path.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(f.msg)
}
