// Package golden compares test output with files under testdata/ and rewrites them when the test runs with
// -update. Import it only from _test.go files: the flag is registered by the importing test binary, so pass
// -update only to packages that import golden (`go test ./pkg/trail -update`).
package golden

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

// Assert compares got with the golden file at path. With -update it writes got to path instead, so that the
// change shows up in review as a diff of the golden file.
func Assert(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatalf("golden: %v", err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("golden: %v", err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden: %v (run go test with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		// Compared as lines, so that cmp reports the lines that changed and elides the runs that did not.
		t.Errorf("golden: output differs from %s (-want +got; run go test with -update to accept):\n%s", path,
			cmp.Diff(strings.SplitAfter(string(want), "\n"), strings.SplitAfter(string(got), "\n")))
	}
}
