// Package golden compares test output with files under testdata/ and rewrites them when the test runs with
// -update. Import it only from _test.go files: the flag is registered by the importing test binary, so pass
// -update only to packages that import golden (`go test ./pkg/trail -update`).
package golden

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
		t.Errorf("golden: output differs from %s (-want +got; run go test with -update to accept):\n%s", path, diff(string(want), string(got)))
	}
}

// maxDiffCells bounds the line-diff table; larger inputs get a shorter report starting at the first difference.
const maxDiffCells = 1 << 20

// diff returns a line diff of want and got: "-" lines only in want, "+" lines only in got, "  " lines in both.
// Runs of more than 3 unchanged lines are cut short.
func diff(want, got string) string {
	a, b := lines(want), lines(got)
	if len(a)*len(b) > maxDiffCells {
		return firstDifference(a, b)
	}
	// lcs[i][j] is the length of the longest common subsequence of a[i:] and b[j:].
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	var same []string // unchanged lines not yet written
	skip := func(n int) { fmt.Fprintf(&out, "  ... %d unchanged lines ...\n", n) }
	// flush writes the unchanged lines before a change, keeping 3 lines of context on each side of it.
	flush := func() {
		switch {
		case out.Len() == 0 && len(same) > 3:
			skip(len(same) - 3)
			same = same[len(same)-3:]
		case len(same) > 6:
			writeLines(&out, "  ", same[:3])
			skip(len(same) - 6)
			same = same[len(same)-3:]
		}
		writeLines(&out, "  ", same)
		same = nil
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			same = append(same, a[i])
			i++
			j++
		case i < len(a) && (j == len(b) || lcs[i+1][j] >= lcs[i][j+1]):
			flush()
			writeLines(&out, "- ", a[i:i+1])
			i++
		default:
			flush()
			writeLines(&out, "+ ", b[j:j+1])
			j++
		}
	}
	if len(same) > 3 {
		writeLines(&out, "  ", same[:3])
		skip(len(same) - 3)
	} else {
		writeLines(&out, "  ", same)
	}
	return out.String()
}

// firstDifference reports the first differing line of two long inputs.
func firstDifference(a, b []string) string {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	line := func(s []string) string {
		if n < len(s) {
			return strings.TrimSuffix(s[n], "\n")
		}
		return "(end of file)"
	}
	return fmt.Sprintf("first difference at line %d:\n- %s\n+ %s\n", n+1, line(a), line(b))
}

// lines splits s after each newline; a last line without one keeps no newline, so that the diff shows it.
func lines(s string) []string {
	ls := strings.SplitAfter(s, "\n")
	if ls[len(ls)-1] == "" {
		ls = ls[:len(ls)-1]
	}
	return ls
}

func writeLines(out *strings.Builder, prefix string, lines []string) {
	for _, l := range lines {
		out.WriteString(prefix)
		if l, ok := strings.CutSuffix(l, "\n"); ok {
			out.WriteString(l)
			out.WriteString("\n")
			continue
		}
		out.WriteString(l)
		out.WriteString(" (no newline at end)\n")
	}
}
