package golden

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps what Assert reports instead of failing the test that runs it.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestAssert(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.golden")
	if err := os.WriteFile(path, []byte("a\nb\nc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	Assert(t, path, []byte("a\nb\nc\n"))

	r := &recorder{TB: t}
	Assert(r, path, []byte("a\nB\nc\n"))
	// go-cmp varies its spacing on purpose (so that nobody parses it): compare with spaces made plain.
	msg := ""
	if len(r.errors) == 1 {
		msg = strings.Join(strings.Fields(strings.ReplaceAll(r.errors[0], "\u00a0", " ")), " ")
	}
	if !strings.Contains(msg, path) || !strings.Contains(msg, `- "b\n",`) || !strings.Contains(msg, `+ "B\n",`) {
		t.Errorf("Assert of a changed line reported %q; want one error naming the file, the line wanted and the line got", r.errors)
	}

	*update = true
	t.Cleanup(func() { *update = false })
	newPath := filepath.Join(t.TempDir(), "sub", "new.golden")
	Assert(t, newPath, []byte("new\n"))
	got, err := os.ReadFile(newPath)
	if err != nil || string(got) != "new\n" {
		t.Errorf("after -update, %s = %q, %v; want %q", newPath, got, err, "new\n")
	}
}
