//go:build integration

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/internal/golden"
	"github.com/grantwatch/grantwatch/internal/testenv"
)

// Screen tests: the commands people read, run in a real terminal of 120 x 40 (tmux), on the demo data (every
// scenario of events/scenarios replayed into DynamoDB on moto). What the terminal shows is compared with a golden
// file in testdata/screen, and no line of it may be wider than the terminal: capture-pane -J joins the lines the
// terminal wrapped, so a line too wide shows as one.

const (
	screenWidth, screenHeight = 120, 40
	screenTable               = "grantwatch-screen"
	// screenWait bounds how long one command may take in the terminal.
	screenWait = 60 * time.Second
)

// screen is a tmux server of its own (its socket in a temporary folder), stopped when the test ends.
type screen struct {
	t          *testing.T
	tmux, sock string
	pid        int
}

func newScreen(t *testing.T) *screen {
	t.Helper()
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Fatalf("tmux is not on PATH: the screen tests need a real terminal; install it with apt-get install tmux (README, Requirements)")
	}
	dir, err := os.MkdirTemp("", "gw-tmux") // short: a socket path has at most 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	conf := filepath.Join(dir, "tmux.conf")
	// The pane is exactly the terminal: no status line.
	if err := os.WriteFile(conf, []byte("set -g status off\nset -g history-limit 20000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &screen{t: t, tmux: tmux, sock: filepath.Join(dir, "sock")}
	s.run("-f", conf, "new-session", "-d", "-s", "idle", "-x", strconv.Itoa(screenWidth), "-y", strconv.Itoa(screenHeight), "sleep 600")
	pid, err := strconv.Atoi(strings.TrimSpace(s.run("display-message", "-p", "-t", "idle", "#{pid}")))
	if err != nil {
		t.Fatalf("tmux server pid: %v", err)
	}
	s.pid = pid
	t.Cleanup(s.stop)
	return s
}

func (s *screen) run(args ...string) string {
	return s.runT(s.t, args...)
}

func (s *screen) runT(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(s.tmux, append([]string{"-S", s.sock}, args...)...)
	cmd.Env = append(os.Environ(), "LANG=C.UTF-8")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// stop kills every session and the server, then the server's process by its PID if it is still there.
func (s *screen) stop() {
	_ = exec.Command(s.tmux, "-S", s.sock, "kill-server").Run()
	for range 50 {
		if syscall.Kill(s.pid, 0) != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(s.pid, syscall.SIGKILL)
}

// show runs grantwatch with args in a new 120 x 40 window, waits (bounded) for it to finish, and returns everything
// the terminal showed, scrollback included, with its exit status. The shell in the window prints the status after
// grantwatch's last byte, and then waits: the window stays until it is killed, with nothing written over it.
func (s *screen) show(t *testing.T, name string, env []string, args ...string) (string, int) {
	t.Helper()
	words := []string{"env", "-i"}
	for _, e := range env {
		words = append(words, shellQuote(e))
	}
	words = append(words, shellQuote(binPath))
	for _, a := range args {
		words = append(words, shellQuote(a))
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	script := strings.Join(words, " ") + `; echo "` + exitMark + `$?"; exec sleep 600`
	s.runT(t, "new-session", "-d", "-s", name, "-x", strconv.Itoa(screenWidth), "-y", strconv.Itoa(screenHeight), "-c", root, script)
	defer s.runT(t, "kill-session", "-t", name)
	deadline := time.Now().Add(screenWait)
	for {
		shown := s.runT(t, "capture-pane", "-p", "-J", "-S", "-", "-E", "-", "-t", name)
		if i := strings.LastIndex(shown, "\n"+exitMark); i >= 0 {
			rest, _, _ := strings.Cut(shown[i+1+len(exitMark):], "\n")
			code, err := strconv.Atoi(strings.TrimSpace(rest))
			if err != nil {
				t.Fatalf("%s: exit status %q", name, rest)
			}
			return shown[:i+1], code
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: grantwatch %v still running after %s:\n%s", name, args, screenWait, shown)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// exitMark starts the line the window's shell prints when grantwatch has exited.
const exitMark = "[grantwatch exited with status "

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// trimScreen drops the blanks the terminal keeps: trailing spaces of a line (-J keeps them) and the empty rows
// below the output.
func trimScreen(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.TrimRight(strings.Join(lines, "\n"), "\n") + "\n"
}

func TestScreens(t *testing.T) {
	scr := newScreen(t)
	testenv.Start(t)
	testenv.Reset(t)
	env := append(testenv.Env(), "PATH=/usr/bin:/bin", "HOME=/nonexistent", "TZ=UTC", "LANG=C.UTF-8", "AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null", tableEnv+"="+screenTable)
	if _, stderr, code, _ := runBinEnv(t, env, screenWait, "table", "create"); code != 0 {
		t.Fatalf("table create: exit %d: %s", code, stderr)
	}
	for _, tt := range []struct {
		name string
		args []string
		code int
	}{
		// The demo data: every scenario, 09-malformed's broken files rejected on purpose (exit 1).
		{"replay", []string{"replay", "--at", at, "events/scenarios"}, exitRejected},
		{"grants", []string{"grants", "--at", at}, 0},
		{"grants-active-secondaries", []string{"grants", "--kind", "secondary", "--state", "active", "--at", at}, 0},
		{"keys", []string{"keys", "--at", at}, 0},
		{"history-long-lived-secondary", []string{"history", "0202be99679f", "--at", at}, 0},
		{"history-primary-with-children", []string{"history", "0101ea75", "--at", at}, 0},
		{"history-job-aware-alert", []string{"history", "1502b3d47e1c", "--at", at}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, code := scr.show(t, tt.name, env, tt.args...)
			got = trimScreen(got)
			if code != tt.code {
				t.Errorf("grantwatch %v: exit %d; want %d\n%s", tt.args, code, tt.code, got)
			}
			for i, l := range strings.Split(got, "\n") {
				if n := len([]rune(l)); n > screenWidth {
					t.Errorf("line %d is %d columns wide, more than the terminal's %d:\n%s", i+1, n, screenWidth, l)
				}
			}
			golden.Assert(t, filepath.Join("testdata", "screen", tt.name+".golden"), []byte(got))
		})
	}
}
