package main

// Progress on stderr while a command works: on a terminal, a spinner line redrawn in place (and erased before
// anything else is printed); elsewhere (CI logs, files), one JSON line every progressEvery. Both say what the command
// has done so far and which AWS call it is waiting for, since when, where, and what the last attempt got, so a slow
// or silent endpoint shows up as such. Hand-written: a one-line spinner needs no dependency.

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/olekukonko/tablewriter/pkg/twwidth"
)

var (
	// progressEvery is the interval of the JSON lines; tests shorten it.
	progressEvery = 15 * time.Second
	// spinnerDelay keeps quick commands from drawing anything.
	spinnerDelay = 400 * time.Millisecond
)

const spinnerTick = 120 * time.Millisecond

var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// progress is one command's progress line. The zero of each field is a valid start; all methods are safe for
// concurrent use and do nothing on a nil *progress.
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	width    int
	command  string
	started  time.Time
	calls    int
	inFlight map[*call]bool
	status   string
	fields   []any // the status for JSON lines
	running  bool
	stopped  bool
	done     chan struct{}
	drawn    bool
	frame    int
}

// call is one AWS operation under way.
type call struct {
	service, op string
	since       time.Time
	attempts    int
	endpoint    string
	last        string // what the last attempt got: an HTTP status or an error, "" when it succeeded
	// The call's timeout, started by its first HTTP attempt (session.call); nil when it has none.
	startTimer, stopTimer func()
}

func newProgress(w io.Writer, command string) *progress {
	p := &progress{w: w, command: command, started: time.Now(), inFlight: map[*call]bool{}, width: defaultWidth}
	if f, ok := w.(*os.File); ok {
		if n, ok := terminalWidth(f); ok {
			p.tty, p.width = true, n
		}
	}
	return p
}

// start runs the ticker, once, on the first sign of work.
func (p *progress) startLocked() {
	if p.running || p.stopped {
		return
	}
	p.running, p.done = true, make(chan struct{})
	every := progressEvery
	if p.tty {
		every = spinnerTick
	}
	go func(done chan struct{}) {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				p.tick()
			}
		}
	}(p.done)
}

// set replaces the command's own part of the line: a short text for the spinner, key-value pairs for JSON.
func (p *progress) set(status string, fields ...any) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status, p.fields = status, fields
	p.startLocked()
}

func (p *progress) begin(service, op string) *call {
	c := &call{service: service, op: op, since: time.Now()}
	if p == nil {
		return c
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inFlight[c] = true
	p.startLocked()
	return c
}

func (p *progress) end(c *call) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.inFlight, c)
	p.calls++
}

func (p *progress) attempt(c *call, endpoint string) {
	if p == nil || c == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c.attempts++
	c.endpoint = endpoint
}

func (p *progress) answered(c *call, problem string) {
	if p == nil || c == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c.last = problem
}

func (c *call) where() string {
	if c.endpoint == "" {
		return "the endpoint"
	}
	return c.endpoint
}

func (c *call) problem() string { return c.last }

// stop ends the line: the ticker stops and a drawn spinner is erased. It is safe to call more than once.
func (p *progress) stop() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	if p.running {
		close(p.done)
		p.running = false
	}
	p.eraseLocked()
}

func (p *progress) eraseLocked() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

// writer returns w made to erase the spinner before each write, so output and the spinner never share a line; the
// next tick draws it again below.
func (p *progress) writer(w io.Writer) io.Writer {
	if p == nil || !p.tty {
		return w
	}
	return writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.eraseLocked()
		return w.Write(b)
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func (p *progress) tick() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	now := time.Now()
	if p.tty {
		if now.Sub(p.started) < spinnerDelay {
			return
		}
		p.frame++
		line := spinnerFrames[p.frame%len(spinnerFrames)] + " " + p.summaryLocked(now)
		fmt.Fprint(p.w, "\r"+twwidth.Truncate(line, p.width-1, "…")+"\033[K")
		p.drawn = true
		return
	}
	attrs := []any{"command", p.command, "elapsed", human(now.Sub(p.started)), "awsCalls", p.calls}
	attrs = append(attrs, p.fields...)
	if c := p.oldestLocked(); c != nil {
		attrs = append(attrs, "waitingFor", c.service+" "+c.op, "waitingSince", human(now.Sub(c.since)), "attempts", c.attempts)
		if c.endpoint != "" {
			attrs = append(attrs, "endpoint", c.endpoint)
		}
		if c.last != "" {
			attrs = append(attrs, "lastAttempt", c.last)
		}
	}
	slog.New(slog.NewJSONHandler(p.w, nil)).Info("progress", attrs...)
}

// summaryLocked is the spinner's text: the command's status, the calls made, the call waited for longest.
func (p *progress) summaryLocked(now time.Time) string {
	parts := []string{p.command}
	if p.status != "" {
		parts = append(parts, p.status)
	}
	parts = append(parts, fmt.Sprintf("%d AWS calls", p.calls))
	if c := p.oldestLocked(); c != nil {
		s := fmt.Sprintf("waiting %s for %s %s at %s", human(now.Sub(c.since).Truncate(time.Second)), c.service, c.op, c.where())
		if c.attempts > 1 || c.last != "" {
			s += fmt.Sprintf(" (attempt %d", c.attempts)
			if c.last != "" {
				s += ", last: " + c.last
			}
			s += ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " · ")
}

func (p *progress) oldestLocked() *call {
	var calls []*call
	for c := range p.inFlight {
		calls = append(calls, c)
	}
	if len(calls) == 0 {
		return nil
	}
	sort.Slice(calls, func(i, j int) bool { return calls[i].since.Before(calls[j].since) })
	return calls[0]
}
