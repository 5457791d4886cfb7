// Package testenv runs moto_server on loopback for integration tests: one server per test binary, started by
// TestMain, reset between tests, stopped by PID. It fails loudly when moto_server is missing; it never skips.
package testenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Region is the region every integration test uses.
const Region = "us-east-1"

var endpoint string

// Main starts moto_server, runs the tests and stops the server. Use it as os.Exit(testenv.Main(m)) in TestMain.
func Main(m *testing.M) int {
	stop, err := start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		return 1
	}
	defer stop()
	return m.Run()
}

// Endpoint is the base URL of the running moto_server, e.g. http://127.0.0.1:40123.
func Endpoint() string { return endpoint }

// AWSConfig returns an SDK config that talks to moto with static test credentials.
func AWSConfig() aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(endpoint),
	}
}

// Reset wipes the state of every moto service, so each test starts empty.
func Reset(t testing.TB) {
	t.Helper()
	resp, err := http.Post(endpoint+"/moto-api/reset", "application/json", nil)
	if err != nil {
		t.Fatalf("reset moto: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("reset moto: HTTP %d", resp.StatusCode)
	}
}

// Env returns the environment variables that point the AWS SDK and CLI at moto.
func Env() []string { return EnvAt(endpoint) }

// SetEnv sets Env in this process for the length of t (t.Setenv), for code that builds its AWS configuration from
// the environment in the test's own process, such as the CLI's run.
func SetEnv(t testing.TB) {
	t.Helper()
	for _, kv := range Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// EnvAt returns the environment variables that point the AWS SDK and CLI at url (a proxy in front of moto, a port
// nothing listens on), with moto's test credentials and Region.
func EnvAt(url string) []string {
	return []string{
		"AWS_ENDPOINT_URL=" + url,
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"AWS_REGION=" + Region,
		"AWS_DEFAULT_REGION=" + Region,
	}
}

func start() (stop func(), err error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, fmt.Errorf("moto_server is not on PATH: integration tests need it (it comes preinstalled with the machine image; see README)")
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = nil, nil // moto logs every request; keep test output readable
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moto_server: %w", err)
	}
	stop = func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	}
	endpoint = "http://127.0.0.1:" + strconv.Itoa(port)
	if err := waitReady(endpoint, 60*time.Second); err != nil {
		stop()
		return nil, err
	}
	return stop, nil
}

// waitReady polls moto's API until it answers, in a bounded loop.
func waitReady(base string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/moto-api/", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("moto_server at %s not ready after %s", base, limit)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
